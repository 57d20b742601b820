#pragma once
// Who is asking (DESIGN §7). Pure: takes the credentials a request carries and answers
// with a user id or a refusal. Token mode verifies a JWT HS256 with OpenSSL's HMAC and a
// constant-time compare; header mode believes a gateway header only from trusted peers.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_util.hpp"

namespace cutover::net {

enum class auth_mode { token, upstream, header, insecure_query };
std::optional<auth_mode> parse_auth_mode(std::string_view s);
std::string_view to_string(auth_mode m);

struct token_check {
  bool ok = false;
  std::string user;
  std::string reason;  // why it was refused (for logs and the 401 body)
};

class token_verifier {
 public:
  // `max_ttl` above zero: a token must carry `exp`, at most that far from now (a token
  // without one would never expire); zero accepts tokens without `exp` (`--token-max-ttl 0`).
  explicit token_verifier(std::string secret, std::chrono::seconds max_ttl = {})
      : secret_(std::move(secret)), max_ttl_(max_ttl) {}
  // `now` in seconds since the epoch. Refuses anything but a well-formed HS256 JWT with
  // a valid signature, a non-empty `sub`, and `exp`/`nbf` (when present) satisfied.
  token_check verify(std::string_view token, std::int64_t now) const;

 private:
  std::string secret_;
  std::chrono::seconds max_ttl_;
};

// Base64url without padding (RFC 4648 §5), the encoding of every JWT part.
std::string base64url_encode(std::string_view in);

// A token for `user` valid for `ttl` from `now` (seconds): what `cutover token` prints.
std::string mint_token(std::string_view secret, std::string_view user, std::chrono::seconds ttl,
                       std::int64_t now);

// An IPv4 or IPv6 network; IPv4 addresses are also matched in their ::ffff:a.b.c.d form.
struct cidr {
  std::array<std::uint8_t, 16> net{};
  int prefix = 0;  // in bits of the 16-byte (IPv6 or mapped IPv4) form
  static std::optional<cidr> parse(std::string_view text);
  bool contains(const std::array<std::uint8_t, 16>& addr) const;
};
// Parses a textual address into the 16-byte form (IPv4 mapped).
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text);

// What a request carries that auth may look at.
struct credentials {
  std::string_view authorization;  // Authorization header
  std::string_view cookie;         // Cookie header
  const query_params* query = nullptr;
  std::string_view gateway_header;  // value of --auth-header, if present
  bool has_gateway_header = false;
  std::array<std::uint8_t, 16> peer{};  // peer address, 16-byte form
};

struct auth_outcome {
  int status = 0;  // 0 = identified; else 401 or 503
  std::string user;
  std::string reason;
  bool ok() const { return status == 0; }
};

struct auth_config {
  auth_mode mode = auth_mode::token;
  std::string token_secret;
  std::string header_name;               // header mode
  std::vector<cidr> trusted_peers;       // header mode
  std::chrono::seconds token_max_ttl{};  // token mode; 0: tokens without exp are accepted
  // `serve --demo` (token mode): a key made at start, never shown. Tokens it signs are
  // what /demo/token hands out; they identify on every transport like ordinary tokens,
  // and only they may publish to their own user:<sub> (DESIGN §11).
  std::string demo_secret{};
};

// The lifetime of a /demo/token token.
inline constexpr std::chrono::seconds kDemoTokenTtl{15 * 60};

// Token, header and insecure-query modes (synchronous). Upstream mode is asynchronous
// and handled by its own client; `identify` refuses to guess for it.
class authenticator {
 public:
  explicit authenticator(auth_config cfg)
      : cfg_(std::move(cfg)),
        tokens_(cfg_.token_secret, cfg_.token_max_ttl),
        demo_tokens_(cfg_.demo_secret, kDemoTokenTtl) {}
  auth_outcome identify(const credentials& c, std::int64_t now) const;
  const auth_config& config() const { return cfg_; }
  // A token signed with the demo key (never one of --token-secret); refused without --demo.
  token_check verify_demo(std::string_view token, std::int64_t now) const;

 private:
  auth_config cfg_;
  token_verifier tokens_;
  token_verifier demo_tokens_;
};

// The token a request carries: `Authorization: Bearer`, then cookie `cutover_token`,
// then the `access_token` query parameter (browsers cannot set WebSocket headers).
std::optional<std::string_view> find_token(const credentials& c);

}  // namespace cutover::net
