// Issue 12, the HTTP/WebSocket half: each test reproduces what the hardening session broke,
// with raw sockets (tests/support/tcp_client) against the real `cutover serve` on
// 127.0.0.1:0, a real redis-server and, for pass-through, the real legacy_sim. Each failed
// before its fix. Synchronisation is on answers, closes and /metrics values.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <string>
#include <thread>
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
using testing::raw_ws;
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
  // With a body announced and not sent: answered from the header.
  auto with_body = exchange(srv.port(),
                            "POST /api/echo HTTP/1.1\r\nHost: x\r\nX-User-Id: 5\r\n"
                            "X-User-Id: 7\r\nContent-Length: 100000\r\n\r\n",
                            5s);
  EXPECT_EQ(with_body.status, 400) << with_body.all;
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

// ---- 2. HTTP framing (DESIGN §8, RFC 9112) ---------------------------------------------------

std::size_t responses_in(const std::string& bytes) {
  std::size_t n = 0;
  for (auto p = bytes.find("HTTP/1.1 "); p != std::string::npos; p = bytes.find("HTTP/1.1 ", p + 1))
    ++n;
  return n;
}

class Framing : public ::testing::Test {
 protected:
  redis_server redis_;
  testing::legacy_sim legacy_;
  cutover_server srv_{redis_, {"--auth", "insecure-query", "--upstream", legacy_.url()}};
};

TEST_F(Framing, TransferEncodingOtherThanChunkedLastIsRefusedAndNothingIsSmuggled) {
  // Each is followed by what a lenient front proxy would have sent as the body: a second
  // request. Before, `chunked, identity`, `xchunked` and `identity` + Content-Length were
  // read as one request without (or with the wrong) body and the rest ran as a second.
  const std::string smuggled = "GET /api/echo?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string chunk = "5\r\nhello\r\n0\r\n\r\n";
  struct probe {
    std::string headers;
    int status;
  };
  const std::vector<probe> probes = {
      {"Transfer-Encoding: chunked, identity\r\n", 400},
      {"Transfer-Encoding: xchunked\r\n", 400},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
      {"Transfer-Encoding: chunked, chunked\r\n", 400},
      {"Transfer-Encoding: identity\r\nContent-Length: 26\r\n", 400},
      {"Content-Length: 26\r\nTransfer-Encoding: chunked\r\n", 400},
      {"Transfer-Encoding: chunked\r\nContent-Length: 26\r\n", 400},
      {"Content-Length: 26\r\nContent-Length: 27\r\n", 400},
      {"Transfer-Encoding: gzip, chunked\r\n", 501},
      {"Transfer-Encoding: ,\r\n", 400},
  };
  for (const auto& p : probes) {
    auto r = exchange(srv_.port(), "POST /api/echo HTTP/1.1\r\nHost: x\r\n" + p.headers + "\r\n" +
                                       chunk + smuggled);
    EXPECT_EQ(r.status, p.status) << p.headers << r.all;
    EXPECT_EQ(responses_in(r.all), 1u) << p.headers << r.all;
    EXPECT_EQ(r.all.find("smuggled"), std::string::npos) << p.headers << r.all;
    EXPECT_TRUE(r.closed) << p.headers;
  }
  // HTTP/1.0 has no chunked coding (RFC 9112 §6.1).
  auto old = exchange(srv_.port(),
                      "POST /api/echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: "
                      "chunked\r\n\r\n" +
                          chunk);
  EXPECT_EQ(old.status, 400) << old.all;
  // The proper form works, and keep-alive continues after it.
  tcp_client c(srv_.port());
  c.send_all("POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk);
  ASSERT_TRUE(c.read_response());
  EXPECT_EQ(c.status(), 200) << c.received();
  EXPECT_NE(c.body().find(R"("body":"hello")"), std::string::npos) << c.received();
}

TEST_F(Framing, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  tcp_client c(srv_.port());
  c.send_all(
      "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\n");
  // Before, nothing came: curl waits 1 s for this, other clients longer.
  ASSERT_TRUE(c.read_some(5s)) << "no 100 Continue";
  EXPECT_EQ(c.received().rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << c.received();
  c.send_all("hello");
  while (c.received().find("HTTP/1.1 200") == std::string::npos && c.read_some(10s)) {
  }
  EXPECT_NE(c.received().find("HTTP/1.1 200"), std::string::npos) << c.received();
  EXPECT_NE(c.received().find(R"("body":"hello")"), std::string::npos) << c.received();
  // Another expectation: 417, and the body is never read.
  auto other = exchange(srv_.port(),
                        "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                        "Expect: something-else\r\n\r\n");
  EXPECT_EQ(other.status, 417) << other.all;
}

TEST_F(Framing, WebSocketHandshakesNeedHttp11AndABase64KeyOf16Bytes) {
  auto upgrade = [&](const std::string& version, const std::string& key) {
    return exchange(srv_.port(),
                    "GET /v1/ws?user=1 " + version +
                        "\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                        key + "\r\n\r\n",
                    5s);
  };
  EXPECT_EQ(upgrade("HTTP/1.1", "dGhlIHNhbXBsZSBub25jZQ==").status, 101);
  // HTTP/1.0: before, upgraded.
  auto v10 = upgrade("HTTP/1.0", "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(v10.status, 400) << v10.all;
  // 24 characters that are not base64, or base64 of 18 bytes: before, accepted.
  EXPECT_EQ(upgrade("HTTP/1.1", "!!!!!!!!!!!!!!!!!!!!!!==").status, 400);
  EXPECT_EQ(upgrade("HTTP/1.1", "AAAAAAAAAAAAAAAAAAAAAAAA").status, 400);
  EXPECT_EQ(upgrade("HTTP/1.1", "dGhlIHNhbXBsZQ==").status, 400);  // 10 bytes
}

TEST_F(Framing, HeadOnThePollPathAnswersTheGetsHeaderWithoutABody) {
  testing::redis_client pub(redis_.port());
  pub.xadd("cutover:notifications", {{"topic", "user:1"}, {"data", "1"}});
  ASSERT_TRUE(srv_.wait_metric_at_least("cutover_ingest_entries_total", 1));
  auto get = http_get(srv_.port(), "/api/notifications/poll?user=1&since=0");
  ASSERT_EQ(get.status, 200);
  tcp_client c(srv_.port());
  c.send_all(
      "HEAD /api/notifications/poll?user=1&since=0 HTTP/1.1\r\nHost: x\r\n"
      "Connection: close\r\n\r\n");
  ASSERT_TRUE(c.wait_closed());
  const std::string& in = c.received();
  EXPECT_EQ(in.rfind("HTTP/1.1 200", 0), 0u) << in;  // before: 405
  EXPECT_NE(in.find("Content-Length: " + std::to_string(get.body.size()) + "\r\n"),
            std::string::npos)
      << in;
  EXPECT_EQ(in.substr(in.find("\r\n\r\n") + 4), "") << "HEAD has no body";
}

// ---- 2b. identity lookups: as many at once as --auth-threads, no more (issue 12) -------------

// A who-am-I endpoint that holds each request until `gate` of them have arrived (then
// answers all, and later ones at once) and records how many were in flight at most: the
// lookups Cutover runs at the same time, seen from the legacy app's side.
class gated_whoami {
 public:
  explicit gated_whoami(int gate) : gate_(gate) {
    svr_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    svr_.Get("/whoami", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::unique_lock lk(mu_);
        max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
        if (++arrived_ >= gate_) cv_.notify_all();
        cv_.wait_for(lk, 10s, [&] { return arrived_ >= gate_; });
        --in_flight_;
      }
      res.set_content(R"({"userId":")" + req.get_header_value("Cookie").substr(2) + "\"}",
                      "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    // bind_to_any_port() already listens: connections wait in the backlog until accepted.
  }
  ~gated_whoami() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/whoami"; }
  int max_in_flight() {
    std::lock_guard lk(mu_);
    return max_in_flight_;
  }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  int gate_, arrived_ = 0, in_flight_ = 0, max_in_flight_ = 0;
};

TEST(AuthThreads, AsManyIdentityLookupsRunAtOnceAsAuthThreadsAndNoMore) {
  redis_server redis;
  // 12 users with cold credentials at once: before, 4 fixed threads asked in turn (600 users
  // at 100 ms each waited 7.2 s at p50). With --auth-threads 8, the first 8 are asked together
  // (the endpoint answers once 8 have arrived, so fewer at once would hold them all 10 s);
  // the 9th waits for a thread.
  gated_whoami whoami(8);
  cutover_server srv(redis, {"--auth", "upstream", "--auth-url", whoami.url(), "--auth-threads",
                             "8", "--poll-timeout", "100ms"});
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::future<testing::http_reply>> polls;
  for (int i = 0; i < 12; ++i)
    polls.push_back(std::async(std::launch::async, [&, i] {
      return http_get(srv.port(), "/api/notifications/poll?since=0",
                      {{"Cookie", "s=" + std::to_string(i)}});
    }));
  for (auto& p : polls) EXPECT_EQ(p.get().status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s) << "the lookups were not run 8 at once";
  EXPECT_EQ(whoami.max_in_flight(), 8);
  EXPECT_EQ(srv.metric(R"(cutover_auth_upstream_lookups_total{result="asked"})"), 12);
}

// ---- 3. bodies: after identity, within one budget (DESIGN §8) -----------------------------------

TEST(Bodies, RoutesThatTakeNoBodyAndAPublishWithoutTheAdminTokenAnswerBeforeTheBody) {
  redis_server redis;
  cutover_server srv(redis, {"--auth", "insecure-query", "--admin-token", "sekrit"});
  // 8 MiB announced, nothing sent: before, each waited for (and buffered) the whole body.
  const std::string big = "Content-Length: 8388608\r\n";
  auto pub = exchange(srv.port(),
                      "POST /v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      "wrong\r\n" +
                          big + "\r\n",
                      5s);
  EXPECT_EQ(pub.status, 401) << pub.all;
  EXPECT_TRUE(pub.closed);
  for (std::string target : {"/healthz", "/api/notifications/poll?user=1", "/v1/ws?user=1"}) {
    auto r = exchange(srv.port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + big + "\r\n", 5s);
    EXPECT_EQ(r.status, 400) << target << ": " << r.all;
    EXPECT_TRUE(r.closed) << target;
  }
  // With the token the body is read and published.
  tcp_client ok(srv.port());
  const std::string body = R"({"topic":"user:1","data":1})";
  ok.send_all(
      "POST /v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(ok.read_response());
  EXPECT_EQ(ok.status(), 202) << ok.received();
}

TEST(Bodies, BodiesInFlightShareOneBudgetAndThePastItGet503) {
  redis_server redis;
  // Cutover's own route that takes a body (publish) holds it whole: its Content-Length is
  // reserved from the header on. (Pass-through bodies stream and hold far less; below.)
  cutover_server srv(redis,
                     {"--auth", "insecure-query", "--admin-token", "adm", "--body-budget-mb", "1"});
  const std::string auth = "Authorization: Bearer adm\r\n";
  const std::string header =
      "POST /v1/publish HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 600000\r\n\r\n";
  // 600,000 bytes of the budget's 1 MiB are held for the first from its header on; the
  // 100 Continue says the header was judged.
  tcp_client first(srv.port());
  first.send_all("POST /v1/publish HTTP/1.1\r\nHost: x\r\n" + auth +
                 "Content-Length: 600000\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_TRUE(first.read_some(5s));
  ASSERT_EQ(first.received().rfind("HTTP/1.1 100", 0), 0u) << first.received();
  auto second = exchange(srv.port(), header, 5s);
  EXPECT_EQ(second.status, 503) << second.all;
  EXPECT_NE(second.all.find("Retry-After: 1"), std::string::npos) << second.all;
  EXPECT_EQ(srv.metric("cutover_body_budget_refusals_total"), 1);
  // A chunked body is counted as it grows.
  tcp_client chunked(srv.port());
  chunked.send_all("POST /v1/publish HTTP/1.1\r\nHost: x\r\n" + auth +
                   "Transfer-Encoding: chunked\r\n\r\n");
  std::string piece = "10000\r\n" + std::string(0x10000, 'y') + "\r\n";
  for (int i = 0; i < 7 && chunked.send_all(piece); ++i) {  // 458,752 bytes > 1 MiB - 600,000
  }
  ASSERT_TRUE(chunked.read_response());
  EXPECT_EQ(chunked.status(), 503) << chunked.received().substr(0, 200);
  EXPECT_EQ(srv.metric("cutover_body_budget_refusals_total"), 2);
  // The first finishes (its body is no entry: 400); then its share is free again.
  first.send_all(std::string(600000, 'x'));
  while (first.received().find("HTTP/1.1 400") == std::string::npos && first.read_some(10s)) {
  }
  EXPECT_NE(first.received().find("HTTP/1.1 400"), std::string::npos);
  auto third = exchange(srv.port(), header + std::string(600000, 'z'), 10s);
  EXPECT_EQ(third.status, 400) << third.all.substr(0, 200);
  EXPECT_EQ(srv.metric("cutover_body_budget_refusals_total"), 2);
}

TEST(Bodies, PassThroughBodiesStreamToTheUpstreamUnderTheirOwnCapAndTheBudget) {
  redis_server redis;
  testing::legacy_sim legacy;
  cutover_server srv(
      redis, {"--auth", "insecure-query", "--upstream", legacy.url(), "--body-budget-mb", "1"});
  // 3 MiB, three times the whole budget and 48 reads of 64 KiB: before, the body was held
  // whole and its Content-Length reserved up front, so this was 503.
  std::string big(3 << 20, 'b');
  for (std::size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>('a' + i % 26);
  auto r = http_post(srv.port(), "/api/echo", big, {}, 30s);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
  auto echoed = json::parse(r.body).as_object();
  EXPECT_TRUE(echoed["body"].as_string() == big) << "the upstream got the body intact";
  // Chunked, from a raw client, the same.
  {
    tcp_client c(srv.port());
    c.send_all("POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (std::size_t off = 0; off < big.size(); off += 0x10000) {
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", std::min<std::size_t>(0x10000, big.size() - off));
      ASSERT_TRUE(c.send_all(size + big.substr(off, 0x10000) + "\r\n"));
    }
    c.send_all("0\r\n\r\n");
    ASSERT_TRUE(c.read_response(30s));
    EXPECT_EQ(c.status(), 200);
    EXPECT_TRUE(json::parse(c.body()).as_object()["body"].as_string() == big);
  }
  // Each streamed body holds 256 KiB of the budget at most: four of them fill 1 MiB, the
  // fifth is refused from its header.
  std::vector<std::unique_ptr<tcp_client>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<tcp_client>(srv.port()));
    slow.back()->send_all(
        "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
        "Expect: 100-continue\r\n\r\n");
    ASSERT_TRUE(slow.back()->read_some(5s));
    ASSERT_EQ(slow.back()->received().rfind("HTTP/1.1 100", 0), 0u) << slow.back()->received();
  }
  auto fifth = exchange(
      srv.port(), "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 5s);
  EXPECT_EQ(fifth.status, 503) << fifth.all;
  slow.clear();
  // Over the cap (8 MiB): 413 and close, while the body is still arriving.
  tcp_client huge(srv.port());
  huge.send_all("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9437184\r\n\r\n");
  std::thread sender([&] {
    std::string mib(1 << 20, 'h');
    for (int i = 0; i < 9 && huge.send_all(mib); ++i) {
    }
  });
  ASSERT_TRUE(huge.read_response(30s));
  EXPECT_EQ(huge.status(), 413) << huge.received().substr(0, 200);
  EXPECT_TRUE(huge.wait_closed(10s));
  sender.join();
  // And the budget is whole again.
  auto after = http_post(srv.port(), "/api/echo", big, {}, 30s);
  EXPECT_EQ(after.status, 200);
}

TEST(Bodies, AStalledOrTrickledBodyIs408AndItsShareOfTheBudgetComesBack) {
  redis_server redis;
  testing::legacy_sim legacy;
  cutover_server srv(
      redis, {"--auth", "insecure-query", "--upstream", legacy.url(), "--body-budget-mb", "1",
              "--header-timeout", "1s", "--body-idle-timeout", "1s", "--body-timeout", "3s"});
  // Four streamed bodies hold the whole 1 MiB budget (256 KiB each), by clients that then
  // send one byte at a time, or nothing: they must not hold it for as long as they like.
  std::vector<std::unique_ptr<tcp_client>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<tcp_client>(srv.port()));
    slow.back()->send_all(
        "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n"
        "Expect: 100-continue\r\n\r\n");
    ASSERT_TRUE(slow.back()->read_some(5s));
    ASSERT_EQ(slow.back()->received().rfind("HTTP/1.1 100", 0), 0u) << slow.back()->received();
  }
  const auto started = std::chrono::steady_clock::now();
  auto blocked = exchange(
      srv.port(), "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 600000\r\n\r\n", 5s);
  ASSERT_EQ(blocked.status, 503) << "the budget is held: " << blocked.all;
  // A byte every 100 ms never stalls for --body-idle-timeout, so --body-timeout ends it; the
  // three that send nothing are cut by the idle timeout long before.
  auto& trickler = *slow.front();
  for (int i = 0; i < 100 && trickler.received().find("HTTP/1.1 408") == std::string::npos; ++i) {
    trickler.send_all("x");
    trickler.read_some(100ms);
  }
  EXPECT_GE(std::chrono::steady_clock::now() - started, 2500ms)
      << "each byte extends the idle deadline: the trickle is cut by --body-timeout only";
  for (auto& c : slow) {
    while (c->received().find("HTTP/1.1 408") == std::string::npos && c->read_some(5s)) {
    }
    EXPECT_NE(c->received().find("HTTP/1.1 408"), std::string::npos) << c->received();
    EXPECT_TRUE(c->wait_closed(5s));
  }
  EXPECT_NE(trickler.received().find("--body-timeout"), std::string::npos) << trickler.received();
  EXPECT_EQ(srv.metric(R"(cutover_body_timeouts_total{reason="total"})"), 1);
  EXPECT_EQ(srv.metric(R"(cutover_body_timeouts_total{reason="idle"})"), 3);
  // Their shares are back: a body of 600,000 bytes is taken and passed through.
  auto next = http_post(srv.port(), "/api/echo", std::string(600000, 'z'));
  EXPECT_EQ(next.status, 200) << next.body.substr(0, 200);
}

TEST(Bodies, ABodyThatKeepsComingArrivesWholeThoughItTakesLongerThanTheHeaderTimeout) {
  redis_server redis;
  testing::legacy_sim legacy;
  cutover_server srv(redis, {"--auth", "insecure-query", "--upstream", legacy.url(),
                             "--header-timeout", "1s", "--body-idle-timeout", "2s"});
  // Twelve pieces, each well within --body-idle-timeout of the last, about 3.6 s in all:
  // before, the whole request had to be in within --header-timeout (408 after 1-2 s).
  std::string body;
  for (int i = 0; i < 12; ++i) body += std::string(1000, static_cast<char>('a' + i));
  auto send_slowly = [&](bool chunked) {
    tcp_client c(srv.port());
    c.send_all(std::string("POST /api/echo HTTP/1.1\r\nHost: x\r\n") +
               (chunked ? "Transfer-Encoding: chunked\r\n\r\n"
                        : "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
    for (int i = 0; i < 12; ++i) {
      std::string piece = body.substr(static_cast<std::size_t>(i) * 1000, 1000);
      ASSERT_TRUE(c.send_all(chunked ? "3e8\r\n" + piece + "\r\n" : piece));
      if (i == 11 && !chunked) break;  // complete: the answer comes now
      EXPECT_FALSE(c.read_some(300ms)) << "answered before the body was complete: " << c.received();
    }
    if (chunked) c.send_all("0\r\n\r\n");
    ASSERT_TRUE(c.read_response(10s));
    ASSERT_EQ(c.status(), 200) << c.received();
    EXPECT_TRUE(json::parse(c.body()).as_object()["body"].as_string() == body)
        << "the upstream got the body whole (chunked: " << chunked << ")";
  };
  send_slowly(false);
  send_slowly(true);
  EXPECT_EQ(srv.metric(R"(cutover_body_timeouts_total{reason="idle"})"), 0);
  EXPECT_EQ(srv.metric(R"(cutover_body_timeouts_total{reason="total"})"), 0);
}

TEST(Bodies, ABodyThatStopsMidwayIsCutAfterTheIdleTimeoutWith408AndClose) {
  redis_server redis;
  testing::legacy_sim legacy;
  // A header timeout far longer than the test: only the body's idle deadline can cut it.
  cutover_server srv(redis, {"--auth", "insecure-query", "--upstream", legacy.url(),
                             "--header-timeout", "60s", "--body-idle-timeout", "1s"});
  tcp_client c(srv.port());
  c.send_all("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" +
             std::string(120000, 'h'));
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.read_response(10s)) << "no answer to a body that stopped: " << c.received();
  const auto waited = std::chrono::steady_clock::now() - stopped;
  EXPECT_EQ(c.status(), 408) << c.received();
  EXPECT_NE(c.received().find("--body-idle-timeout"), std::string::npos) << c.received();
  EXPECT_NE(c.received().find("Connection: close"), std::string::npos) << c.received();
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 5s) << "cut within the idle timeout and the once-a-second sweep";
  EXPECT_EQ(srv.metric(R"(cutover_body_timeouts_total{reason="idle"})"), 1);
  EXPECT_EQ(srv.metric(R"(cutover_body_timeouts_total{reason="total"})"), 0);
  // Not the upstream's failure: it is not counted as an upstream outcome.
  EXPECT_EQ(srv.metric(R"(cutover_upstream_requests_total{outcome="unreachable"})"), 0);
  EXPECT_EQ(srv.metric(R"(cutover_upstream_requests_total{outcome="timeout"})"), 0);
}

TEST(Bodies, AnUpstreamThatFailsWhileTheBodyIsStillComingIsTheUpstreamsErrorNotA408) {
  redis_server redis;
  // Nothing listens there: the worker's connect fails while the client is mid-body. Before,
  // any failure while the body was still coming was answered as the client's 408.
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(testing::free_port());
  cutover_server srv(
      redis, {"--auth", "insecure-query", "--upstream", nowhere, "--body-idle-timeout", "30s"});
  tcp_client c(srv.port());
  c.send_all("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
             std::string(1000, 'u'));
  ASSERT_TRUE(c.read_response(10s)) << c.received();
  EXPECT_EQ(c.status(), 502) << c.received();
  EXPECT_NE(c.received().find("upstream unreachable"), std::string::npos) << c.received();
  EXPECT_TRUE(c.wait_closed(5s)) << "the rest of the body is never read";
  EXPECT_EQ(srv.metric(R"(cutover_upstream_requests_total{outcome="unreachable"})"), 1);
  EXPECT_EQ(srv.metric(R"(cutover_body_timeouts_total{reason="idle"})"), 0);
}

// ---- 4. close codes and reply bounds (RFC 6455 §7.4, DESIGN §5) ---------------------------------

std::uint16_t close_code_of(const raw_ws::frame& f) {
  if (f.opcode != 8 || f.payload.size() < 2) return 0;
  return static_cast<std::uint16_t>(static_cast<unsigned char>(f.payload[0]) << 8 |
                                    static_cast<unsigned char>(f.payload[1]));
}

TEST(CloseCodes, CodesThatMayNotBeOnTheWireAreAnswered1002AndNeverEchoed) {
  redis_server redis;
  cutover_server srv(redis, {"--auth", "insecure-query"});
  auto answer_to = [&](std::uint16_t code) {
    raw_ws ws(srv.port(), "/v1/ws?user=1");
    EXPECT_EQ(ws.handshake_status(), 101);
    std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    ws.send_frame(8, payload);
    for (int i = 0; i < 10; ++i) {
      auto f = ws.next(5s);
      if (f.opcode == 8 || f.opcode == -1) return close_code_of(f);
    }
    return std::uint16_t{0};
  };
  // Before, each was echoed: 1005, 1006 and 1015 are never sent, the rest are not codes.
  for (std::uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535})
    EXPECT_EQ(answer_to(bad), 1002) << bad;
  for (std::uint16_t good : {1000, 1001, 1003, 1011, 3000, 4999}) EXPECT_EQ(answer_to(good), good);
  EXPECT_GE(srv.metric(R"(cutover_ws_closes_total{reason="protocol"})").value_or(0), 10);
}

TEST(CloseCodes, RepliesToAPeerThatNeverReadsStayWithinTheQueueBoundAndItIsClosed) {
  redis_server redis;
  constexpr int kQueue = 65536;
  cutover_server srv(redis, {"--auth", "insecure-query", "--ws-queue-bytes", std::to_string(kQueue),
                             "--stall-timeout", "1s"});
  raw_ws ws(srv.port(), "/v1/ws?user=1", 4096);  // a small receive buffer, never read
  ASSERT_EQ(ws.handshake_status(), 101);
  // 4 MiB of empty binary frames (6 bytes each), each answered with an ~80-byte error
  // frame: before, about 56 MB of replies were queued for a peer that reads none.
  std::string frames;
  for (int i = 0; i < (4 << 20) / 6; ++i) frames += std::string("\x82\x80\x01\x02\x03\x04", 6);
  std::thread sender([&] { ws.send_raw(frames); });  // ends when the server closes
  EXPECT_TRUE(srv.wait_metric_at_least(R"(cutover_ws_closes_total{reason="protocol"})", 1, 30s));
  auto queued = srv.metric("cutover_ws_queued_bytes").value_or(-1);
  EXPECT_LE(queued, 2 * kQueue + 200) << "replies past the bound";
  sender.join();  // the server closes after --stall-timeout
}

TEST(CloseCodes, PongsToAPeerThatNeverReadsStopItsReadsAtTheQueueBoundUntilTheStallClose) {
  redis_server redis;
  constexpr int kQueue = 65536;
  cutover_server srv(redis, {"--auth", "insecure-query", "--ws-queue-bytes", std::to_string(kQueue),
                             "--stall-timeout", "2s"});
  raw_ws ws(srv.port(), "/v1/ws?user=1", 4096);  // a small receive buffer, never read
  ASSERT_EQ(ws.handshake_status(), 101);
  // 48 MiB of empty pings (6 bytes each), each answered with a 2-byte pong: 16 MB of pongs,
  // more than the kernel's socket buffers take, for a peer that reads none (issue 12: 50 such
  // connections took RSS to 1.3 GB). Pongs are small, so the server stops reading once they
  // pass the bound and they never reach twice it.
  std::string pings;
  for (int i = 0; i < (48 << 20) / 6; ++i) pings += std::string("\x89\x80\x01\x02\x03\x04", 6);
  std::thread sender([&] { ws.send_raw(pings); });  // ends when the server closes
  EXPECT_TRUE(srv.wait_metric_at_least("cutover_ws_queued_bytes", kQueue, 20s));
  // Reading has stopped (it stops only past the bound): what is queued now is all there is.
  EXPECT_LE(srv.metric("cutover_ws_queued_bytes").value_or(-1), 2 * kQueue);
  EXPECT_TRUE(srv.wait_metric_at_least(R"(cutover_ws_closes_total{reason="stalled"})", 1, 30s));
  sender.join();
}

// ---- 6. resumes and store reads -------------------------------------------------------------

TEST(Resume, ResumesWhileAReadIsInFlightCoalesceAndMoreThan20ASecondClose1008) {
  redis_server redis;
  testing::redis_client pub(redis.port());
  // A small cache: a resume from 0 is a store read.
  cutover_server srv(redis, {"--auth", "insecure-query", "--cache-entries", "20"});
  constexpr int kEntries = 300;
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < kEntries; ++i)
    cmds.push_back(
        {"XADD", "cutover:notifications", "*", "topic", "user:1", "data", std::to_string(i)});
  pub.pipeline(cmds);
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", kEntries));
  auto burst_of = [](int n) {
    std::string burst;
    for (int i = 0; i < n; ++i) {
      std::string frame = R"({"type":"resume","since":"0"})";
      burst += '\x81';
      burst += static_cast<char>(0x80 | frame.size());
      burst += std::string("\0\0\0\0", 4);  // a zero mask leaves the payload as it is
      burst += frame;
    }
    return burst;
  };
  raw_ws ws(srv.port(), "/v1/ws?user=1", 1 << 20);
  ASSERT_EQ(ws.handshake_status(), 101);
  auto before = srv.metric("cutover_store_reads_total").value_or(0);
  // 20 resumes in a burst (the most a second allows): before, each started a store read
  // of its own on the shared readers (issue 12: 500 of them held another user's poll 44 s).
  ws.send_raw(burst_of(20));
  // The last resume is answered from 0 to the end.
  int last = -1;
  while (last != kEntries - 1) {
    auto f = ws.next_text(20s);
    ASSERT_TRUE(f) << "last data seen " << last;
    if (testing::json_field(*f, "type") == "notification")
      last = std::stoi(testing::json_field(*f, "data"));
  }
  auto reads = srv.metric("cutover_store_reads_total").value_or(0) - before;
  std::printf("store reads for 20 resumes: %.0f\n", reads);
  EXPECT_LE(reads, 5) << "store reads for 20 resumes";

  // More than 20 in a second: closed 1008.
  raw_ws flood(srv.port(), "/v1/ws?user=1");
  ASSERT_EQ(flood.handshake_status(), 101);
  flood.send_raw(burst_of(100));
  std::uint16_t code = 0;
  for (int i = 0; i < 1000 && code == 0; ++i) {
    auto f = flood.next(10s);
    if (f.opcode == -1) break;
    if (f.opcode == 8) code = close_code_of(f);
  }
  EXPECT_EQ(code, 1008);
}

// ---- 7. health checks at the connection limit (DESIGN §11) ------------------------------------

TEST(HealthReserve, HealthChecksAreAnsweredAtTheConnectionLimitAndNothingElseIs) {
  redis_server redis;
  cutover_server srv(
      redis, {"--auth", "insecure-query", "--max-connections", "4", "--health-reserve", "2"});
  // The limit, filled with real connections that each finished a request (so counted).
  std::vector<std::unique_ptr<tcp_client>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<tcp_client>(srv.port()));
    held.back()->send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(held.back()->read_response());
    ASSERT_EQ(held.back()->status(), 200);
  }
  // Before, each of these was the limit's 503 (a liveness probe failing under load).
  auto health = exchange(srv.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  EXPECT_EQ(health.status, 200) << health.all;
  EXPECT_NE(health.all.find(R"({"status":"ok"})"), std::string::npos) << health.all;
  EXPECT_TRUE(health.closed) << "a reserved slot serves one request";
  {
    // A head in two pieces (a probe's request split across TCP segments).
    tcp_client split(srv.port());
    split.send_all("GET /heal");
    ASSERT_FALSE(split.read_some(200ms)) << split.received();
    split.send_all("thz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(split.read_response(5s));
    EXPECT_EQ(split.status(), 200) << split.received();
  }
  auto head = exchange(srv.port(), "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  EXPECT_EQ(head.status, 200) << head.all;
  EXPECT_EQ(head.all.find(R"({"status")"), std::string::npos) << head.all;
  // Readiness says "not now", so a balancer sends new clients elsewhere.
  auto ready = exchange(srv.port(), "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  EXPECT_EQ(ready.status, 503) << ready.all;
  EXPECT_NE(ready.all.find(R"("connections":"at_limit")"), std::string::npos) << ready.all;
  // Everything else is still refused: the reserve is no way around the limit.
  for (std::string target : {"/metrics", "/v1/ws?user=1", "/api/notifications/poll?user=1"}) {
    auto other = exchange(srv.port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
    EXPECT_EQ(other.status, 503) << target << ": " << other.all;
    EXPECT_NE(other.all.find("too many connections"), std::string::npos) << other.all;
    EXPECT_TRUE(other.closed) << target;
  }
  // Two silent connections take the whole reserve; a third health check is refused...
  tcp_client silent1(srv.port()), silent2(srv.port());
  // (the reserve is taken in accept order; a check answered on the first try would mean
  // the silent ones were not holding it)
  auto refused = exchange(srv.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  EXPECT_EQ(refused.status, 503) << refused.all;
  // ...until the silent ones are cut off by the probe deadline (1 s, the sweep's second),
  // with the limit's 503: a probe holds its slot for at most about two seconds.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(silent1.wait_closed(5s));
  ASSERT_TRUE(silent2.wait_closed(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(silent1.status(), 503) << silent1.received();
  auto again = exchange(srv.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  EXPECT_EQ(again.status, 200) << again.all;
  held.clear();
  int status = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       status != 200 && std::chrono::steady_clock::now() < deadline;)
    status = http_get(srv.port(), "/metrics").status;
  ASSERT_EQ(status, 200);
  EXPECT_EQ(srv.metric("cutover_health_reserve_answers_total"), 5);
}

TEST(Resume, APollWhoseStoreReadIsQueuedPastItsTimeoutIsAnsweredAtTheTimeoutAndTheReadSkipped) {
  redis_server redis;
  testing::redis_client pub(redis.port());
  // One store reader, reads that are not free (64 shared topics of 100 entries each, none
  // in memory) and a short poll: 400 polls at once queue far past 300 ms of reader time.
  std::vector<std::string> flags = {
      "--auth",         "insecure-query", "--store-readers", "1", "--cache-entries", "1",
      "--poll-timeout", "300ms"};
  constexpr int kTopics = 64;
  for (int t = 0; t < kTopics; ++t) {
    flags.push_back("--shared-topic");
    flags.push_back("s" + std::to_string(t));
  }
  cutover_server srv(redis, flags);
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < 100; ++i)
    for (int t = 0; t < kTopics; ++t)
      cmds.push_back({"XADD", "cutover:notifications", "*", "topic", "s" + std::to_string(t),
                      "data", std::to_string(i)});
  pub.pipeline(cmds);
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 100 * kTopics, 60s));
  constexpr int kPolls = 400;
  std::vector<std::unique_ptr<tcp_client>> polls;
  for (int i = 0; i < kPolls; ++i) polls.push_back(std::make_unique<tcp_client>(srv.port()));
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kPolls; ++i)
    polls[i]->send_all("GET /api/notifications/poll?user=" + std::to_string(i) +
                       "&since=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  int answered = 0, empty = 0;
  for (auto& c : polls) {
    if (!c->read_response(20s) || c->status() != 200) continue;
    ++answered;
    if (c->body().find(R"("notifications":[])") != std::string::npos) ++empty;
  }
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(answered, kPolls);
  // Reads still queued when their polls were answered are skipped afterwards: wait until
  // every poll's read has run or been skipped.
  double reads = 0, late = 0, gone = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       reads + late + gone < kPolls && std::chrono::steady_clock::now() < deadline;) {
    reads = srv.metric("cutover_store_reads_total").value_or(0);
    late = srv.metric(R"(cutover_store_reads_skipped_total{reason="late"})").value_or(0);
    gone = srv.metric(R"(cutover_store_reads_skipped_total{reason="gone"})").value_or(0);
  }
  std::printf(
      "%d polls in %.2f s: %d answered empty at their timeout; %.0f reads ran, %.0f "
      "skipped late, %.0f gone\n",
      kPolls, std::chrono::duration<double>(took).count(), empty, reads, late, gone);
  // Before, every read ran in turn and each poll waited for its own (its timeout only
  // started after it): no poll was answered empty, no read was skipped.
  EXPECT_GE(late, 1);
  EXPECT_GE(empty, static_cast<int>(late)) << "a skipped read is answered as a timeout";
  EXPECT_EQ(reads + late + gone, kPolls) << "every poll read the store once, or skipped it";
}

// ---- 5. SIGTERM drains pass-through -------------------------------------------------------------

// An upstream that takes one request, says it arrived, and answers once told to.
class held_upstream {
 public:
  held_upstream() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("held_upstream: listen");
    port_ = ntohs(a.sin_port);
    worker_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      std::string in;
      char buf[4096];
      while (c >= 0 && in.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
      }
      arrived_.set_value();
      release_.get_future().wait();
      const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfinished";
      if (c >= 0) {
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~held_upstream() {
    release();
    ::shutdown(fd_, SHUT_RDWR);
    worker_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool wait_arrived(std::chrono::seconds t) {
    return arrived_future_.wait_for(t) == std::future_status::ready;
  }
  void release() {
    if (!released_) release_.set_value();
    released_ = true;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::promise<void> arrived_, release_;
  std::future<void> arrived_future_ = arrived_.get_future();
  bool released_ = false;
  std::thread worker_;
};

TEST(Drain, APassThroughRequestInFlightAtSigtermIsAnsweredWithinTheGrace) {
  redis_server redis;
  held_upstream up;
  cutover_server srv(redis, {"--auth", "insecure-query", "--upstream", up.url()});
  tcp_client c(srv.port());
  c.send_all("GET /legacy/page HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(up.wait_arrived(10s));
  srv.process().signal(SIGTERM);
  // The app takes another second (its latency, not a synchronisation): inside the
  // shutdown grace (1.5 s), so the answer must reach the client.
  std::this_thread::sleep_for(1s);
  up.release();
  ASSERT_TRUE(c.read_response(5s)) << c.received();
  EXPECT_EQ(c.status(), 200) << c.received();
  EXPECT_EQ(c.body(), "finished");
  EXPECT_EQ(srv.process().wait_exit(10s), 0);
}

}  // namespace
}  // namespace cutover
