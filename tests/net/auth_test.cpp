#include "net/auth.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "net/upstream.hpp"

namespace cutover::net {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

// RFC 4648 §10 vectors, unpadded (§5): the tests below forge tokens with this encoder.
TEST(Auth, Base64urlIsRfc4648WithoutPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");  // the two URL-safe letters
}

// An HS256 token with exactly these claims (mint_token always adds exp).
std::string sign(std::string_view secret, std::string_view claims) {
  std::string input =
      base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

TEST(Auth, TokenMaxTtlRefusesTokensWithoutExpOrValidForLonger) {
  const auto week = std::chrono::seconds(7 * 86400);
  token_verifier strict("k", week);
  auto no_exp = sign("k", R"({"sub":"42"})");
  EXPECT_EQ(strict.verify(no_exp, kNow).reason,
            "token has no exp (it would never expire; see --token-max-ttl)");
  auto far = sign("k", R"({"sub":"42","exp":)" + std::to_string(kNow + 8 * 86400) + "}");
  EXPECT_FALSE(strict.verify(far, kNow).ok);
  auto day = mint_token("k", "42", std::chrono::seconds(86400), kNow);
  EXPECT_TRUE(strict.verify(day, kNow).ok);
  // --token-max-ttl 0: the old behaviour, for tokens minted elsewhere without exp.
  token_verifier lenient("k", std::chrono::seconds(0));
  EXPECT_TRUE(lenient.verify(no_exp, kNow).ok);
  EXPECT_TRUE(lenient.verify(far, kNow).ok);
}

TEST(Auth, BearerSchemeIsCaseInsensitive) {
  auto t = mint_token("k", "7", std::chrono::seconds(60), kNow);
  for (std::string scheme : {"Bearer ", "bearer ", "BEARER ", "bEaReR "}) {
    credentials c;
    std::string h = scheme + t;
    c.authorization = h;
    auto found = find_token(c);
    ASSERT_TRUE(found) << scheme;
    EXPECT_EQ(*found, t) << scheme;
  }
  credentials basic;
  basic.authorization = "Basic abc";
  EXPECT_FALSE(find_token(basic));
}

TEST(Auth, MintedTokenVerifies) {
  token_verifier v("s3cret");
  auto t = mint_token("s3cret", "42", std::chrono::seconds(60), kNow);
  auto r = v.verify(t, kNow + 10);
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.user, "42");
}

TEST(Auth, RefusesForgedExpiredNoneAndGarbage) {
  token_verifier v("s3cret");
  auto good = mint_token("s3cret", "42", std::chrono::seconds(60), kNow);
  EXPECT_EQ(v.verify(mint_token("other", "42", std::chrono::seconds(60), kNow), kNow).reason,
            "token signature does not match");
  EXPECT_EQ(v.verify(good, kNow + 60).reason, "token expired");
  // Payload swapped for another user, signature kept: forged.
  auto dot1 = good.find('.'), dot2 = good.rfind('.');
  std::string forged = good.substr(0, dot1 + 1) +
                       base64url_encode(R"({"sub":"1","exp":9999999999})") + good.substr(dot2);
  EXPECT_FALSE(v.verify(forged, kNow).ok);
  std::string none = base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                     base64url_encode(R"({"sub":"42"})") + ".";
  EXPECT_EQ(v.verify(none, kNow).reason, "token alg must be HS256");
  std::string hs512 = base64url_encode(R"({"alg":"HS512"})") + "." + good.substr(dot1 + 1);
  EXPECT_EQ(v.verify(hs512, kNow).reason, "token alg must be HS256");
  for (std::string g : std::vector<std::string>{"", "abc", "a.b", "a.b.c.d", "!!!.???.***",
                                                std::string(10000, 'a')})
    EXPECT_FALSE(v.verify(g, kNow).ok) << g.substr(0, 20);
}

// serve --demo: tokens signed with the demo key identify like ordinary ones, and only they
// pass verify_demo (an ordinary token, or any token without --demo, does not).
TEST(Auth, DemoTokensIdentifyAndOnlyTheyPassVerifyDemo) {
  auth_config cfg;
  cfg.token_secret = "k";
  cfg.demo_secret = "demo-key";
  authenticator a(cfg);
  auto demo = mint_token("demo-key", "alice", kDemoTokenTtl, kNow);
  auto plain = mint_token("k", "alice", std::chrono::seconds(60), kNow);
  credentials c;
  std::string bearer = "Bearer " + demo;
  c.authorization = bearer;
  EXPECT_EQ(a.identify(c, kNow).user, "alice");
  EXPECT_TRUE(a.verify_demo(demo, kNow).ok);
  EXPECT_EQ(a.verify_demo(demo, kNow).user, "alice");
  EXPECT_FALSE(a.verify_demo(plain, kNow).ok);
  EXPECT_FALSE(a.verify_demo(demo, kNow + kDemoTokenTtl.count()).ok);  // expired
  // Longer than a demo token lives: refused even with the demo key.
  EXPECT_FALSE(
      a.verify_demo(mint_token("demo-key", "alice", std::chrono::hours(2), kNow), kNow).ok);
  auth_config off;
  off.token_secret = "k";
  authenticator b(off);
  EXPECT_FALSE(b.verify_demo(demo, kNow).ok);
  EXPECT_EQ(b.identify(c, kNow).status, 401);  // without --demo the key does not exist
}

TEST(Auth, TokenSources) {
  authenticator a({auth_mode::token, "k", {}, {}});
  auto t = mint_token("k", "7", std::chrono::seconds(60), kNow);
  credentials c;
  std::string bearer = "Bearer " + t;
  c.authorization = bearer;
  EXPECT_EQ(a.identify(c, kNow).user, "7");
  credentials ck;
  std::string cookie = "a=b; cutover_token=" + t + "; x=y";
  ck.cookie = cookie;
  EXPECT_EQ(a.identify(ck, kNow).user, "7");
  credentials cq;
  query_params q = {{"access_token", t}};
  cq.query = &q;
  EXPECT_EQ(a.identify(cq, kNow).user, "7");
  credentials none;
  EXPECT_EQ(a.identify(none, kNow).status, 401);
}

TEST(Auth, HeaderModeTrustsOnlyConfiguredPeers) {
  auth_config cfg;
  cfg.mode = auth_mode::header;
  cfg.header_name = "X-User-Id";
  cfg.trusted_peers = {*cidr::parse("10.0.0.0/8"), *cidr::parse("::1/128")};
  authenticator a(cfg);
  credentials c;
  c.has_gateway_header = true;
  c.gateway_header = "99";
  c.peer = *parse_ip("10.1.2.3");
  EXPECT_EQ(a.identify(c, kNow).user, "99");
  c.peer = *parse_ip("::1");
  EXPECT_EQ(a.identify(c, kNow).user, "99");
  c.peer = *parse_ip("192.168.1.1");
  EXPECT_EQ(a.identify(c, kNow).status, 401);
  c.peer = *parse_ip("10.0.0.1");
  c.has_gateway_header = false;
  EXPECT_EQ(a.identify(c, kNow).status, 401);
}

TEST(Auth, Cidr) {
  EXPECT_TRUE(cidr::parse("127.0.0.1")->contains(*parse_ip("127.0.0.1")));
  EXPECT_FALSE(cidr::parse("127.0.0.1")->contains(*parse_ip("127.0.0.2")));
  EXPECT_TRUE(cidr::parse("192.168.0.0/16")->contains(*parse_ip("192.168.255.1")));
  EXPECT_TRUE(cidr::parse("fd00::/8")->contains(*parse_ip("fd12::1")));
  EXPECT_FALSE(cidr::parse("fd00::/8")->contains(*parse_ip("fe80::1")));
  EXPECT_TRUE(cidr::parse("0.0.0.0/0")->contains(*parse_ip("8.8.8.8")));
  for (auto bad : {"", "1.2.3", "1.2.3.4/33", "::1/129", "10.0.0.0/", "10.0.0.0/x", "host"})
    EXPECT_FALSE(cidr::parse(bad)) << bad;
}

// Fuzz finding (tests/fuzz/corpus/config_fuzz/regress_cidr_nul): inet_pton stopped at an
// embedded NUL, so "::8\0\0\0" (or "10.0.0.1\0junk") parsed as a trusted-peer network.
TEST(Auth, CidrWithAnEmbeddedNulIsRefused) {
  using namespace std::string_view_literals;
  for (auto bad : {"::8\0\0\0"sv, "10.0.0.1\0junk"sv, "10.0.0.0\0/8"sv, "10.0.0.0/8\0"sv})
    EXPECT_FALSE(cidr::parse(bad)) << bad.size();
  for (auto bad : {"::8\0"sv, "10.0.0.1\0junk"sv}) EXPECT_FALSE(parse_ip(bad)) << bad.size();
}

TEST(Auth, InsecureQuery) {
  authenticator a({auth_mode::insecure_query, "", {}, {}});
  credentials c;
  query_params q = {{"user", "5"}};
  c.query = &q;
  EXPECT_EQ(a.identify(c, kNow).user, "5");
  query_params empty;
  c.query = &empty;
  EXPECT_EQ(a.identify(c, kNow).status, 401);
}

}  // namespace
}  // namespace cutover::net

namespace cutover::net {
namespace {

// The who-am-I answer's shape comes from the legacy profile (identity.user).
TEST(UpstreamIdentity, UserIdAtThePathTheProfileGives) {
  EXPECT_EQ(identity_from_body(R"({"userId":"42"})", {"userId"}), "42");
  EXPECT_EQ(identity_from_body(R"({"userId":42})", {"userId"}), "42");
  EXPECT_EQ(identity_from_body(R"({"user":{"id":"7","name":"x"}})", {"user", "id"}), "7");
  EXPECT_EQ(identity_from_body(R"({"user":{"id":"7"}})", {"userId"}), std::nullopt);
  EXPECT_EQ(identity_from_body(R"({"user":"7"})", {"user", "id"}), std::nullopt);
  EXPECT_EQ(identity_from_body(R"({"userId":1.5})", {"userId"}), std::nullopt);
  EXPECT_EQ(identity_from_body(R"({"userId":null})", {"userId"}), std::nullopt);
  EXPECT_EQ(identity_from_body("not json", {"userId"}), std::nullopt);
}

}  // namespace
}  // namespace cutover::net
