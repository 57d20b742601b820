#include "net/http_util.hpp"

#include <gtest/gtest.h>

namespace cutover::net {
namespace {

TEST(HttpUtil, Query) {
  auto q = parse_query("since=123&user=a%20b&x=1+2&flag&=v");
  ASSERT_TRUE(q);
  EXPECT_EQ(*find_param(*q, "since"), "123");
  EXPECT_EQ(*find_param(*q, "user"), "a b");
  EXPECT_EQ(*find_param(*q, "x"), "1 2");
  EXPECT_EQ(*find_param(*q, "flag"), "");
  EXPECT_EQ(find_param(*q, "missing"), nullptr);
}

TEST(HttpUtil, QueryGarbage) {
  EXPECT_FALSE(parse_query("a=%"));
  EXPECT_FALSE(parse_query("a=%4"));
  EXPECT_FALSE(parse_query("a=%zz"));
  EXPECT_FALSE(parse_query("a=%ff"));  // not UTF-8 once decoded
  std::string many;
  for (int i = 0; i < 65; ++i) many += "p" + std::to_string(i) + "=1&";
  EXPECT_FALSE(parse_query(many));
  EXPECT_TRUE(parse_query(""));
}

TEST(HttpUtil, Cookies) {
  EXPECT_EQ(find_cookie("a=1; cutover_token=abc; b=2", "cutover_token"), "abc");
  EXPECT_EQ(find_cookie("cutover_token=\"q\"", "cutover_token"), "q");
  EXPECT_FALSE(find_cookie("xcutover_token=1", "cutover_token"));
}

TEST(HttpUtil, ResponseShape) {
  auto r = make_response(503, "application/json", "{}", false, {{"Retry-After", "1"}});
  EXPECT_EQ(
      r,
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
      "Connection: close\r\nRetry-After: 1\r\nCache-Control: no-store\r\n\r\n{}");
  EXPECT_EQ(json_error_body(400, "bad \"x\""), R"({"error":"bad_request","message":"bad \"x\""})");
}

}  // namespace
}  // namespace cutover::net

namespace cutover::net {
namespace {

TEST(HttpUtil, CaseFoldingIsAsciiOnly) {
  EXPECT_TRUE(iequals("WebSocket", "websocket"));
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_FALSE(iequals("websocket", "websockets"));
  // Bytes >= 0x80 compare as they are, whatever the locale: 'Ä' (Latin-1 0xC4) is not
  // 'ä' (0xE4), and no byte folds onto an ASCII letter.
  EXPECT_FALSE(iequals("\xC4", "\xE4"));
  EXPECT_TRUE(iequals("\xC4x", "\xC4X"));
  EXPECT_FALSE(iequals("\xC1", "a"));
  EXPECT_EQ(ascii_lower("UPGRADE\xC4"), "upgrade\xC4");
}

TEST(HttpUtil, HasTokenFindsOneTokenOfAList) {
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("\tupgrade\t", "upgrade"));
  EXPECT_FALSE(has_token("keep-alive, upgrades", "upgrade"));
  EXPECT_FALSE(has_token("", "upgrade"));
}

TEST(HttpUtil, CheckFraming) {
  auto status = [](std::vector<std::string_view> te, bool cl = false, unsigned version = 11) {
    auto r = check_framing(te, cl, version);
    return r ? r->status : 0;
  };
  EXPECT_EQ(status({}), 0);
  EXPECT_EQ(status({}, true), 0);
  EXPECT_EQ(status({"chunked"}), 0);
  EXPECT_EQ(status({"Chunked"}), 0);
  EXPECT_EQ(status({" chunked ,"}), 0);  // empty list elements are allowed
  EXPECT_EQ(status({"chunked, identity"}), 400);
  EXPECT_EQ(status({"xchunked"}), 400);
  EXPECT_EQ(status({"identity"}), 400);
  EXPECT_EQ(status({"chunked", "chunked"}), 400);
  EXPECT_EQ(status({"chunked;x=1"}), 400);
  EXPECT_EQ(status({","}), 400);
  EXPECT_EQ(status({""}), 400);
  EXPECT_EQ(status({"chunked"}, true), 400);
  EXPECT_EQ(status({"chunked"}, false, 10), 400);
  EXPECT_EQ(status({"gzip, chunked"}), 501);
  EXPECT_EQ(status({"gzip", "chunked"}), 501);
  EXPECT_EQ(status({"chunked, gzip"}), 400);
}

TEST(HttpUtil, ByteBudgetNeverPassesItsLimit) {
  byte_budget b;
  EXPECT_TRUE(b.take(600, 1000));
  EXPECT_FALSE(b.take(401, 1000));
  EXPECT_TRUE(b.take(400, 1000));
  EXPECT_FALSE(b.take(1, 1000));
  EXPECT_FALSE(b.take(static_cast<std::size_t>(-1), 1000));
  b.give(1000);
  EXPECT_EQ(b.used(), 0u);
}

}  // namespace
}  // namespace cutover::net
