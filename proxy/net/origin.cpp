#include "net/origin.hpp"

#include <charconv>

#include "net/http_util.hpp"

namespace cutover::net {
namespace {

unsigned default_port(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

// Splits "host[:port]" (or "[v6]:port"); false on a malformed port or an empty host.
bool split_authority(std::string_view a, std::string& host, std::optional<unsigned>& port) {
  std::string_view h = a;
  std::string_view p;
  if (!a.empty() && a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos) return false;
    h = a.substr(0, close + 1);
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      p = rest.substr(1);
      if (p.empty()) return false;
    }
  } else {
    auto colon = a.rfind(':');
    if (colon != std::string_view::npos) {
      h = a.substr(0, colon);
      p = a.substr(colon + 1);
      if (p.empty()) return false;
    }
  }
  if (h.empty()) return false;
  for (char c : h) {
    auto u = static_cast<unsigned char>(c);
    // Host characters a browser can send: letters, digits, '-', '.', IPv6 brackets/colons.
    bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
              c == '-' || c == '.' || c == '[' || c == ']' || c == ':' || c == '_';
    if (!ok) return false;
  }
  host = ascii_lower(h);
  if (!p.empty()) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || end != p.data() + p.size() || v == 0 || v > 65535) return false;
    port = v;
  }
  return true;
}

}  // namespace

std::string web_origin::str() const {
  std::string out = scheme + "://" + host;
  if (port != default_port(scheme)) {
    out += ':';  // not `":" + to_string`: g++ 12 -O2 warns on it (-Wrestrict, a false positive)
    out += std::to_string(port);
  }
  return out;
}

std::optional<web_origin> parse_origin(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string scheme = ascii_lower(text.substr(0, sep));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view authority = text.substr(sep + 3);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);  // flag typing
  if (authority.find_first_of("/?#@") != std::string_view::npos) return std::nullopt;
  web_origin o;
  o.scheme = std::move(scheme);
  std::optional<unsigned> port;
  if (!split_authority(authority, o.host, port)) return std::nullopt;
  o.port = port.value_or(default_port(o.scheme));
  return o;
}

origin_verdict origin_policy::check(std::optional<std::string_view> origin, std::string_view host,
                                    std::optional<std::string_view> forwarded_proto) const {
  if (!origin) return origin_verdict::none;
  auto o = parse_origin(*origin);
  if (!o) return origin_verdict::refused;  // "null" (sandboxed pages, file://) and garbage
  std::string h;
  std::optional<unsigned> hp;
  if (split_authority(host, h, hp)) {
    // Without a trusted X-Forwarded-Proto the scheme this request arrived with is unknown
    // (a TLS terminator may sit in front): compare host and port, a missing port meaning
    // the Origin's scheme default. With it, the scheme is compared and gives the default.
    std::optional<std::string> scheme;
    if (forwarded_proto) scheme = ascii_lower(*forwarded_proto);
    unsigned port = hp.value_or(default_port(scheme ? *scheme : o->scheme));
    if (h == o->host && port == o->port && (!scheme || *scheme == o->scheme))
      return origin_verdict::same_origin;
  }
  for (const auto& a : allowed_)
    if (a == *o) return origin_verdict::allowed;
  return origin_verdict::refused;
}

}  // namespace cutover::net
