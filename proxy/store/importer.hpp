#pragma once
// Writing the old app's history into a store (`cutover import`, DESIGN §4 "Cutover
// day"): entries with ids chosen from the old app's ids and the time it exported, each
// batch in one transaction. Idempotent: an entry already stored the same way is counted,
// not stored twice, so a run killed half-way is simply run again. Control plane: used by
// `cutover import` alone, while no `serve` uses the store.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/cursor.hpp"
#include "core/result.hpp"
#include "store/sqlite.hpp"

namespace cutover::store {

struct import_row {
  stream_id id;
  std::string topic;
  std::string type;
  std::string data;  // compact JSON
  std::uint64_t kept_ms = 0;
  std::size_t line = 0;  // where it came from, for refusals
};

struct import_outcome {
  std::size_t stored = 0;
  std::size_t already = 0;  // the same entry is there already (an earlier run)
  // Rows whose id is taken by a different entry: (line, why). Nothing of them is stored.
  std::vector<std::pair<std::size_t, std::string>> conflicts;
};

class importer {
 public:
  static result<importer> open(const std::string& path);

  // The oldest stored entry that was not imported (ingested from Redis), if any:
  // imported ids must stay below it.
  result<std::optional<stream_id>> oldest_ingested();
  // The id offset earlier imports used (meta `legacy_id_offset`), if any.
  result<std::optional<std::uint64_t>> recorded_offset();

  // Stores `rows` in one transaction, recording `offset` and the newest imported id.
  result<import_outcome> store(std::span<const import_row> rows, std::uint64_t offset);

 private:
  sql::db_handle db_;
  sql::statement insert_, find_, bump_topic_, get_meta_, put_meta_;
};

}  // namespace cutover::store
