// Redis entry decoding: what ingest and POST /v1/publish accept from publishers.
// Modes (first byte): a stream entry's field list (decode_stream_fields, and the raw
// rendering a dead letter keeps), a pub/sub message (decode_pubsub_message), an HTTP
// publish body (decode_publish_body), and the JSON text helpers they stand on.
//
// Invariants:
// - a decoded entry is what the store may keep: a valid topic, a bounded UTF-8 type and
//   key without control characters, and data that is valid JSON, already compact
//   (validate_and_compact is idempotent on it) and within --max-payload;
// - a refusal has a reason that is valid UTF-8 (it lands in dead_letters, log lines and
//   the 400 body of POST /v1/publish), and raw_fields_json is valid JSON for any fields;
// - validate_and_compact accepts exactly what Boost.JSON's parser accepts (same depth
//   limit), keeps the value (compared as DOMs; doubles within 2 ulp, see same_value) and
//   only removes whitespace; its output
//   splits into object members that join back into the same text;
// - valid_utf8 agrees with an independent reading of RFC 3629's well-formed sequences.

#include <bit>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/entry.hpp"
#include "core/json_text.hpp"
#include "fuzz_support.hpp"

namespace cutover::fuzz {
namespace {

// RFC 3629 §4 (Table 3-7 of Unicode): the well-formed byte sequences, range by range.
bool reference_utf8(std::string_view s) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned c = b(i);
    auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
      return i + k < s.size() && b(i + k) >= lo && b(i + k) <= hi;
    };
    if (c <= 0x7F) {
      i += 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!in(1, 0x80, 0xBF)) return false;
      i += 2;
    } else if (c == 0xE0 || c == 0xED || (c >= 0xE1 && c <= 0xEF)) {
      unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      if (!in(1, lo, hi) || !in(2, 0x80, 0xBF)) return false;
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      if (!in(1, lo, hi) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return true;
  return false;
}

bool clean_text(std::string_view s, std::size_t max) {
  return s.size() <= max && json_text::valid_utf8(s) && !has_control(s);
}

std::optional<boost::json::value> dom(std::string_view text) {
  boost::json::parse_options opt;
  opt.max_depth = json_text::limits{}.max_depth;
  boost::json::error_code ec;
  auto v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec, {}, opt);
  if (ec) return std::nullopt;
  return v;
}

// Two DOMs mean the same value. Doubles may differ by up to 2 ulp: Boost.JSON 1.81 parses
// numbers without guaranteed rounding, and the same digits can come out one ulp apart
// depending on where they sit in the buffer ("\t\t33.3300000000003627" vs
// "33.3300000000003627": ...368 vs ...361). Cutover keeps a number's text as written, so
// only the reference is inexact; everything else must match exactly.
bool same_double(double a, double b) {
  if (a == b || (std::isnan(a) && std::isnan(b))) return true;
  if (std::isnan(a) || std::isnan(b) || std::signbit(a) != std::signbit(b)) return false;
  auto ua = std::bit_cast<std::uint64_t>(a), ub = std::bit_cast<std::uint64_t>(b);
  return (ua > ub ? ua - ub : ub - ua) <= 2;
}

bool same_value(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) return same_double(a.get_double(), b.get_double());
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same_value(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    // In order: the compact text keeps the members' order (and repeats) as written.
    auto i = x.begin(), j = y.begin();
    for (; i != x.end(); ++i, ++j)
      if (i->key() != j->key() || !same_value(i->value(), j->value())) return false;
    return true;
  }
  return a == b;
}

// The compact text is a fixed point: valid, and compacting it again changes nothing.
void check_compact_json(std::string_view compact) {
  auto again = json_text::validate_and_compact(compact);
  FUZZ_CHECK(again && *again == compact);
}

void check_decoded(const decode_result& r, const entry_limits& lim) {
  if (!r.entry) {
    FUZZ_CHECK(!r.reason.empty());
    FUZZ_CHECK(json_text::valid_utf8(r.reason));
    return;
  }
  FUZZ_CHECK(r.reason.empty());
  const auto& e = *r.entry;
  FUZZ_CHECK(!topic_problem(e.topic, lim));
  FUZZ_CHECK(!e.topic.empty() && clean_text(e.topic, lim.max_topic));
  FUZZ_CHECK(clean_text(e.type, lim.max_type));
  if (e.key) FUZZ_CHECK(!e.key->empty() && clean_text(*e.key, lim.max_key));
  FUZZ_CHECK(e.data.size() <= lim.max_payload);
  check_compact_json(e.data);
}

entry_limits read_limits(byte_reader& in) {
  entry_limits lim;
  if (in.flag()) {  // small limits, so every "too long" branch is reachable
    lim.max_payload = in.u8();
    lim.max_topic = in.u8() % 32;
    lim.max_type = in.u8() % 32;
    lim.max_key = in.u8() % 32;
  }
  return lim;
}

void stream_fields(byte_reader& in) {
  auto lim = read_limits(in);
  field_list fields;
  std::size_t n = in.u8() % 8;
  static constexpr std::string_view known[] = {"topic", "data", "type", "key", "replayOf"};
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t sel = in.u8();
    std::string name(sel % 8 < 5 ? known[sel % 8] : in.short_string());
    std::string value((sel & 0x80) ? in.string16() : in.short_string());
    fields.emplace_back(std::move(name), std::move(value));
  }
  auto r = decode_stream_fields(fields, lim);
  check_decoded(r, lim);
  // What a dead letter keeps of the entry: JSON whatever the bytes were.
  std::size_t max_bytes = in.flag() ? in.u8() : 4096;
  auto raw = raw_fields_json(fields, max_bytes);
  check_compact_json(raw);
  FUZZ_CHECK(raw.front() == '{');
}

void pubsub(byte_reader& in) {
  auto lim = read_limits(in);
  std::string topic(in.short_string());
  std::string message(in.rest());
  auto r = decode_pubsub_message(topic, message, lim);
  check_decoded(r, lim);
  if (!r.entry) return;
  FUZZ_CHECK(r.entry->topic == topic);
  // The data is the message itself or, for an envelope, a span of it (spelling kept).
  auto compact = json_text::validate_and_compact(message);
  FUZZ_CHECK(compact && compact->find(r.entry->data) != std::string::npos);
  if (!r.entry->type.empty()) FUZZ_CHECK(compact->front() == '{');
}

void publish_body(byte_reader& in) {
  auto lim = read_limits(in);
  std::string body(in.rest());
  auto r = decode_publish_body(body, lim);
  check_decoded(r, lim);
  if (!r.entry) return;
  auto compact = json_text::validate_and_compact(body);
  FUZZ_CHECK(compact && compact->front() == '{' &&
             compact->find(r.entry->data) != std::string::npos);
  auto v = dom(*compact);
  FUZZ_CHECK(v && v->is_object());
  const auto* topic = v->as_object().if_contains("topic");
  FUZZ_CHECK(topic && topic->is_string());
}

void json_helpers(byte_reader& in) {
  std::string text(in.rest());
  FUZZ_CHECK(json_text::valid_utf8(text) == reference_utf8(text));
  // Quoting any valid UTF-8 gives a JSON string that means the same text.
  if (json_text::valid_utf8(text)) {
    auto q = json_text::quoted(text);
    auto back = dom(q);
    FUZZ_CHECK(back && back->is_string() && std::string_view(back->as_string()) == text);
  }
  std::string why;
  auto compact = json_text::validate_and_compact(text, &why);
  auto expected = dom(text);
  FUZZ_CHECK(compact.has_value() == expected.has_value());
  if (!compact) {
    FUZZ_CHECK(!why.empty());
    return;
  }
  FUZZ_CHECK(compact->size() <= text.size());
  check_compact_json(*compact);
  auto got = dom(*compact);
  FUZZ_CHECK(got && same_value(*got, *expected));
  // Whitespace outside strings is all that went away.
  std::size_t ws = 0;
  for (char c : text)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') ++ws;
  FUZZ_CHECK(text.size() - compact->size() <= ws);

  auto members = json_text::object_members(*compact);
  FUZZ_CHECK(members.has_value() == expected->is_object());
  if (members) {
    std::string joined = "{";
    for (std::size_t i = 0; i < members->size(); ++i) {
      const auto& [k, v] = (*members)[i];
      if (i) joined += ',';
      joined.append(k);
      joined += ':';
      joined.append(v);
      auto key = dom(k);
      FUZZ_CHECK(key && key->is_string());
      FUZZ_CHECK(dom(v).has_value());
    }
    joined += '}';
    FUZZ_CHECK(joined == *compact);
    FUZZ_CHECK(members->size() >= expected->as_object().size());  // duplicates stay visible
  }
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  fuzz::byte_reader in(data, size);
  switch (in.u8() % 4) {
    case 0:
      fuzz::stream_fields(in);
      break;
    case 1:
      fuzz::pubsub(in);
      break;
    case 2:
      fuzz::publish_body(in);
      break;
    default:
      fuzz::json_helpers(in);
      break;
  }
  return 0;
}
