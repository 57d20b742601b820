#include "net/auth.hpp"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cstring>

#include "core/json_text.hpp"

namespace cutover::net {
namespace {

constexpr std::size_t kMaxToken = 8192;

std::optional<std::string> b64url_decode(std::string_view in) {
  static const auto table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = i;
    return t;
  }();
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    int v = table[c];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

token_check refuse(std::string reason) {
  return {false, {}, std::move(reason)};
}

std::optional<std::int64_t> as_seconds(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64())
    return v.get_uint64() > static_cast<std::uint64_t>(INT64_MAX)
               ? std::nullopt
               : std::optional<std::int64_t>(v.get_uint64());
  if (v.is_double() && v.get_double() > -1e18 && v.get_double() < 1e18)
    return static_cast<std::int64_t>(v.get_double());
  return std::nullopt;
}

}  // namespace

std::string base64url_encode(std::string_view in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(a[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(a[(acc << (6 - bits)) & 63]);
  return out;
}

std::optional<auth_mode> parse_auth_mode(std::string_view s) {
  if (s == "token") return auth_mode::token;
  if (s == "upstream") return auth_mode::upstream;
  if (s == "header") return auth_mode::header;
  if (s == "insecure-query") return auth_mode::insecure_query;
  return std::nullopt;
}

std::string_view to_string(auth_mode m) {
  switch (m) {
    case auth_mode::token:
      return "token";
    case auth_mode::upstream:
      return "upstream";
    case auth_mode::header:
      return "header";
    case auth_mode::insecure_query:
      return "insecure-query";
  }
  return "?";
}

token_check token_verifier::verify(std::string_view token, std::int64_t now) const {
  if (token.empty()) return refuse("empty token");
  if (token.size() > kMaxToken) return refuse("token too long");
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return refuse("token is not a JWT (header.payload.signature)");
  auto header = b64url_decode(token.substr(0, d1));
  auto payload = b64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = b64url_decode(token.substr(d2 + 1));
  if (!header || !payload || !sig) return refuse("token is not base64url");

  boost::json::error_code ec;
  auto h = boost::json::parse(*header, ec);
  if (ec || !h.is_object()) return refuse("token header is not a JSON object");
  const auto* alg = h.get_object().if_contains("alg");
  if (!alg || !alg->is_string() || alg->get_string() != "HS256")
    return refuse("token alg must be HS256");

  // Signature before looking at claims: nothing unauthenticated steers the decision.
  std::string expected = hmac_sha256(secret_, token.substr(0, d2));
  if (sig->size() != expected.size() ||
      CRYPTO_memcmp(sig->data(), expected.data(), expected.size()) != 0)
    return refuse("token signature does not match");

  auto p = boost::json::parse(*payload, ec);
  if (ec || !p.is_object()) return refuse("token payload is not a JSON object");
  const auto& claims = p.get_object();
  const auto* sub = claims.if_contains("sub");
  std::string user;
  if (sub && sub->is_string())
    user = std::string(sub->get_string());
  else if (sub && (sub->is_int64() || sub->is_uint64()))
    user = boost::json::serialize(*sub);
  if (user.empty()) return refuse("token has no sub");
  if (!json_text::valid_utf8(user) || user.size() > 200)
    return refuse("token sub is not a usable user id");
  if (const auto* exp = claims.if_contains("exp")) {
    auto e = as_seconds(*exp);
    if (!e) return refuse("token exp is not a number");
    if (now >= *e) return refuse("token expired");
    if (max_ttl_.count() > 0 && *e - now > max_ttl_.count())
      return refuse("token exp is further ahead than --token-max-ttl allows");
  } else if (max_ttl_.count() > 0) {
    return refuse("token has no exp (it would never expire; see --token-max-ttl)");
  }
  if (const auto* nbf = claims.if_contains("nbf")) {
    auto n = as_seconds(*nbf);
    if (!n) return refuse("token nbf is not a number");
    if (now < *n) return refuse("token not yet valid");
  }
  return {true, std::move(user), {}};
}

std::string mint_token(std::string_view secret, std::string_view user, std::chrono::seconds ttl,
                       std::int64_t now) {
  std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  std::string claims = "{\"sub\":" + json_text::quoted(user) + ",\"iat\":" + std::to_string(now) +
                       ",\"exp\":" + std::to_string(now + ttl.count()) + "}";
  std::string signing = header + "." + base64url_encode(claims);
  return signing + "." + base64url_encode(hmac_sha256(secret, signing));
}

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text) {
  std::array<std::uint8_t, 16> out{};
  // inet_pton reads a C string: "10.0.0.1\0junk" would pass as 10.0.0.1.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string s(text);
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xFF;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::optional<cidr> cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return std::nullopt;
  bool v4 = text.find(':') == std::string_view::npos;
  int max = v4 ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max) return std::nullopt;
  }
  cidr c;
  c.net = *addr;
  c.prefix = v4 ? prefix + 96 : prefix;
  return c;
}

bool cidr::contains(const std::array<std::uint8_t, 16>& addr) const {
  int bits = prefix;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xFF : static_cast<std::uint8_t>(0xFF << (8 - bits));
    if ((addr[i] & mask) != (net[i] & mask)) return false;
  }
  return true;
}

std::optional<std::string_view> find_token(const credentials& c) {
  std::string_view a = c.authorization;
  // The scheme is case-insensitive (RFC 9110 §11.1): "Bearer", "bearer", "BEARER".
  auto is_bearer = [](std::string_view s) {
    constexpr std::string_view kScheme = "bearer ";
    for (std::size_t i = 0; i < kScheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(s[i])) != kScheme[i]) return false;
    return true;
  };
  if (a.size() > 7 && is_bearer(a)) {
    a.remove_prefix(7);
    while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
    return a;
  }
  if (auto ck = find_cookie(c.cookie, "cutover_token")) return *ck;
  if (c.query)
    if (const auto* t = find_param(*c.query, "access_token")) return std::string_view(*t);
  return std::nullopt;
}

auth_outcome authenticator::identify(const credentials& c, std::int64_t now) const {
  switch (cfg_.mode) {
    case auth_mode::token: {
      auto t = find_token(c);
      if (!t)
        return {401, {}, "no token (Authorization: Bearer, cookie cutover_token, or access_token)"};
      auto r = tokens_.verify(*t, now);
      if (!r.ok && !cfg_.demo_secret.empty()) {
        if (auto d = demo_tokens_.verify(*t, now); d.ok) r = std::move(d);
      }
      if (!r.ok) return {401, {}, r.reason};
      return {0, std::move(r.user), {}};
    }
    case auth_mode::insecure_query: {
      const std::string* u = c.query ? find_param(*c.query, "user") : nullptr;
      if (!u || u->empty()) return {401, {}, "no ?user= (auth mode insecure-query)"};
      if (u->size() > 200) return {401, {}, "user id too long"};
      return {0, *u, {}};
    }
    case auth_mode::header: {
      bool trusted = false;
      for (const auto& net : cfg_.trusted_peers)
        if (net.contains(c.peer)) trusted = true;
      if (!trusted) return {401, {}, "peer is not a trusted gateway (--trusted-peer)"};
      if (!c.has_gateway_header || c.gateway_header.empty())
        return {401, {}, "no " + cfg_.header_name + " header from the gateway"};
      if (c.gateway_header.size() > 200 || !json_text::valid_utf8(c.gateway_header))
        return {401, {}, "unusable user id in " + cfg_.header_name};
      return {0, std::string(c.gateway_header), {}};
    }
    case auth_mode::upstream:
      return {503, {}, "upstream auth needs the asynchronous client"};
  }
  return {401, {}, "unknown auth mode"};
}

token_check authenticator::verify_demo(std::string_view token, std::int64_t now) const {
  if (cfg_.demo_secret.empty()) return {false, {}, "not a demo instance (serve --demo)"};
  return demo_tokens_.verify(token, now);
}

}  // namespace cutover::net
