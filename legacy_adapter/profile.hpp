#pragma once
// A legacy profile (DESIGN §4 "Another app's legacy endpoint", docs/legacy-profiles.md):
// what one old app's poll endpoint looks like on the wire — path and method, cursor,
// every answer, the shape of an item — plus what `--auth upstream` and `cutover import`
// need to know about that app. Cutover's own format is one profile
// (docs/profiles/builtin.json), built into the binary as the default.
//
// Read once at start (control plane): a profile that is not exactly right is refused with
// its file, line and field. Pure; the only I/O is load_profile_file's read.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "legacy_adapter/json_template.hpp"

namespace cutover::legacy {

enum class cursor_place { query, header };
enum class missing_cursor { newest, oldest, refuse };
enum class time_format { iso8601, epoch_ms, epoch_s };

struct cursor_spec {
  std::string name = "since";
  cursor_place place = cursor_place::query;
  id_style style;           // integer, or string with a prefix
  bool stream_ids = false;  // also accept Cutover stream ids `<ms>-<seq>` (the built-in does)
  missing_cursor missing = missing_cursor::newest;
};

struct header_template {
  std::string name;
  json_template value;
};

// One kind of answer: status, headers, and a body (none for 204 and 304).
struct answer_spec {
  int status = 200;
  std::vector<header_template> headers;
  std::optional<json_template> body;
  std::string content_type;  // of the body; the profile's content_type unless given
};

struct identity_spec {
  std::vector<std::string> user_field{"userId"};  // path to the user id in who-am-I's JSON
  std::string session_cookie;                     // empty: any cookie may carry the session
  std::string path;  // who-am-I path on --upstream when --auth-url is not given; may be empty
};

struct import_spec {
  time_format time = time_format::iso8601;  // how the export writes `time`
};

struct profile {
  std::string source;  // file name, or "builtin"
  std::string name;
  std::string method = "GET";
  std::string path = "/api/notifications/poll";
  cursor_spec cursor;
  std::size_t batch = 100;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::uint64_t id_offset = 0;  // added to every legacy id on the way out (DESIGN §4)
  std::string content_type = "application/json";
  json_template item;
  answer_spec data, timeout_answer, reset, bad_cursor, unauthorized, unavailable;
  identity_spec identity;
  import_spec import;
};

struct profile_error {
  std::string file;
  int line = 0;       // 0: not about one line (e.g. the file cannot be read)
  std::string field;  // e.g. answers.timeout.status; empty for a syntax error
  std::string message;
  std::string text() const;  // "FILE:LINE: FIELD: MESSAGE"
};

// Parses profile text; `file` is only used in errors.
std::variant<profile, profile_error> parse_profile(std::string_view text, const std::string& file);
std::variant<profile, profile_error> load_profile_file(const std::string& path);

// docs/profiles/builtin.json, embedded at build time.
std::string_view builtin_profile_text();
const profile& builtin_profile();

// Legacy ids on the wire and positions in the store differ by the profile's id_offset.
// 0 stays 0 ("from the oldest"); a wire id at or below the offset is before everything.
std::uint64_t to_wire(const profile& p, std::uint64_t stored_legacy_id) noexcept;
std::uint64_t from_wire(const profile& p, std::uint64_t wire_id) noexcept;

// Largest id_offset: legacy ids must stay exact in a JavaScript number.
inline constexpr std::uint64_t kMaxIdOffset = (std::uint64_t{1} << 53) - 1;

}  // namespace cutover::legacy
