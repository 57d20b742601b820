#pragma once
// HTTP helpers with no I/O: query-string parsing, cookies, response serialisation and
// the JSON error shape every endpoint uses (DESIGN §4: `{"error":..,"message":..}`).

#include <atomic>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cutover::net {

using query_params = std::vector<std::pair<std::string, std::string>>;

// Splits and percent-decodes `a=1&b=%20x` ('+' is a space). nullopt on a malformed
// escape, more than `max_params` parameters, or a decoded value that is not UTF-8.
std::optional<query_params> parse_query(std::string_view query, std::size_t max_params = 64);

// First value of `name`, if present.
const std::string* find_param(const query_params& q, std::string_view name);

// Value of cookie `name` in a Cookie header, if present.
std::optional<std::string_view> find_cookie(std::string_view cookie_header, std::string_view name);

struct header {
  std::string_view name;
  std::string value;
};

// A complete HTTP/1.1 response: status line, Content-Type (unless empty), Content-Length
// (not for 204 and 304), Connection, `extra` headers, body. Built once into one buffer, so
// one write sends it.
std::string make_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, const std::vector<header>& extra = {});

// `{"error":"<slug>","message":"<text>"}` for `status`.
std::string json_error_body(int status, std::string_view message);
std::string_view status_reason(int status);
std::string_view error_slug(int status);

// ASCII-only case folding for protocol tokens and header names: bytes >= 0x80 are
// compared as they are (never passed to std::tolower, whose result depends on the locale
// and which is undefined for a negative char).
char ascii_lower(char c) noexcept;
std::string ascii_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b) noexcept;
// True when the comma-separated header value lists `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) noexcept;

// X-Forwarded-For/-Host/-Proto, Forwarded, X-Real-IP: what a proxy says about the client.
// Toward the upstream they are Cutover's own unless the peer is trusted (DESIGN §7).
bool is_forwarding_header(std::string_view name) noexcept;

// RFC 9112 §6 on a request header (DESIGN §8), given every Transfer-Encoding field value
// in order: with any Transfer-Encoding, `chunked` must be the final coding and appear
// once, there may be no Content-Length, and the request must be HTTP/1.1 — else 400;
// another coding before it (gzip...) is 501, since Cutover decodes none. Beast's parser
// alone reads `chunked, identity` or `xchunked` as "no body", so the body would be taken
// for the next request (request smuggling behind a lenient front proxy).
struct framing_refusal {
  int status;  // 400 or 501; the connection closes after the answer
  std::string message;
};
std::optional<framing_refusal> check_framing(std::span<const std::string_view> transfer_encodings,
                                             bool has_content_length, unsigned version);

// The memory every request body being read shares (DESIGN §8 "one memory budget"), across
// I/O threads. take() fails rather than go over `limit`.
class byte_budget {
 public:
  bool take(std::size_t n, std::size_t limit) noexcept;
  void give(std::size_t n) noexcept { used_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::size_t> used_{0};
};

// Percent-decodes; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

}  // namespace cutover::net
