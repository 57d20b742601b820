#pragma once
// The old app's exported history, as `cutover import` reads it (DESIGN §4 "Cutover
// day"): one row per notification with `id` (the old app's legacy id), `user` or
// `topic`, `type`, `time` and `payload`, as NDJSON lines or CSV records; and where each
// old id goes in the store. Pure functions; the command does the reading and writing.

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/cursor.hpp"
#include "core/entry.hpp"
#include "legacy_adapter/profile.hpp"

namespace cutover::legacy {

struct export_row {
  std::uint64_t legacy_id = 0;  // as the old app wrote it
  std::string topic;            // `topic`, else user:<user>
  std::string type;
  std::string data;  // compact JSON, checked as ingest checks an entry
  std::uint64_t time_ms = 0;
};

using row_result = std::variant<export_row, std::string>;  // the row, or why it is refused

// One NDJSON line: a JSON object with the fields above (others are ignored).
row_result parse_ndjson_row(std::string_view line, const profile& p, const entry_limits& lim);

// CSV: the first record names the columns (any order; others ignored).
struct csv_columns {
  int id = -1, user = -1, topic = -1, type = -1, time = -1, payload = -1;
};
std::variant<csv_columns, std::string> csv_header(const std::vector<std::string>& names);
row_result parse_csv_row(const std::vector<std::string>& fields, const csv_columns& cols,
                         const profile& p, const entry_limits& lim);

// RFC 4180 records from `in`: fields split by commas, "quoted" fields may hold commas,
// quotes ("") and line breaks. next() gives the line a record starts on.
class csv_reader {
 public:
  explicit csv_reader(std::istream& in) : in_(in) {}
  enum class outcome { record, end, broken };
  // `error` says why when broken (an unterminated quote, a stray quote, an oversize record).
  outcome next(std::vector<std::string>& fields, std::size_t& line, std::string& error);

 private:
  std::istream& in_;
  std::size_t line_ = 0;
};

// `time` as the profile's import.time says it is written: ISO-8601 (`T` or a space between
// date and time; `Z`, an offset, or nothing for UTC; fractions to the millisecond), or a
// number of milliseconds or (possibly fractional) seconds since 1970.
std::optional<std::uint64_t> parse_export_time(std::string_view text, time_format f);

// Where old id L is stored: stream id <(L - offset) div 1024>-<(L - offset) mod 1024>, so
// its legacyId on the wire (plus the offset) is L again.
stream_id stored_id(std::uint64_t legacy_id, std::uint64_t offset) noexcept;

// New ids from Redis are at or after this: 2000-01-01T00:00:00Z. An id older than that
// comes only from a clock that is badly wrong, or from an import.
inline constexpr stream_id kNewIdsFloor{946'684'800'000, 0};

struct offset_verdict {
  bool ok = false;
  std::string why;                       // when !ok: one line
  std::optional<std::uint64_t> suggest;  // an id_offset that would fit, if one does
};

// Whether old ids from `min_id` to `max_id` (with the profile's `offset`) are stored
// above 0 and below `new_ids_start` (the store's oldest ingested entry, or kNewIdsFloor).
offset_verdict check_offset(std::uint64_t min_id, std::uint64_t max_id, std::uint64_t offset,
                            stream_id new_ids_start);

}  // namespace cutover::legacy
