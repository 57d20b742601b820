// Legacy query parsing: the query string of `GET /api/notifications/poll?...` (and of
// every route Cutover owns) through net::parse_query, then the built-in profile's
// legacy::read_cursor.
//
// Invariants:
// - parse_query refuses exactly what it promises to (a malformed escape, a decoded name or
//   value that is not UTF-8, more than 64 parameters), checked against a reference;
// - what it accepts round-trips: percent-encoding every pair again parses to the same list;
// - read_cursor (built-in profile) agrees with find_param and parse_cursor: absent -> no
//   cursor, present and valid -> that cursor, present and malformed -> an error naming the
//   parameter, which the profile's bad_cursor answer renders as valid JSON.

#include <optional>
#include <string>
#include <variant>

#include "core/json_text.hpp"
#include "fuzz_support.hpp"
#include "legacy_adapter/poll_answers.hpp"
#include "net/http_util.hpp"

namespace cutover::fuzz {
namespace {

constexpr std::size_t kMaxParams = 64;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes one name or value the way a form would; nullopt on a malformed escape.
std::optional<std::string> reference_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else {
      if (s.size() - i < 3 || hex_digit(s[i + 1]) < 0 || hex_digit(s[i + 2]) < 0)
        return std::nullopt;
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    }
  }
  return out;
}

// True when parse_query must refuse `q`.
bool reference_refuses(std::string_view q) {
  std::size_t params = 0;
  std::size_t start = 0;
  while (start <= q.size()) {
    auto amp = q.find('&', start);
    std::string_view part =
        q.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!part.empty()) {
      ++params;
      auto eq = part.find('=');
      auto name = reference_decode(part.substr(0, eq));
      auto value =
          reference_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
      if (!name || !value || !json_text::valid_utf8(*name) || !json_text::valid_utf8(*value))
        return true;
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return params > kMaxParams;
}

void encode(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

void check_poll_query(const net::query_params& q) {
  const auto& profile = legacy::builtin_profile();
  const std::string* since = net::find_param(q, "since");
  auto r =
      legacy::read_cursor(profile, since ? std::optional<std::string_view>(*since) : std::nullopt);
  if (!since) {
    FUZZ_CHECK(std::holds_alternative<legacy::poll_cursor>(r));
    FUZZ_CHECK(!std::get<legacy::poll_cursor>(r).since);
    return;
  }
  // find_param answers the first occurrence.
  for (const auto& [k, v] : q)
    if (k == "since") {
      FUZZ_CHECK(&v == since);
      break;
    }
  auto c = parse_cursor(*since);
  if (c) {
    FUZZ_CHECK(std::holds_alternative<legacy::poll_cursor>(r));
    const auto& got = std::get<legacy::poll_cursor>(r).since;
    FUZZ_CHECK(got && got->after == c->after && got->form == c->form && got->legacy == c->legacy);
  } else {
    FUZZ_CHECK(std::holds_alternative<std::string>(r));
    const auto& why = std::get<std::string>(r);
    FUZZ_CHECK(why.rfind("since: ", 0) == 0);
    // The 400 body quotes at most 64 bytes of what the client sent.
    FUZZ_CHECK(why.size() < 64 + 200);
    // The message goes into a JSON body: it must be quotable (valid UTF-8 is required by
    // append_quoted), since a client can put anything in `since`.
    auto answer = legacy::render_error_answer(profile.bad_cursor, why);
    FUZZ_CHECK(answer.status == 400);
    FUZZ_CHECK(answer.body == net::json_error_body(400, why));
    FUZZ_CHECK(json_text::validate_and_compact(answer.body).has_value());
  }
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  auto text = fuzz::as_text(data, size);
  auto q = net::parse_query(text);
  FUZZ_CHECK(q.has_value() == !fuzz::reference_refuses(text));
  if (!q) return 0;
  FUZZ_CHECK(q->size() <= fuzz::kMaxParams);
  std::string again;
  for (const auto& [k, v] : *q) {
    FUZZ_CHECK(json_text::valid_utf8(k) && json_text::valid_utf8(v));
    if (!again.empty()) again += '&';
    fuzz::encode(again, k);
    again += '=';
    fuzz::encode(again, v);
  }
  auto reparsed = net::parse_query(again);
  FUZZ_CHECK(reparsed && *reparsed == *q);
  fuzz::check_poll_query(*q);
  return 0;
}
