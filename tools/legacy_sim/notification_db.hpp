#pragma once
// Read access to a Cutover store file, written the way the old app did it: its own
// read-only SQLite connection per poll request, plain SELECTs, no cache. One object is
// used by one worker thread at a time (the one holding the request).

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "legacy_cursor.hpp"

namespace cutover::legacy_sim {

struct stored_notification {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  std::string type;
  std::string data;  // compact JSON exactly as ingest stored it

  std::uint64_t legacy() const noexcept { return legacy_id(ms, seq); }
};

class notification_db {
 public:
  // Opens `path` read-only (never creating it). On failure returns nullopt with `error`.
  static std::optional<notification_db> open(const std::string& path, std::string& error);

  // Entries of `topics` strictly after `after`, oldest first, at most `limit`.
  // The statement is prepared once and reused, so the one-second re-check is cheap.
  std::optional<std::vector<stored_notification>> read_after(const std::vector<std::string>& topics,
                                                             position after, std::size_t limit,
                                                             std::string& error);

  // The newest entry's legacyId over every topic, 0 when the store is empty.
  std::optional<std::uint64_t> newest_legacy_id(std::string& error);

 private:
  struct db_closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
  };
  struct stmt_finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
  };
  using db_ptr = std::unique_ptr<sqlite3, db_closer>;
  using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

  explicit notification_db(db_ptr db) : db_(std::move(db)) {}
  bool prepare(stmt_ptr& out, const std::string& sql, std::string& error);

  db_ptr db_;  // declared first: statements are finalized before the connection closes
  stmt_ptr range_;
  std::size_t range_topics_ = 0;  // how many topic parameters range_ was prepared for
  stmt_ptr newest_;
};

}  // namespace cutover::legacy_sim
