#pragma once
// The legacy cursor as the old app understood it (DESIGN §2): `since` is a stream id
// `<ms>-<seq>` or a bare legacyId `ms*1024 + min(seq, 1023)`. Pure functions, no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cutover::legacy_sim {

// Entries with seq >= kTailSeq in one millisecond share the legacyId ms*1024+1023.
constexpr std::uint64_t kTailSeq = 1023;
// SQLite stores integers as signed 64-bit: the largest value a bound parameter can take,
// used as "after every seq of that millisecond".
constexpr std::uint64_t kSqlMax = (std::uint64_t{1} << 63) - 1;

inline std::uint64_t legacy_id(std::uint64_t ms, std::uint64_t seq) noexcept {
  return ms * 1024 + (seq < kTailSeq ? seq : kTailSeq);
}

// Where delivery starts (strictly after ms/seq), clamped to what SQLite can compare.
struct position {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
};

struct since_value {
  position after;
  std::uint64_t legacy = 0;  // what lastId echoes when nothing is delivered
};

// The position a legacyId names; a tail value means "after the whole millisecond".
since_value since_from_legacy(std::uint64_t legacy) noexcept;

// Parses a `since` query value. On failure returns nullopt and sets `error` to the exact
// text Cutover answers with, so parity tests can compare bodies byte for byte.
std::optional<since_value> parse_since(std::string_view text, std::string& error);

// ms since the epoch as ISO-8601 UTC with milliseconds, e.g. 2026-11-28T06:39:47.123Z.
std::string iso8601_utc(std::uint64_t ms);

}  // namespace cutover::legacy_sim
