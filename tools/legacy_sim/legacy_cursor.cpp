#include "legacy_cursor.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace cutover::legacy_sim {
namespace {

constexpr std::string_view kExpected =
    "expected a stream id like 1700000000000-0, a legacyId (a non-negative integer), or 0";

// ASCII digits only (no sign, no spaces, no hex), nullopt on overflow.
std::optional<std::uint64_t> digits_only(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string malformed(std::string_view text) {
  return "since: malformed cursor '" + std::string(text.substr(0, 64)) +
         "': " + std::string(kExpected);
}

}  // namespace

since_value since_from_legacy(std::uint64_t legacy) noexcept {
  std::uint64_t rest = legacy % 1024;
  return {{legacy / 1024, rest == kTailSeq ? kSqlMax : rest}, legacy};
}

std::optional<since_value> parse_since(std::string_view text, std::string& error) {
  if (text.empty()) {
    // Cutover words an empty value differently from a malformed one; parity needs the same.
    error = "since: empty cursor: " + std::string(kExpected);
    return std::nullopt;
  }
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto legacy = digits_only(text);
    if (!legacy) {
      error = malformed(text);
      return std::nullopt;
    }
    return since_from_legacy(*legacy);
  }
  auto ms = digits_only(text.substr(0, dash));
  auto seq = digits_only(text.substr(dash + 1));
  if (!ms || !seq) {
    error = malformed(text);
    return std::nullopt;
  }
  // lastId echoes the legacyId of the position as written; the SQL bound is clamped.
  since_value out{{std::min(*ms, kSqlMax), std::min(*seq, kSqlMax)}, legacy_id(*ms, *seq)};
  if (*ms > kSqlMax) out.after.seq = kSqlMax;
  return out;
}

std::string iso8601_utc(std::uint64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned>(ms % 1000));
  return buf;
}

}  // namespace cutover::legacy_sim
