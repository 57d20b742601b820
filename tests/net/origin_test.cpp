#include "net/origin.hpp"

#include <gtest/gtest.h>

namespace cutover::net {
namespace {

TEST(Origin, ParsesWhatBrowsersSendAndFlagsAsTyped) {
  auto o = parse_origin("HTTPS://App.Example:8443");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->host, "app.example");
  EXPECT_EQ(o->port, 8443u);
  EXPECT_EQ(o->str(), "https://app.example:8443");
  auto d = parse_origin("http://a.example/");  // a trailing slash as people type flags
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 80u);
  EXPECT_EQ(d->str(), "http://a.example");
  auto v6 = parse_origin("http://[::1]:9000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 9000u);
}

TEST(Origin, RefusesWhatIsNotAnOrigin) {
  for (const char* bad :
       {"null", "", "file://", "ws://a.example", "https://a.example/path", "https://user@a.example",
        "https://a.example:0", "https://a.example:", "https://a.example:99999",
        "https://a b.example", "https://:80", "https://a.example?x", "https://[::1"})
    EXPECT_FALSE(parse_origin(bad)) << bad;
}

TEST(Origin, NoOriginIsNotABrowserPage) {
  origin_policy p;
  EXPECT_EQ(p.check(std::nullopt, "127.0.0.1:8080", std::nullopt), origin_verdict::none);
}

TEST(Origin, SameOriginComparesHostAndPortOnly) {
  origin_policy p;
  EXPECT_EQ(p.check("http://127.0.0.1:8080", "127.0.0.1:8080", std::nullopt),
            origin_verdict::same_origin);
  EXPECT_EQ(p.check("http://App.Example", "app.example", std::nullopt),
            origin_verdict::same_origin);
  // Behind a TLS terminator that is not a trusted peer the scheme is unknown.
  EXPECT_EQ(p.check("https://app.example", "app.example", std::nullopt),
            origin_verdict::same_origin);
  EXPECT_EQ(p.check("http://127.0.0.1:9999", "127.0.0.1:8080", std::nullopt),
            origin_verdict::refused);
  EXPECT_EQ(p.check("http://evil.example:8080", "127.0.0.1:8080", std::nullopt),
            origin_verdict::refused);
  // The Origin's default port is not the Host's explicit one.
  EXPECT_EQ(p.check("https://app.example", "app.example:8443", std::nullopt),
            origin_verdict::refused);
}

TEST(Origin, TrustedForwardedProtoMakesTheSchemeCount) {
  origin_policy p;
  EXPECT_EQ(p.check("https://app.example", "app.example", std::string_view("https")),
            origin_verdict::same_origin);
  EXPECT_EQ(p.check("http://app.example", "app.example", std::string_view("https")),
            origin_verdict::refused);
  // The default port follows the forwarded scheme, not the Origin's.
  EXPECT_EQ(p.check("http://app.example:443", "app.example", std::string_view("HTTPS")),
            origin_verdict::refused);
}

TEST(Origin, AllowListMatchesExactOriginsOnly) {
  origin_policy p({*parse_origin("https://app.example"), *parse_origin("http://localhost:3000")});
  EXPECT_EQ(p.check("https://app.example", "api.example", std::nullopt), origin_verdict::allowed);
  EXPECT_EQ(p.check("https://app.example:443", "api.example", std::nullopt),
            origin_verdict::allowed);
  EXPECT_EQ(p.check("http://localhost:3000", "api.example", std::nullopt), origin_verdict::allowed);
  EXPECT_EQ(p.check("http://app.example", "api.example", std::nullopt), origin_verdict::refused);
  EXPECT_EQ(p.check("https://evil.app.example", "api.example", std::nullopt),
            origin_verdict::refused);
  EXPECT_EQ(p.check("https://app.example.evil", "api.example", std::nullopt),
            origin_verdict::refused);
  EXPECT_EQ(p.check("null", "api.example", std::nullopt), origin_verdict::refused);
}

}  // namespace
}  // namespace cutover::net
