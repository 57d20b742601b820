#include "net/http_util.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>

#include "core/json_text.hpp"

namespace cutover::net {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<query_params> parse_query(std::string_view query, std::size_t max_params) {
  query_params out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    if (out.size() >= max_params) return std::nullopt;
    auto eq = part.find('=');
    // Most parameters need no decoding: copy those as they are.
    auto decode = [](std::string_view v) -> std::optional<std::string> {
      if (v.find_first_of("%+") == std::string_view::npos) return std::string(v);
      return percent_decode(v, true);
    };
    auto name = decode(part.substr(0, eq));
    auto value = decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!name || !value || !json_text::valid_utf8(*name) || !json_text::valid_utf8(*value))
      return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

const std::string* find_param(const query_params& q, std::string_view name) {
  for (const auto& [k, v] : q)
    if (k == name) return &v;
  return nullptr;
}

std::optional<std::string_view> find_cookie(std::string_view h, std::string_view name) {
  while (!h.empty()) {
    auto semi = h.find(';');
    std::string_view part = h.substr(0, semi);
    h = semi == std::string_view::npos ? std::string_view() : h.substr(semi + 1);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    if (part.substr(0, eq) != name) continue;
    std::string_view v = part.substr(eq + 1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return std::nullopt;
}

std::string_view status_reason(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

std::string_view error_slug(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 417:
      return "expectation_failed";
    case 426:
      return "upgrade_required";
    case 431:
      return "headers_too_large";
    case 501:
      return "not_implemented";
    case 502:
      return "bad_gateway";
    case 503:
      return "unavailable";
    case 504:
      return "gateway_timeout";
    default:
      return "error";
  }
}

std::string json_error_body(int status, std::string_view message) {
  std::string out = "{\"error\":";
  json_text::append_quoted(out, error_slug(status));
  out += ",\"message\":";
  json_text::append_quoted(out, message);
  out += "}";
  return out;
}

std::string make_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, const std::vector<header>& extra) {
  std::string out;
  out.reserve(160 + body.size());
  out += "HTTP/1.1 ";
  char num[24];
  out.append(num, std::to_chars(num, num + sizeof num, status).ptr);
  out += ' ';
  out += status_reason(status);
  out += "\r\n";
  if (!content_type.empty()) {
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
  }
  // 204 and 304 never have a body, so they say nothing of its length (RFC 9110 §8.6).
  if (status != 204 && status != 304) {
    out += "Content-Length: ";
    out.append(num, std::to_chars(num, num + sizeof num, body.size()).ptr);
    out += "\r\n";
  }
  if (!keep_alive) out += "Connection: close\r\n";
  for (const auto& h : extra) {
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  out += "Cache-Control: no-store\r\n\r\n";
  out += body;
  return out;
}

char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

bool has_token(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view part = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (iequals(part, token)) return true;
  }
  return false;
}

bool is_forwarding_header(std::string_view name) noexcept {
  static constexpr std::string_view names[] = {"x-forwarded-for", "x-forwarded-host",
                                               "x-forwarded-proto", "forwarded", "x-real-ip"};
  return std::any_of(std::begin(names), std::end(names),
                     [&](std::string_view n) { return iequals(name, n); });
}

std::optional<framing_refusal> check_framing(std::span<const std::string_view> transfer_encodings,
                                             bool has_content_length, unsigned version) {
  if (transfer_encodings.empty()) return std::nullopt;
  auto bad = [](std::string m) { return framing_refusal{400, std::move(m)}; };
  if (has_content_length) return bad("both Transfer-Encoding and Content-Length (RFC 9112 §6.1)");
  if (version < 11) return bad("Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)");
  std::size_t chunked = 0, codings = 0;
  bool last_chunked = false, unknown = false;
  for (std::string_view value : transfer_encodings) {
    while (true) {
      auto comma = value.find(',');
      std::string_view tok = value.substr(0, comma);
      auto semi = tok.find(';');  // a coding's parameters
      bool has_params = semi != std::string_view::npos;
      tok = tok.substr(0, semi);
      while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
      if (!tok.empty()) {  // empty list elements are allowed (RFC 9110 §5.6.1)
        ++codings;
        last_chunked = iequals(tok, "chunked");
        if (last_chunked) {
          ++chunked;
          if (has_params) return bad("chunked takes no parameters");
        } else {
          unknown = true;
        }
      } else if (has_params) {
        return bad("malformed Transfer-Encoding");
      }
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  if (codings == 0) return bad("empty Transfer-Encoding");
  if (chunked > 1) return bad("chunked applied more than once (RFC 9112 §6.1)");
  if (!last_chunked) return bad("Transfer-Encoding must end with chunked (RFC 9112 §6.3)");
  if (unknown) return framing_refusal{501, "only the chunked transfer coding is supported"};
  return std::nullopt;
}

bool byte_budget::take(std::size_t n, std::size_t limit) noexcept {
  std::size_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (n > limit || cur > limit - n) return false;
  } while (!used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return true;
}

}  // namespace cutover::net
