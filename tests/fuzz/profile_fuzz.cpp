// Legacy profiles: the profile reader (legacy_adapter/profile.*, profile_json.*) and the
// template renderer (json_template.*) on untrusted text.
//
// The first byte picks the mode: even, the rest is a whole profile file; odd, the rest is
// an item template spliced into a valid profile (so the fuzzer spends its time inside
// template syntax rather than on required fields).
//
// Invariants:
// - the reader never crashes; a refusal names a line within the text (0 only for an
//   unreadable file) and says something;
// - a profile it accepts renders: every item, for any valid notification, is one valid
//   JSON value; every list and error answer with valid items is valid JSON (or empty,
//   for 204/304), and header values never hold CR or LF;
// - read_cursor on any bytes either refuses with a message that renders into a valid
//   bad_cursor body, or gives a cursor whose echoed wire id renders back into headers.

#include <algorithm>
#include <string>

#include "core/json_text.hpp"
#include "fuzz_support.hpp"
#include "legacy_adapter/poll_answers.hpp"

namespace cutover::fuzz {
namespace {

constexpr std::string_view kSkeletonHead =
    R"({"profile":1,"request":{"path":"/p","cursor":{"name":"c","form":"string","prefix":"e_"}},)"
    R"("answers":{"data":{"status":200,"headers":{"X-C":"${cursor}"},"body":{"l":"$items","c":"$cursor"}},)"
    R"("timeout":{"status":204,"headers":{"X-C":"n=${cursor}"}},)"
    R"("reset":{"status":200,"body":["$items",true]},)"
    R"("bad_cursor":{"status":400,"body":{"m":"$message","t":"said ${message}"}}},"item":)";

void check_valid_json(std::string_view text, const char* what) {
  std::string why;
  if (!json_text::validate_and_compact(text, &why)) {
    std::fprintf(stderr, "%s is not JSON (%s): %.*s\n", what, why.c_str(),
                 static_cast<int>(text.size()), text.data());
    FUZZ_CHECK(false);
  }
}

void check_answer(const legacy::rendered_answer& a) {
  if (a.status == 204 || a.status == 304) {
    FUZZ_CHECK(a.body.empty());
  } else if (!a.body.empty()) {
    check_valid_json(a.body, "answer body");
  }
  for (const auto& h : a.headers) FUZZ_CHECK(h.value.find_first_of("\r\n") == std::string::npos);
}

void exercise(const legacy::profile& p, byte_reader& in) {
  // A notification made of fuzz bytes that ingest would accept.
  std::string type(in.short_string()), topic(in.short_string());
  if (!json_text::valid_utf8(type)) type = "t";
  if (!json_text::valid_utf8(topic) || topic.empty()) topic = "user:1";
  std::string payload(in.short_string());
  auto compact = json_text::validate_and_compact(payload);
  payload = compact ? *compact : R"({"a":1,"id":2})";
  std::uint64_t ms = in.u64() % (stream_id::kMaxMs + 1);
  std::uint64_t seq = in.u16() % 2048u;
  stream_id id{ms, seq};
  std::optional<std::uint64_t> kept;
  if (in.flag()) kept = in.u64() % (stream_id::kMaxMs + 1);
  notification n(id, topic, type, payload, kept);
  std::string item = legacy::render_item(p, n);
  check_valid_json(item, "item");

  std::vector<std::string_view> items = {item, item};
  std::uint64_t cursor = in.u64();
  for (const auto* a : {&p.data, &p.timeout_answer, &p.reset})
    check_answer(legacy::render_list_answer(*a, items, cursor));
  check_answer(legacy::render_list_answer(p.timeout_answer, {}, cursor));

  std::string raw(in.short_string());
  auto c = legacy::read_cursor(p, raw);
  if (auto* why = std::get_if<std::string>(&c)) {
    FUZZ_CHECK(!why->empty());
    FUZZ_CHECK(json_text::valid_utf8(*why));
    check_answer(legacy::render_error_answer(p.bad_cursor, *why));
  } else {
    const auto& got = std::get<legacy::poll_cursor>(c);
    FUZZ_CHECK(got.since.has_value());
    check_answer(legacy::render_list_answer(p.timeout_answer, {}, got.wire));
  }
  for (const auto* a : {&p.unauthorized, &p.unavailable})
    check_answer(legacy::render_error_answer(*a, "no \"credentials\"\n"));
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  fuzz::byte_reader in(data, size);
  bool splice = in.u8() & 1;
  std::string text(in.string16());
  if (splice) text = std::string(fuzz::kSkeletonHead) + text + "}";
  auto r = legacy::parse_profile(text, "fuzz.json");
  if (auto* e = std::get_if<legacy::profile_error>(&r)) {
    FUZZ_CHECK(!e->message.empty());
    int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    FUZZ_CHECK(e->line >= 1 && e->line <= lines);
    FUZZ_CHECK(e->text().rfind("fuzz.json:", 0) == 0);
    return 0;
  }
  fuzz::exercise(std::get<legacy::profile>(r), in);
  return 0;
}
