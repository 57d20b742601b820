// Cursor parsing (DESIGN §2): parse_cursor and parse_stream_id on arbitrary text, with
// every `since` a client can send on any transport.
//
// Invariants:
// - accepted exactly when the text is `^\d+-\d+$` or `^\d+$` with each number in 64 bits
//   (checked against an independent reference), refused with the expectation otherwise;
// - an accepted cursor re-formats and re-parses to the same position;
// - a legacyId cursor names the position its number means: its legacyId is the number,
//   and "strictly after" agrees with "legacyId greater" for every storable id near it;
// - iso8601_utc never overflows its buffer, whatever the milliseconds.

#include <cstdint>
#include <optional>
#include <string>

#include "core/cursor.hpp"
#include "fuzz_support.hpp"

namespace cutover::fuzz {
namespace {

// At most 20 digits whose value fits 64 bits (parse_digits' rule: no longer spellings).
std::optional<std::uint64_t> reference_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;  // would not fit 64 bits
    v = v * 10 + d;
  }
  return v;
}

struct reference_cursor {
  bool stream_form = false;
  std::uint64_t a = 0, b = 0;
};

std::optional<reference_cursor> reference_parse(std::string_view s) {
  auto dash = s.find('-');
  if (dash == std::string_view::npos) {
    auto n = reference_number(s);
    if (!n) return std::nullopt;
    return reference_cursor{false, *n, 0};
  }
  auto ms = reference_number(s.substr(0, dash));
  auto seq = reference_number(s.substr(dash + 1));
  if (!ms || !seq) return std::nullopt;
  return reference_cursor{true, *ms, *seq};
}

// The delivery rule for one stored id: sent after `c` iff its legacyId is greater than
// the legacyId the client gave (the legacy client's view of the same position).
void check_legacy_order(const cursor& c, stream_id x) {
  if (!x.is_storable()) return;
  FUZZ_CHECK((c.after < x) == (x.legacy_id() > c.legacy));
}

void check_cursor(std::string_view text) {
  cursor_error why;
  auto c = parse_cursor(text, &why);
  auto ref = reference_parse(text);
  FUZZ_CHECK(c.has_value() == ref.has_value());
  if (!c) {
    FUZZ_CHECK(why.message.find("expected a stream id") != std::string::npos);
    FUZZ_CHECK(!parse_stream_id(text));
    return;
  }
  if (ref->stream_form) {
    FUZZ_CHECK(c->form == cursor_form::stream_id);
    FUZZ_CHECK(c->after.ms == ref->a);
    // Clamped to the tail: no stored seq is above it, so "strictly after" is unchanged.
    FUZZ_CHECK(c->after.seq == (ref->b > stream_id::kSeqTail ? stream_id::kSeqTail : ref->b));
    auto sid = parse_stream_id(text);
    FUZZ_CHECK(sid && sid->ms == ref->a && sid->seq == ref->b);
    // Re-format, re-parse: the same position.
    auto again = parse_cursor(c->after.str());
    FUZZ_CHECK(again && again->form == cursor_form::stream_id && again->after == c->after);
  } else {
    FUZZ_CHECK(c->form == cursor_form::legacy_id);
    FUZZ_CHECK(c->legacy == ref->a);
    FUZZ_CHECK(c->after.legacy_id() == c->legacy);
    FUZZ_CHECK(!parse_stream_id(text));
    auto again = parse_cursor(std::to_string(c->legacy));
    FUZZ_CHECK(again && again->form == cursor_form::legacy_id && again->after == c->after &&
               again->legacy == c->legacy);
    // Neighbours of the position: same millisecond around the tail, and the next one.
    const std::uint64_t ms = c->after.ms;
    for (std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1021},
                              std::uint64_t{1022}, std::uint64_t{1023}, std::uint64_t{1024},
                              std::uint64_t{1} << 40, stream_id::kSeqTail - 1}) {
      check_legacy_order(*c, {ms, seq});
      if (ms > 0) check_legacy_order(*c, {ms - 1, seq});
      check_legacy_order(*c, {ms + 1, seq});
    }
    if (c->after.seq < stream_id::kSeqTail) {
      check_legacy_order(*c, c->after);
      check_legacy_order(*c, c->after.next());
    }
  }
  FUZZ_CHECK(c->from_oldest() == (c->after.is_zero()));
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  auto text = fuzz::as_text(data, size);
  fuzz::check_cursor(text);

  // The same bytes as milliseconds for the createdAt rendering: any value, no overflow.
  fuzz::byte_reader in(data, size);
  std::uint64_t ms = in.u64();
  std::string iso = iso8601_utc(ms);
  FUZZ_CHECK(iso.size() >= 24 && iso.back() == 'Z');
  if (ms <= stream_id::kMaxMs) FUZZ_CHECK(iso.size() == 24);
  return 0;
}
