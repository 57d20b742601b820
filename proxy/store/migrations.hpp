#pragma once
// Schema migrations (migrations/NNNN_name.sql), embedded at build time.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace cutover::store {

struct migration {
  int version;
  const char* name;
  const char* sql;
};

// All migrations shipped in this binary, in version order (generated source).
const std::vector<migration>& embedded_migrations();

// 'Cuto' — marks the file as a Cutover store.
inline constexpr std::int64_t kApplicationId = 0x4375746F;

struct migrate_report {
  int from_version = 0;
  int to_version = 0;
};

// Brings `db` to the newest version in `steps` (one BEGIN IMMEDIATE transaction per
// step, PRAGMA user_version set inside it). A database newer than `steps` knows, or
// one that belongs to another application, is refused before anything is written.
result<migrate_report> migrate(sqlite3* db, const std::vector<migration>& steps);

// Refuses a database that is newer than this binary or not a Cutover store, without
// writing; returns its version.
result<int> check_version(sqlite3* db, const std::vector<migration>& steps);

int latest_version(const std::vector<migration>& steps);

}  // namespace cutover::store
