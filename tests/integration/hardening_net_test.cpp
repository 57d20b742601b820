// Issue 12, the HTTP/WebSocket half: each test reproduces what the hardening session broke,
// with raw sockets (tests/support/tcp_client) against the real `cutover serve` on
// 127.0.0.1:0, a real redis-server and, for pass-through, the real legacy_sim. Each failed
// before its fix. Synchronisation is on answers, closes and /metrics values.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "cutover_proc.hpp"
#include "legacy_sim_proc.hpp"
#include "tcp_client.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::http_post;
using testing::redis_server;
using testing::tcp_client;
namespace json = boost::json;

// Sends `request` on a fresh connection and reads one response.
struct raw_reply {
  int status = 0;
  std::string all;  // everything received
  bool closed = false;
};
raw_reply exchange(int port, const std::string& request, std::chrono::milliseconds t = 10s) {
  tcp_client c(port);
  c.send_all(request);
  c.read_response(t);
  raw_reply r{c.status(), c.received(), false};
  r.closed = c.wait_closed(2s);
  r.all = c.received();
  return r;
}

// ---- 1. identity and forwarded headers (DESIGN §7) ------------------------------------------

// What legacy_sim's /api/echo saw of a request passed through by Cutover.
json::object echoed_headers(int port, const std::map<std::string, std::string>& headers) {
  auto r = http_post(port, "/api/echo", "{}", headers);
  EXPECT_EQ(r.status, 200) << r.body;
  if (r.status != 200) return {};
  return json::parse(r.body).as_object()["headers"].as_object();
}

std::string text(const json::object& h, const char* name) {
  auto* v = h.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : "<absent>";
}

const std::map<std::string, std::string> kClientClaims = {
    {"X-User-Id", "5"},
    {"X-Forwarded-For", "6.6.6.6"},
    {"X-Forwarded-Host", "evil.example"},
    {"X-Forwarded-Proto", "https"},
    {"Forwarded", "for=6.6.6.6;proto=https"},
    {"X-Real-IP", "6.6.6.6"},
};

std::vector<std::string> header_mode(const std::string& upstream, const std::string& trusted) {
  return {"--auth",         "header", "--auth-header", "X-User-Id",
          "--trusted-peer", trusted,  "--upstream",    upstream};
}

TEST(ForwardedHeaders, AnUntrustedClientsIdentityAndForwardedHeadersNeverReachTheUpstream) {
  redis_server redis;
  testing::legacy_sim legacy;
  cutover_server srv(redis, header_mode(legacy.url(), "10.0.0.0/8"));  // 127.0.0.1: untrusted
  auto h = echoed_headers(srv.port(), kClientClaims);
  EXPECT_FALSE(h.contains("x-user-id")) << json::serialize(h);
  EXPECT_EQ(text(h, "x-forwarded-for"), "127.0.0.1") << json::serialize(h);
  EXPECT_EQ(text(h, "x-forwarded-host"), "127.0.0.1:" + std::to_string(srv.port()));
  EXPECT_EQ(text(h, "x-forwarded-proto"), "http");
  EXPECT_FALSE(h.contains("forwarded")) << json::serialize(h);
  EXPECT_FALSE(h.contains("x-real-ip")) << json::serialize(h);
  EXPECT_EQ(srv.metric("cutover_untrusted_headers_removed_total"), 1);
}

TEST(ForwardedHeaders, ATrustedGatewaysHeadersAreKeptAndItsAddressAppended) {
  redis_server redis;
  testing::legacy_sim legacy;
  cutover_server srv(redis, header_mode(legacy.url(), "127.0.0.0/8"));
  auto h = echoed_headers(srv.port(), kClientClaims);
  EXPECT_EQ(text(h, "x-user-id"), "5") << json::serialize(h);
  EXPECT_EQ(text(h, "x-forwarded-for"), "6.6.6.6, 127.0.0.1");
  EXPECT_EQ(text(h, "x-forwarded-host"), "evil.example");
  EXPECT_EQ(text(h, "x-forwarded-proto"), "https");
  EXPECT_EQ(text(h, "forwarded"), "for=6.6.6.6;proto=https");
  EXPECT_EQ(text(h, "x-real-ip"), "6.6.6.6");
}

TEST(ForwardedHeaders, AnIdentityHeaderSentTwiceIs400OnEveryPath) {
  redis_server redis;
  testing::legacy_sim legacy;
  cutover_server srv(redis, header_mode(legacy.url(), "127.0.0.0/8"));
  // A gateway that appends its header after the client's: before, the first one (the
  // client's) was the identity on Cutover's routes and passed on to the app.
  for (std::string target : {"/api/notifications/poll?since=0", "/api/echo", "/v1/ws"}) {
    auto r = exchange(srv.port(), "GET " + target +
                                      " HTTP/1.1\r\nHost: x\r\nX-User-Id: 5\r\n"
                                      "X-User-Id: 7\r\n\r\n");
    EXPECT_EQ(r.status, 400) << target << ": " << r.all;
    EXPECT_NE(r.all.find("X-User-Id"), std::string::npos) << r.all;
    EXPECT_TRUE(r.closed) << target;
  }
  auto twice = exchange(srv.port(),
                        "GET /api/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
                        "Authorization: Bearer b\r\n\r\n");
  EXPECT_EQ(twice.status, 400) << twice.all;
  // One is fine.
  auto once = exchange(srv.port(),
                       "GET /api/echo HTTP/1.1\r\nHost: x\r\nX-User-Id: 5\r\n"
                       "Connection: close\r\n\r\n");
  EXPECT_EQ(once.status, 200) << once.all;
}

}  // namespace
}  // namespace cutover
