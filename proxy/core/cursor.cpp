#include "core/cursor.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

#include "core/json_text.hpp"

namespace cutover {
namespace {

// Digits only, no sign, no spaces; nullopt on empty or overflow.
std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

void set_error(cursor_error* why, std::string msg) {
  if (why) why->message = std::move(msg);
}

// The first bytes of what the client sent, for the message (UTF-8 kept whole).
std::string quote_head(std::string_view s) {
  return std::string(json_text::utf8_prefix(s, 64));
}

}  // namespace

std::optional<std::uint64_t> parse_legacy_id(std::string_view text) {
  return parse_digits(text);
}

std::string stream_id::str() const {
  // Two uint64 of at most 20 digits each and a dash always fit.
  char a[24], b[24];
  auto* ea = std::to_chars(a, a + sizeof a, ms).ptr;
  auto* eb = std::to_chars(b, b + sizeof b, seq).ptr;
  std::string out;
  out.reserve(static_cast<std::size_t>((ea - a) + (eb - b) + 1));
  out.append(a, ea).append(1, '-').append(b, eb);
  return out;
}

std::optional<stream_id> parse_stream_id(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto ms = parse_digits(text.substr(0, dash));
  auto seq = parse_digits(text.substr(dash + 1));
  if (!ms || !seq) return std::nullopt;
  return stream_id{*ms, *seq};
}

std::optional<cursor> parse_cursor(std::string_view text, cursor_error* why) {
  constexpr std::string_view expected =
      "expected a stream id like 1700000000000-0, a legacyId (a non-negative integer), or 0";
  if (text.empty()) {
    set_error(why, std::string("empty cursor: ") + std::string(expected));
    return std::nullopt;
  }
  if (text.find('-') != std::string_view::npos) {
    auto id = parse_stream_id(text);
    if (!id) {
      set_error(why, "malformed cursor '" + quote_head(text) + "': " + std::string(expected));
      return std::nullopt;
    }
    // No stored id has seq above kSeqTail, so clamping keeps "strictly after" exact.
    if (id->seq > stream_id::kSeqTail) id->seq = stream_id::kSeqTail;
    return cursor{*id, cursor_form::stream_id, 0};
  }
  auto legacy = parse_digits(text);
  if (!legacy) {
    set_error(why, "malformed cursor '" + quote_head(text) + "': " + std::string(expected));
    return std::nullopt;
  }
  return cursor{stream_id::from_legacy(*legacy), cursor_form::legacy_id, *legacy};
}

std::string iso8601_utc(std::uint64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned>(ms % 1000));
  return buf;
}

}  // namespace cutover
