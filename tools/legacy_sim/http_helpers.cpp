#include "http_helpers.hpp"

#include <boost/json.hpp>

namespace cutover::legacy_sim {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: `+` is a space, `%XX` a byte.
std::string form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string json_quote(std::string_view text) {
  return boost::json::serialize(boost::json::string_view(text.data(), text.size()));
}

void send_json(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(std::move(body), "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view detail) {
  // Written by hand so the key order is the old app's, always.
  send_json(res, status,
            "{\"ok\":false,\"error\":{\"code\":" + json_quote(code) +
                ",\"detail\":" + json_quote(detail) + "}}");
}

std::optional<std::string> session_id(const httplib::Request& req) {
  std::size_t n = req.get_header_value_count("Cookie");
  for (std::size_t i = 0; i < n; ++i)
    if (auto v = cookie_value(req.get_header_value("Cookie", i), kSessionCookie)) return v;
  return std::nullopt;
}

std::optional<std::string> session_user(const httplib::Request& req,
                                        const session_table& sessions) {
  auto sid = session_id(req);
  if (!sid || sid->empty()) return std::nullopt;
  return sessions.find(*sid);
}

std::optional<std::string> form_param(const httplib::Request& req, std::string_view name) {
  std::string key(name);
  if (req.has_param(key)) return req.get_param_value(key);
  // httplib fills params from a urlencoded body itself; read the body too in case a
  // build does not, so /login works with both `curl -d` and a query string.
  if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) != 0)
    return std::nullopt;
  std::string_view body = req.body;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    auto eq = pair.find('=');
    if (form_decode(pair.substr(0, eq)) != name) continue;
    return eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

}  // namespace cutover::legacy_sim
