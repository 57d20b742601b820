// Config parsing: what operators (flags, CUTOVER_* environment, config files) hand to
// `cutover serve` — durations, the Redis URL, the upstream URL, trusted-peer CIDRs and the
// auth mode. Modes (first byte) pick the parser; the rest of the input is the text.
//
// Not covered: the --listen HOST:PORT splitter is file-local in proxy/app/cmd_serve.cpp
// (anonymous namespace), so no target can reach it without changing the app.
//
// Invariants:
// - durations: accepted exactly for `^\d{1,12}(ms|s|m|h|d)?$` of at most 100 years
//   (365-day years), never negative, and
//   format_duration's text parses back to the same value;
// - Redis URL: refusals start with "invalid Redis URL: " and never repeat a password; an
//   accepted endpoint is usable (host, port 1-65535 or an absolute socket path) and its
//   display() form, which has no password, parses back to the same endpoint;
// - upstream URL: host present, port 1-65535, path absolute, base path a prefix of it
//   without a trailing slash;
// - CIDR: only address characters accepted, the prefix in range, the network contains
//   itself, and its printed form parses back to the same network.

#include <arpa/inet.h>

#include <cctype>
#include <string>

#include "core/duration.hpp"
#include "fuzz_support.hpp"
#include "ingest/redis_connection.hpp"
#include "net/auth.hpp"
#include "net/upstream.hpp"

namespace cutover::fuzz {
namespace {

// `^\d{1,12}(ms|s|m|h|d)?$` of at most 100 years (duration.hpp's cap).
bool reference_duration(std::string_view s) {
  std::size_t i = 0;
  std::uint64_t n = 0;  // at most 12 digits: no overflow here
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 13)
    n = n * 10 + static_cast<std::uint64_t>(s[i++] - '0');
  if (i == 0 || i > 12 || (i < s.size() && s[i] >= '0' && s[i] <= '9')) return false;
  auto unit = s.substr(i);
  std::uint64_t mult = unit.empty() || unit == "s" ? 1000
                       : unit == "ms"              ? 1
                       : unit == "m"               ? 60'000
                       : unit == "h"               ? 3'600'000
                       : unit == "d"               ? 86'400'000
                                                   : 0;
  constexpr std::uint64_t kHundredYearsMs = 100ULL * 365 * 86'400'000;
  return mult != 0 && n <= kHundredYearsMs / mult;
}

void duration(std::string_view text) {
  auto d = parse_duration(text);
  FUZZ_CHECK(d.has_value() == reference_duration(text));
  if (!d) return;
  FUZZ_CHECK(d->count() >= 0);
  auto back = parse_duration(format_duration(*d));
  FUZZ_CHECK(back && *back == *d);
}

// Where a password is: in the userinfo (after "://", up to the last '@', or for unix://
// up to the first "@/"), after its first ':' or, without one, all of it (redis-cli's rule).
bool marker_in_password(std::string_view text, std::string_view marker) {
  auto first = text.find(marker), last = text.rfind(marker);
  if (first == std::string_view::npos) return false;
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return false;
  // Not a scheme before "://" (say "user:pw@host://"): what precedes an '@' there may be
  // a password written in the wrong place.
  auto head = text.substr(0, sep);
  if (head.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") !=
      std::string_view::npos) {
    auto at = head.rfind('@');
    if (at != std::string_view::npos && last + marker.size() <= at) return true;
  }
  std::string scheme(head);
  for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::size_t from = sep + 3;
  if (scheme == "unix" && from < text.size() && text[from] == '/')
    return false;  // unix:///path: no userinfo
  std::size_t to = scheme == "unix" ? text.find("@/", from) : text.rfind('@');
  if (to == std::string_view::npos || to < from) return false;
  auto colon = text.find(':', from);
  if (colon != std::string_view::npos && colon < to) from = colon + 1;
  // Every occurrence inside it: the same letters elsewhere (a host, a path) may be shown.
  return first >= from && last + marker.size() <= to;
}

void redis_url(std::string_view text) {
  constexpr std::string_view marker = "Pw0Secret";
  auto ep = ingest::parse_redis_url(text);
  bool secret_in_userinfo = marker_in_password(text, marker);
  if (!ep) {
    FUZZ_CHECK(ep.err().code == ingest::errc::bad_url);
    FUZZ_CHECK(ep.err().message.rfind("invalid Redis URL: ", 0) == 0);
    if (secret_in_userinfo) FUZZ_CHECK(ep.err().message.find(marker) == std::string::npos);
    return;
  }
  std::string shown = ep->display();
  if (secret_in_userinfo) FUZZ_CHECK(shown.find(marker) == std::string::npos);
  if (!ep->user.empty()) FUZZ_CHECK(!ep->password.empty());
  FUZZ_CHECK(ep->db >= 0);
  if (ep->kind == ingest::redis_endpoint::transport::unix_socket) {
    FUZZ_CHECK(ep->path.size() >= 2 && ep->path.front() == '/');
    return;
  }
  FUZZ_CHECK(!ep->host.empty() && ep->port != 0);
  for (char c : ep->host) FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && c != '@' && c != '%');
  // Without credentials, display() of a host name or address is a complete URL for the
  // same endpoint (a bracketed "host" may hold anything; that is not a host name).
  bool plain_host = true;
  for (char c : ep->host)
    plain_host = plain_host && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':');
  if (plain_host && ep->user.empty() && ep->password.empty()) {
    auto again = ingest::parse_redis_url(shown);
    FUZZ_CHECK(again && again->host == ep->host && again->port == ep->port && again->db == ep->db &&
               again->kind == ep->kind);
  }
}

void upstream_url(std::string_view text) {
  auto t = net::parse_upstream_url(text);
  if (!t) {
    FUZZ_CHECK(!t.err().message.empty());
    return;
  }
  FUZZ_CHECK(!t->host.empty());
  FUZZ_CHECK(t->port >= 1 && t->port <= 65535);
  FUZZ_CHECK(!t->path.empty() && t->path.front() == '/');
  FUZZ_CHECK(t->base_path.empty() || t->base_path.back() != '/');
  FUZZ_CHECK(t->path.rfind(t->base_path, 0) == 0);
}

void cidr(std::string_view text) {
  auto c = net::cidr::parse(text);
  if (!c) return;
  for (char ch : text)
    FUZZ_CHECK((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
               ch == '.' || ch == ':' || ch == '/');
  FUZZ_CHECK(c->prefix >= 0 && c->prefix <= 128);
  FUZZ_CHECK(c->contains(c->net));
  bool mapped_v4 = text.find(':') == std::string_view::npos;
  if (mapped_v4) FUZZ_CHECK(c->prefix >= 96);
  char buf[INET6_ADDRSTRLEN];
  std::string shown;
  if (mapped_v4) {
    FUZZ_CHECK(inet_ntop(AF_INET, c->net.data() + 12, buf, sizeof buf));
    shown = std::string(buf) + "/" + std::to_string(c->prefix - 96);
  } else {
    FUZZ_CHECK(inet_ntop(AF_INET6, c->net.data(), buf, sizeof buf));
    shown = std::string(buf) + "/" + std::to_string(c->prefix);
  }
  auto again = net::cidr::parse(shown);
  FUZZ_CHECK(again && again->net == c->net && again->prefix == c->prefix);
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  fuzz::byte_reader in(data, size);
  std::uint8_t mode = in.u8();
  auto text = in.rest();
  switch (mode % 5) {
    case 0:
      fuzz::duration(text);
      break;
    case 1:
      fuzz::redis_url(text);
      break;
    case 2:
      fuzz::upstream_url(text);
      break;
    case 3:
      fuzz::cidr(text);
      break;
    default: {
      auto m = net::parse_auth_mode(text);
      if (m) FUZZ_CHECK(net::to_string(*m) == text);
      break;
    }
  }
  return 0;
}
