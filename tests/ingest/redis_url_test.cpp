// parse_redis_url and the rate-limited log: pure, no Redis needed.

#include <gtest/gtest.h>

#include "ingest/ingest.hpp"

namespace cutover::ingest::test {
namespace {

using transport = redis_endpoint::transport;

TEST(RedisUrl, AcceptsTheDocumentedForms) {
  auto a = parse_redis_url("redis://127.0.0.1:6379");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, transport::tcp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6379);
  EXPECT_EQ(a->db, 0);
  EXPECT_TRUE(a->user.empty());
  EXPECT_TRUE(a->password.empty());

  auto b = parse_redis_url("redis://alice:p%40ss:w/rd@cache.internal:6380/3");
  ASSERT_TRUE(b.ok()) << b.err().message;
  EXPECT_EQ(b->user, "alice");
  EXPECT_EQ(b->password, "p@ss:w/rd");
  EXPECT_EQ(b->host, "cache.internal");
  EXPECT_EQ(b->port, 6380);
  EXPECT_EQ(b->db, 3);
  EXPECT_EQ(b->display(), "redis://alice@cache.internal:6380/3");

  auto c = parse_redis_url("redis://:secret@localhost");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->user, "");
  EXPECT_EQ(c->password, "secret");
  EXPECT_EQ(c->port, 6379);

  auto bare =
      parse_redis_url("redis://secret@localhost:1/");  // redis-cli: a bare userinfo is the password
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->password, "secret");
  EXPECT_EQ(bare->db, 0);

  auto v6 = parse_redis_url("REDIS://[::1]:7000/15");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  EXPECT_EQ(v6->db, 15);
  EXPECT_EQ(v6->display(), "redis://[::1]:7000/15");

  auto u = parse_redis_url("unix:///var/run/redis/redis.sock");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, transport::unix_socket);
  EXPECT_EQ(u->path, "/var/run/redis/redis.sock");
  EXPECT_EQ(u->display(), "unix:///var/run/redis/redis.sock");

  auto ud = parse_redis_url("unix://:pw@/tmp/r.sock?db=2");
  ASSERT_TRUE(ud.ok()) << ud.err().message;
  EXPECT_EQ(ud->path, "/tmp/r.sock");
  EXPECT_EQ(ud->password, "pw");
  EXPECT_EQ(ud->db, 2);
}

TEST(RedisUrl, RefusesGarbageWithAClearMessageThatHidesThePassword) {
  for (const char* bad : {"",
                          "localhost:6379",
                          "http://localhost",
                          "rediss://h:1",
                          "redis://",
                          "redis://:6379",
                          "redis://h:0",
                          "redis://h:65536",
                          "redis://h:port",
                          "redis://h:-1",
                          "redis://h:1/x",
                          "redis://h:1/1/2",
                          "redis://h:1?timeout=3",
                          "redis://[::1:1",
                          "redis://user:@h:1",
                          "redis://a%zz:b@h",
                          "redis://h o:1",
                          "unix://",
                          "unix://relative/path",
                          "unix:///s?x=1",
                          "unix:///s?db=",
                          "unix:///s?db=x"}) {
    auto r = parse_redis_url(bad);
    EXPECT_FALSE(r.ok()) << "accepted: " << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.err().code, errc::bad_url) << bad;
      EXPECT_EQ(r.err().message.rfind("invalid Redis URL: ", 0), 0u) << r.err().message;
    }
  }
  auto r = parse_redis_url("redis://u:topsecret@h:99999");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().message.find("topsecret"), std::string::npos) << r.err().message;
  EXPECT_NE(parse_redis_url("rediss://h").err().message.find("TLS"), std::string::npos);
}

// Fuzz finding (tests/fuzz/corpus/config_fuzz/regress_scheme_leak): with a password before
// the "://" (a URL written the wrong way round), the "unsupported scheme" message repeated
// the text before "://", password included.
TEST(RedisUrl, MalformedSchemeIsNotRepeated) {
  for (const char* bad :
       {"user:topsecret@host://x", ":topsecret@h://", "x:topsecret@h:6379/0://"}) {
    auto r = parse_redis_url(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.err().message.find("topsecret"), std::string::npos) << r.err().message;
  }
  EXPECT_NE(parse_redis_url("http://h").err().message.find("unsupported scheme 'http'"),
            std::string::npos);
}

TEST(RateLimitedLog, OneLinePerIntervalWithACountOfWhatWasHeldBack) {
  std::vector<std::string> lines;
  core::logger log("ingest", [&](std::string_view l) { lines.emplace_back(l); });
  core::rate_limited_log limited(log, std::chrono::seconds(1));
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i)
    limited.line("bad entry " + std::to_string(i), t0 + std::chrono::milliseconds(i));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "cutover: ingest: bad entry 0");
  limited.line("bad entry 100", t0 + std::chrono::milliseconds(1000));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "cutover: ingest: bad entry 100 (99 similar lines suppressed)");
  limited.line("bad entry 101", t0 + std::chrono::milliseconds(2500));
  EXPECT_EQ(lines.back(), "cutover: ingest: bad entry 101");
}

}  // namespace
}  // namespace cutover::ingest::test
