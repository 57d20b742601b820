// Token parsing (DESIGN §7): net::token_verifier::verify on what a client sends, and
// where the token is looked for (find_token: Authorization, the cutover_token cookie,
// access_token; find_cookie). Modes (first byte):
//   0 raw token text; 1 a header and payload of the fuzzer's choosing, base64url-encoded
//   and correctly signed here, so claim handling (sub, exp, nbf, alg) is reached;
//   2 mint_token -> verify round trip; 3 token and cookie lookup; 4 identify() in the
//   header and insecure-query modes.
//
// Invariants:
// - an accepted token names a usable user (non-empty, UTF-8, at most 200 bytes) and was
//   signed with the secret by an HS256 header; exp/nbf, when numbers, hold at `now`;
// - a refusal always says why;
// - a minted token for a usable user verifies to exactly that user, and one byte changed
//   in its signature is refused;
// - lookups return a view into the header or query they searched, never a copy of junk.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <string>

#include "core/json_text.hpp"
#include "fuzz_support.hpp"
#include "net/auth.hpp"
#include "net/http_util.hpp"

namespace cutover::fuzz {
namespace {

using net::base64url_encode;

constexpr std::string_view kSecret = "fuzz-secret";
constexpr std::int64_t kNow = 1'750'000'000;

std::string sign(std::string_view signing_input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &len);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

bool usable_user(std::string_view u) {
  return !u.empty() && u.size() <= 200 && json_text::valid_utf8(u);
}

void check(const net::token_check& r) {
  if (r.ok) {
    FUZZ_CHECK(usable_user(r.user));
    FUZZ_CHECK(r.reason.empty());
  } else {
    FUZZ_CHECK(!r.reason.empty() && r.user.empty());
  }
}

std::optional<boost::json::value> dom(std::string_view text) {
  boost::json::error_code ec;
  auto v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  if (ec) return std::nullopt;
  return v;
}

bool holds_at_now(const boost::json::object& claims, const char* name, bool before) {
  const auto* v = claims.if_contains(name);
  if (!v) return true;
  double t = v->is_int64()    ? static_cast<double>(v->get_int64())
             : v->is_uint64() ? static_cast<double>(v->get_uint64())
             : v->is_double() ? v->get_double()
                              : 0;
  if (!v->is_number()) return false;
  return before ? kNow < t : kNow >= t;
}

void signed_claims(byte_reader& in) {
  std::string header(in.string16());
  std::string payload(in.rest());
  std::string signing = base64url_encode(header) + "." + base64url_encode(payload);
  std::string token = signing + "." + sign(signing);
  net::token_verifier v{std::string(kSecret)};
  auto r = v.verify(token, kNow);
  check(r);
  if (!r.ok) return;
  auto h = dom(header);
  FUZZ_CHECK(h && h->is_object());
  const auto* alg = h->as_object().if_contains("alg");
  FUZZ_CHECK(alg && alg->is_string() && alg->as_string() == "HS256");
  auto p = dom(payload);
  FUZZ_CHECK(p && p->is_object());
  const auto& claims = p->as_object();
  const auto* sub = claims.if_contains("sub");
  FUZZ_CHECK(sub && (sub->is_string() || sub->is_int64() || sub->is_uint64()));
  if (sub->is_string()) FUZZ_CHECK(std::string_view(sub->as_string()) == r.user);
  // Within a second of the boundary a float exp/nbf may round either way; away from it
  // the decision must match the claim.
  auto near = [&](const char* name) {
    const auto* x = claims.if_contains(name);
    if (!x || !x->is_double()) return false;
    double d = x->get_double() - static_cast<double>(kNow);
    return d > -2 && d < 2;
  };
  if (!near("exp")) FUZZ_CHECK(holds_at_now(claims, "exp", true));
  if (!near("nbf")) FUZZ_CHECK(holds_at_now(claims, "nbf", false));
}

void minted(byte_reader& in) {
  std::string user(in.short_string());
  auto ttl = std::chrono::seconds(1 + in.u16());
  std::string token = net::mint_token(kSecret, user, ttl, kNow);
  net::token_verifier v{std::string(kSecret)};
  auto r = v.verify(token, kNow);
  check(r);
  if (usable_user(user)) {
    FUZZ_CHECK(r.ok && r.user == user);
    // Expired one second after its ttl; refused with any other secret.
    FUZZ_CHECK(!v.verify(token, kNow + ttl.count()).ok);
    FUZZ_CHECK(!net::token_verifier("other").verify(token, kNow).ok);
    // A flipped signature byte is refused (the first character keeps the encoding
    // canonical whatever it becomes).
    std::string forged = token;
    std::size_t at = forged.rfind('.') + 1;
    forged[at] = forged[at] == 'A' ? 'B' : 'A';
    FUZZ_CHECK(!v.verify(forged, kNow).ok);
  } else if (user.empty() || user.size() > 200) {
    FUZZ_CHECK(!r.ok);
  }
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void lookups(byte_reader& in) {
  std::string authorization(in.short_string());
  std::string cookie(in.string16());
  std::string query(in.string16());
  std::string name(in.short_string());
  auto q = net::parse_query(query);
  net::credentials c;
  c.authorization = authorization;
  c.cookie = cookie;
  if (q) c.query = &*q;
  if (auto t = net::find_token(c)) {
    bool from_query = false;
    if (q)
      for (const auto& [k, v] : *q)
        if (k == "access_token" && t->data() == v.data()) from_query = true;
    FUZZ_CHECK(inside(*t, authorization) || inside(*t, cookie) || from_query);
    if (inside(*t, authorization)) FUZZ_CHECK(authorization.size() > 7);
  }
  if (auto v = net::find_cookie(cookie, name)) {
    FUZZ_CHECK(inside(*v, cookie));
    FUZZ_CHECK(v->find(';') == std::string_view::npos);
  }
  net::token_verifier v{std::string(kSecret)};
  check(v.verify(authorization, kNow));
  check(v.verify(cookie, kNow));
}

void identify(byte_reader& in) {
  net::auth_config cfg;
  cfg.mode = in.flag() ? net::auth_mode::header : net::auth_mode::insecure_query;
  cfg.header_name = "X-User-Id";
  if (auto net = net::cidr::parse(in.short_string())) cfg.trusted_peers.push_back(*net);
  net::authenticator auth(cfg);
  std::string gateway(in.short_string());
  std::string query(in.rest());
  auto q = net::parse_query(query);
  net::credentials c;
  c.query = q ? &*q : nullptr;
  c.gateway_header = gateway;
  c.has_gateway_header = !gateway.empty();
  c.peer = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 1};
  auto who = auth.identify(c, kNow);
  if (who.ok()) {
    FUZZ_CHECK(!who.user.empty() && who.user.size() <= 200 && json_text::valid_utf8(who.user));
  } else {
    FUZZ_CHECK(who.status == 401 && !who.reason.empty() && who.user.empty());
    FUZZ_CHECK(json_text::valid_utf8(who.reason));  // it goes into a JSON 401 body
  }
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  fuzz::byte_reader in(data, size);
  switch (in.u8() % 5) {
    case 0: {
      net::token_verifier v{std::string(fuzz::kSecret)};
      fuzz::check(v.verify(in.rest(), fuzz::kNow));
      break;
    }
    case 1:
      fuzz::signed_claims(in);
      break;
    case 2:
      fuzz::minted(in);
      break;
    case 3:
      fuzz::lookups(in);
      break;
    default:
      fuzz::identify(in);
      break;
  }
  return 0;
}
