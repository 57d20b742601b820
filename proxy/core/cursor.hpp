#pragma once
// The one cursor shared by every transport (DESIGN §2): a Redis stream id
// `<ms>-<seq>`, or the same position as a legacyId `ms*1024 + min(seq, 1023)`.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cutover {

// A stream entry id. Stored ids satisfy is_storable(); cursors may also hold
// the "end of millisecond" position (seq == kSeqTail) that a tail legacyId means.
struct stream_id {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;

  // Largest ms whose legacyId (ms*1024+1023) is still exact in a JavaScript number.
  static constexpr std::uint64_t kMaxMs = (std::uint64_t{1} << 43) - 1;
  // Largest seq SQLite can store and compare as a signed 64-bit integer; a cursor
  // seq above it means "after every entry of that millisecond".
  static constexpr std::uint64_t kSeqTail = (std::uint64_t{1} << 63) - 1;
  static constexpr std::uint64_t kLegacyTail = 1023;
  // Largest ms the store keeps: its legacyId still fits 64 bits (exact in JavaScript only up
  // to kMaxMs, year 2248; DESIGN §2 stores and delivers later ids anyway, counted).
  static constexpr std::uint64_t kMaxStoredMs = (UINT64_MAX - kLegacyTail) / 1024;

  friend constexpr auto operator<=>(const stream_id&, const stream_id&) = default;

  bool is_zero() const noexcept { return ms == 0 && seq == 0; }
  // True for ids a notification may carry (legacyId exact, seq fits SQLite).
  bool is_storable() const noexcept { return ms <= kMaxMs && seq < kSeqTail; }
  // True for ids ingest stores: is_storable() or past 2248 (legacyId no longer exact).
  bool fits_store() const noexcept { return ms <= kMaxStoredMs && seq < kSeqTail; }

  // Saturates at the largest uint64 for cursors far beyond any storable id (no wrap).
  std::uint64_t legacy_id() const noexcept {
    if (ms > (UINT64_MAX - kLegacyTail) / 1024) return UINT64_MAX;
    return ms * 1024 + (seq < kLegacyTail ? seq : kLegacyTail);
  }
  // The position a legacyId names: after (ms, seq), or after the whole
  // millisecond when it is the tail value.
  static stream_id from_legacy(std::uint64_t legacy) noexcept {
    std::uint64_t s = legacy % 1024;
    return {legacy / 1024, s == kLegacyTail ? kSeqTail : s};
  }
  // Smallest id strictly greater than this one.
  stream_id next() const noexcept {
    return seq >= kSeqTail ? stream_id{ms + 1, 0} : stream_id{ms, seq + 1};
  }

  std::string str() const;  // "<ms>-<seq>"
};

// How a cursor was written, so a reply can echo it in the same form.
enum class cursor_form { stream_id, legacy_id };

struct cursor {
  stream_id after;  // delivery starts strictly after this position
  cursor_form form = cursor_form::stream_id;
  std::uint64_t legacy = 0;  // the legacyId as given (form == legacy_id)

  bool from_oldest() const noexcept { return after.is_zero(); }
};

struct cursor_error {
  std::string message;
};

// Parses a `since` value: `^\d+-\d+$` is a stream id, a bare integer a legacyId,
// `0` the oldest retained entry. Anything else (empty, signs, spaces, overflow)
// is refused with a message that says what was expected.
std::optional<cursor> parse_cursor(std::string_view text, cursor_error* why = nullptr);

// Parses a bare legacyId: decimal digits only (no sign, no spaces), at most UINT64_MAX.
std::optional<std::uint64_t> parse_legacy_id(std::string_view text);

// Parses exactly `<ms>-<seq>` (no legacy form), e.g. a Redis reply.
std::optional<stream_id> parse_stream_id(std::string_view text);

// Formats ms since the epoch as ISO-8601 UTC with milliseconds: 2026-11-28T06:39:47.123Z
std::string iso8601_utc(std::uint64_t ms);

}  // namespace cutover
