// `cutover serve` end to end: a real redis-server per fixture, the real binary on
// 127.0.0.1:0, real clients (cpp-httplib, Boost.Beast's WebSocket client, and a raw
// RFC 6455 client for misbehaviour). Synchronisation is on events: lines the server
// prints, responses, and the /metrics it exposes.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <future>
#include <set>
#include <thread>

#include "cutover_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::json_field;
using testing::raw_ws;
using testing::redis_client;
using testing::redis_server;
namespace json = boost::json;

std::uint64_t legacy_of(const std::string& id) {
  auto dash = id.find('-');
  std::uint64_t ms = std::stoull(id.substr(0, dash)), seq = std::stoull(id.substr(dash + 1));
  return ms * 1024 + std::min<std::uint64_t>(seq, 1023);
}

json::object parse_obj(const std::string& text) {
  return json::parse(text).as_object();
}

// A JSON value as text: a string's content, anything else serialised.
std::string s(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

// Beast's WebSocket client on its own thread: collects every text frame.
class beast_ws {
 public:
  beast_ws(int port, const std::string& target) : ws_(io_) {
    boost::asio::ip::tcp::resolver r(io_);
    boost::asio::connect(ws_.next_layer(), r.resolve("127.0.0.1", std::to_string(port)));
    ws_.handshake("127.0.0.1", target);
    reader_ = std::thread([this] {
      try {
        while (true) {
          boost::beast::flat_buffer b;
          ws_.read(b);
          std::lock_guard lk(mu_);
          frames_.push_back(boost::beast::buffers_to_string(b.data()));
          cv_.notify_all();
        }
      } catch (const std::exception&) {
        std::lock_guard lk(mu_);
        ended_ = true;
        cv_.notify_all();
      }
    });
  }
  ~beast_ws() {
    ::shutdown(ws_.next_layer().native_handle(), SHUT_RDWR);
    reader_.join();
  }
  // Waits until `n` frames arrived (or timeout); returns all so far.
  std::vector<std::string> wait_frames(std::size_t n, std::chrono::milliseconds timeout = 15s) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return frames_.size() >= n || ended_; });
    return frames_;
  }
  void send(const std::string& text) { ws_.write(boost::asio::buffer(text)); }

 private:
  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> frames_;
  bool ended_ = false;
};

class Serve : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {"--auth", "insecure-query", "--shared-topic",
                                      "all",    "--poll-timeout", "10s"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    srv_ = std::make_unique<cutover_server>(redis_, flags);
  }
  std::string publish(const std::string& topic, const std::string& data,
                      const std::string& type = "t") {
    return pub_.xadd("cutover:notifications", {{"topic", topic}, {"type", type}, {"data", data}});
  }
  // Waits until ingest has committed `n` notifications in all.
  void committed(double n) {
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", n)) << n;
  }
  testing::http_reply poll(const std::string& user, const std::string& since = "",
                           std::chrono::milliseconds timeout = 15s) {
    std::string t =
        "/api/notifications/poll?user=" + user + (since.empty() ? "" : "&since=" + since);
    return http_get(srv_->port(), t, {}, timeout);
  }

  redis_server redis_;
  redis_client pub_{redis_.port()};
  std::unique_ptr<cutover_server> srv_;
};

TEST_F(Serve, BacklogIsAnsweredAtOnceOldestFirst) {
  start();
  auto a = publish("user:1", R"({"n":1})");
  publish("user:2", R"({"n":2})");
  auto b = publish("all", R"("everyone")");
  auto c = publish("user:1", R"({"n":3})");
  committed(4);
  auto t0 = std::chrono::steady_clock::now();  // before the request: the server's hold starts later
  auto r = poll("1", "0");
  // A backlog held until the 10 s poll timeout would be answered >= 10 s after the server
  // read the request, so >= 10 s after t0; an answer at once is far below on any load.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "held until the poll timeout";
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = parse_obj(r.body);
  auto& list = body["notifications"].as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].as_object().at("id").to_number<std::uint64_t>(), legacy_of(a));
  EXPECT_EQ(list[1].as_object().at("id").to_number<std::uint64_t>(), legacy_of(b));
  EXPECT_EQ(list[2].as_object().at("id").to_number<std::uint64_t>(), legacy_of(c));
  EXPECT_EQ(json::serialize(list[0].as_object().at("payload")), R"({"n":1})");
  EXPECT_EQ(body["lastId"].to_number<std::uint64_t>(), legacy_of(c));
  EXPECT_EQ(r.headers["content-type"], "application/json");
}

// A publish wakes a waiting poll. Proved on the server's own count (every answer is a
// "data" answer, none a "timeout"), and by time against the server's own reference: the
// poll timeout starts when the server reads the request, after `sent`, so an answer that
// came from the timeout would arrive >= 30 s after `sent`. How fast the wake is (a few ms
// on an idle machine) is a figure, not an assertion: tools/bench/run.sh measures it
// (loadgen --kind lp, "wake latency" in docs/benchmarks.md).
TEST_F(Serve, WaitingPollIsWokenByAPublishNotByItsTimeout) {
  start({"--poll-timeout", "30s"});
  std::string since = "0";
  for (int i = 0; i < 5; ++i) {
    auto sent = std::chrono::steady_clock::now();
    auto fut = std::async(std::launch::async, [&] { return poll("1", since, 60s); });
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_waiting_polls", 1));
    auto id = publish("user:1", R"({"i":)" + std::to_string(i) + "}");
    auto r = fut.get();
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 30s) << "answered by the poll timeout";
    ASSERT_EQ(r.status, 200);
    auto body = parse_obj(r.body);
    ASSERT_EQ(body["notifications"].as_array().size(), 1u);
    EXPECT_EQ(body["lastId"].to_number<std::uint64_t>(), legacy_of(id));
    since = std::to_string(legacy_of(id));
  }
  EXPECT_EQ(srv_->metric(R"(cutover_poll_responses_total{outcome="data"})"), 5);
  EXPECT_EQ(srv_->metric(R"(cutover_poll_responses_total{outcome="timeout"})"), 0);
}

TEST_F(Serve, TimeoutAnswersEmptyWithLastIdEchoingSince) {
  start({"--poll-timeout", "500ms"});
  // t0 is before the request is sent; the server starts the 500 ms when it has read it.
  auto t0 = std::chrono::steady_clock::now();
  auto r = poll("1", "1740800000000005");
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"notifications":[],"lastId":1740800000000005})");
  EXPECT_GE(took, 500ms) << "answered before its timeout";
  // Well below the 10 s the fixture passes first: a timeout flag not applied would take that.
  EXPECT_LT(took, 10s);
  EXPECT_EQ(srv_->metric(R"(cutover_poll_responses_total{outcome="timeout"})"), 1);
  // No since: the head (0 on an empty store) is echoed.
  EXPECT_EQ(poll("1").body, R"({"notifications":[],"lastId":0})");
}

TEST_F(Serve, UsersAreIsolatedAndSharedTopicsReachEveryone) {
  start({"--poll-timeout", "300ms"});
  publish("user:1", R"("for one")");
  publish("user:2", R"("for two")");
  publish("all", R"("for all")");
  committed(3);
  auto one = parse_obj(poll("1", "0").body)["notifications"].as_array();
  auto two = parse_obj(poll("2", "0").body)["notifications"].as_array();
  auto three = parse_obj(poll("3", "0").body)["notifications"].as_array();
  ASSERT_EQ(one.size(), 2u);
  ASSERT_EQ(two.size(), 2u);
  ASSERT_EQ(three.size(), 1u);
  EXPECT_EQ(json::serialize(one[0].as_object()["payload"]), R"("for one")");
  EXPECT_EQ(json::serialize(two[0].as_object()["payload"]), R"("for two")");
  EXPECT_EQ(json::serialize(three[0].as_object()["payload"]), R"("for all")");
}

TEST_F(Serve, BothTransportsShowTheSameIdsAndPayloads) {
  start();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(publish(i % 2 ? "user:9" : "all", R"({"k":)" + std::to_string(i) + "}", "e"));
  committed(20);
  auto polled = parse_obj(poll("9", "0").body)["notifications"].as_array();
  beast_ws ws(srv_->port(), "/v1/ws?user=9&since=0");
  auto frames = ws.wait_frames(21);
  ASSERT_EQ(frames.size(), 21u);
  auto hello = parse_obj(frames[0]);
  EXPECT_EQ(s(hello["type"]), "hello");
  EXPECT_EQ(s(hello["cursor"]), "0-0");
  EXPECT_EQ(json::serialize(hello["topics"]), R"(["user:9","all"])");
  ASSERT_EQ(polled.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) {
    auto f = parse_obj(frames[i + 1]);
    auto p = polled[i].as_object();
    EXPECT_EQ(s(f["type"]), "notification");
    EXPECT_EQ(s(f["id"]), ids[i]);
    EXPECT_EQ(f["legacyId"].to_number<std::uint64_t>(), legacy_of(ids[i]));
    EXPECT_EQ(p["id"].to_number<std::uint64_t>(), legacy_of(ids[i]));
    EXPECT_EQ(json::serialize(f["data"]), json::serialize(p["payload"]));
    EXPECT_EQ(s(f["createdAt"]), s(p["createdAt"]));
    EXPECT_EQ(s(f["event"]), "e");
    EXPECT_EQ(s(f["topic"]), i % 2 ? "user:9" : "all");
  }
}

TEST_F(Serve, ReplayToLiveBoundaryHasNoGapAndNoDuplicate) {
  start();
  constexpr int kTotal = 600;
  std::vector<std::string> ids(kTotal);
  std::atomic<int> published{0};
  // Publishes race the connects below: each client joins while entries keep arriving.
  std::thread publisher([&] {
    redis_client c(redis_.port());
    for (int i = 0; i < kTotal; ++i) {
      ids[i] = c.xadd("cutover:notifications", {{"topic", "all"}, {"data", std::to_string(i)}});
      published.store(i + 1);
    }
  });
  std::vector<std::unique_ptr<beast_ws>> clients;
  std::vector<int> joined_at;
  for (int k = 0; k < 6; ++k) {
    while (published.load() < k * 90) std::this_thread::yield();
    joined_at.push_back(published.load());
    clients.push_back(
        std::make_unique<beast_ws>(srv_->port(), "/v1/ws?user=u" + std::to_string(k) + "&since=0"));
  }
  publisher.join();
  for (std::size_t k = 0; k < clients.size(); ++k) {
    auto frames = clients[k]->wait_frames(kTotal + 1);
    ASSERT_EQ(frames.size(), static_cast<std::size_t>(kTotal + 1))
        << "client " << k << " joined at " << joined_at[k];
    for (int i = 0; i < kTotal; ++i) {
      auto f = parse_obj(frames[i + 1]);
      ASSERT_EQ(s(f["id"]), ids[i]) << "client " << k << " frame " << i;
      ASSERT_EQ(json::serialize(f["data"]), std::to_string(i));
    }
  }
}

TEST_F(Serve, LiveClientWithoutSinceStartsAtTheHead) {
  start();
  publish("all", "1");
  committed(1);
  beast_ws ws(srv_->port(), "/v1/ws?user=1");
  auto hello = parse_obj(ws.wait_frames(1).at(0));
  auto head = publish("all", "2");
  auto frames = ws.wait_frames(2);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(s(parse_obj(frames[1])["id"]), head);
  EXPECT_LT(legacy_of(std::string(hello["cursor"].as_string())), legacy_of(head));
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

TEST_F(Serve, SlowConsumerCatchesUpFromTheStoreWithinItsMemoryBound) {
  // Small caches everywhere (hub memory, store writer), so what could grow is this session.
  start({"--ws-queue-bytes", "65536", "--cache-mb", "1", "--store-cache-mb", "2"});
  constexpr int kTotal = 20000;
  std::string kib(1000, 'x');
  auto load = [&](int from) {
    std::vector<std::vector<std::string>> cmds;
    for (int i = from; i < from + kTotal; ++i)
      cmds.push_back({"XADD", "cutover:notifications", "*", "topic", "all", "data",
                      "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + kib + "\"}"});
    pub_.pipeline(cmds);
  };
  // Warm-up: ingest, the store and the catch-up path (a reader that replays everything
  // from the store) reach their steady memory first; what grows after that is the slow
  // client's doing.
  load(0);
  committed(kTotal);
  {
    raw_ws warm(srv_->port(), "/v1/ws?user=warm&since=0");
    ASSERT_TRUE(warm.next_text());
    for (int i = 0; i < kTotal; ++i) ASSERT_TRUE(warm.next_text(20s)) << i;
  }
  raw_ws slow(srv_->port(), "/v1/ws?user=slow", /*rcvbuf=*/4096);
  ASSERT_EQ(slow.handshake_status(), 101);
  ASSERT_TRUE(slow.next_text());  // hello; live from here, and then we stop reading
  auto rss_before = srv_->rss_bytes();
  // Twice the warm-up past the slow client (once under ASan, where RSS is not checked),
  // so that an unbounded queue (~42 MiB) is far above what the server may legitimately
  // hold meanwhile: ingest's read-ahead queue (8 MiB, options::queue_bytes; full when the
  // committer falls behind on a loaded machine), the 1 MiB hub cache and allocator slack.
  const int rounds = kAddressSanitizer ? 1 : 2;
  for (int r = 1; r <= rounds; ++r) load(r * kTotal);
  committed((rounds + 1) * kTotal);
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ws_slow_consumer_total", 1));
  auto queued = srv_->metric("cutover_ws_queued_bytes");
  ASSERT_TRUE(queued);
  EXPECT_LE(*queued, 65536 + 2048);  // the bound, plus the one frame always admitted
  auto rss_during = srv_->rss_bytes();
  // 40,000 x 1 KiB went past this client; a queue that never stopped would hold ~42 MiB.
  // Under AddressSanitizer freed memory sits in its quarantine (up to 256 MiB), so RSS
  // says nothing there; the queued-bytes gauge above still holds the bound.
  if (!kAddressSanitizer) {
    EXPECT_LT(rss_during, rss_before + 16 * 1024 * 1024) << rss_before << " -> " << rss_during;
  }
  // Now read everything: all of it, in order, once.
  for (int i = kTotal; i < (rounds + 1) * kTotal; ++i) {
    auto t = slow.next_text(20s);
    ASSERT_TRUE(t) << "stopped at " << i;
    ASSERT_EQ(json_field(json_field(*t, "data"), "i"), std::to_string(i));
  }
  EXPECT_LE(*srv_->metric("cutover_ws_queued_bytes"), 65536 + 2048);
}

TEST_F(Serve, GarbageRequestsGetJsonErrors) {
  start();
  auto bad = poll("1", "abc");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json_field(bad.body, "error"), "bad_request");
  EXPECT_NE(json_field(bad.body, "message").find("expected a stream id"), std::string::npos);
  EXPECT_EQ(http_get(srv_->port(), "/api/notifications/poll?user=1&since=%zz").status, 400);
  EXPECT_EQ(http_get(srv_->port(), "/api/notifications/poll?since=0").status, 401);
  EXPECT_EQ(
      http_get(srv_->port(), "/api/notifications/poll?user=1&since=" + std::string(20000, '9'))
          .status,
      431);
  EXPECT_EQ(http_get(srv_->port(), "/nope").status, 404);
  EXPECT_EQ(http_get(srv_->port(), "/v1/ws?user=1").status, 426);  // not an upgrade
  auto huge = http_get(srv_->port(), "/healthz", {{"X-Big", std::string(1 << 20, 'a')}});
  EXPECT_TRUE(huge.status == 431 || huge.status == 0)
      << huge.status;  // 431, or reset while we still send
  raw_ws bad_ws(srv_->port(), "/v1/ws?user=1&since=garbage");
  EXPECT_EQ(bad_ws.handshake_status(), 400);
  raw_ws anon_ws(srv_->port(), "/v1/ws");
  EXPECT_EQ(anon_ws.handshake_status(), 401);
  EXPECT_EQ(http_get(srv_->port(), "/healthz").status, 200);  // still serving
  EXPECT_GE(*srv_->metric("cutover_bad_requests_total"), 4);
}

TEST_F(Serve, GarbageFramesAreAnsweredNotFatal) {
  start({"--max-ws-message", "4096"});
  raw_ws ws(srv_->port(), "/v1/ws?user=1");
  ASSERT_TRUE(ws.next_text());  // hello
  ws.send_frame(1, "not json");
  EXPECT_EQ(json_field(*ws.next_text(), "type"), "error");
  ws.send_frame(1, R"({"type":"resume","since":"nope"})");
  EXPECT_NE(json_field(*ws.next_text(), "message").find("expected a stream id"), std::string::npos);
  ws.send_frame(2, "\x01\x02");
  EXPECT_NE(json_field(*ws.next_text(), "message").find("binary"), std::string::npos);
  ws.send_frame(9, "hi");  // ping -> pong
  auto pong = ws.next();
  EXPECT_EQ(pong.opcode, 10);
  EXPECT_EQ(pong.payload, "hi");
  // Still delivering.
  auto id = publish("user:1", "7");
  auto f = ws.next_text();
  ASSERT_TRUE(f);
  EXPECT_EQ(json_field(*f, "id"), id);

  auto close_code = [](const raw_ws::frame& fr) {
    return fr.payload.size() >= 2 ? (static_cast<unsigned char>(fr.payload[0]) << 8) |
                                        static_cast<unsigned char>(fr.payload[1])
                                  : 0;
  };
  raw_ws utf(srv_->port(), "/v1/ws?user=1");
  utf.next_text();
  utf.send_frame(1, "\xff\xfe");
  auto c1 = utf.next();
  EXPECT_EQ(c1.opcode, 8);
  EXPECT_EQ(close_code(c1), 1007);
  raw_ws big(srv_->port(), "/v1/ws?user=1");
  big.next_text();
  big.send_frame(1, std::string(5000, 'x'));
  auto c2 = big.next();
  EXPECT_EQ(c2.opcode, 8);
  EXPECT_EQ(close_code(c2), 1009);
  raw_ws unmasked(srv_->port(), "/v1/ws?user=1");
  unmasked.next_text();
  unmasked.send_frame(1, "x", true, /*mask=*/false);
  auto c3 = unmasked.next();
  EXPECT_EQ(c3.opcode, 8);
  EXPECT_EQ(close_code(c3), 1002);
  EXPECT_EQ(http_get(srv_->port(), "/healthz").status, 200);
}

TEST_F(Serve, ResumeReplaysFromTheGivenCursor) {
  start();
  auto a = publish("user:1", "1");
  auto b = publish("user:1", "2");
  committed(2);
  raw_ws ws(srv_->port(), "/v1/ws?user=1&since=0");
  ws.next_text();
  EXPECT_EQ(json_field(*ws.next_text(), "id"), a);
  EXPECT_EQ(json_field(*ws.next_text(), "id"), b);
  ws.send_frame(1, R"({"type":"resume","since":")" + a + "\"}");
  EXPECT_EQ(json_field(*ws.next_text(), "id"), b);
  ws.send_frame(1, R"({"type":"resume","since":)" + std::to_string(legacy_of(a)) + "}");
  EXPECT_EQ(json_field(*ws.next_text(), "id"), b);
}

TEST_F(Serve, ExpiredCursorIsResetOnBothTransports) {
  start({"--retain-per-topic", "5", "--prune-interval", "100ms", "--poll-timeout", "300ms"});
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(publish("user:1", std::to_string(i)));
  committed(20);
  // Wait for retention to run: an old cursor is then answered with reset.
  testing::http_reply r;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  do {
    r = poll("1", std::to_string(legacy_of(ids[0])));
  } while (r.headers["x-cutover-reset"] != "1" && std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-cutover-reset"], "1");
  auto body = parse_obj(r.body);
  EXPECT_EQ(s(body["reset"]), "true");
  auto list = body["notifications"].as_array();
  ASSERT_EQ(list.size(), 5u);  // the oldest retained entries
  EXPECT_EQ(list[0].as_object()["id"].to_number<std::uint64_t>(), legacy_of(ids[15]));
  // since=0 is "from the oldest retained": never a reset.
  auto zero = poll("1", "0");
  EXPECT_EQ(zero.headers.count("x-cutover-reset"), 0u);
  // A current cursor is not expired.
  auto current = poll("1", std::to_string(legacy_of(ids[17])));
  EXPECT_EQ(current.headers.count("x-cutover-reset"), 0u);
  EXPECT_EQ(parse_obj(current.body)["notifications"].as_array().size(), 2u);

  raw_ws ws(srv_->port(), "/v1/ws?user=1&since=" + ids[2]);
  ws.next_text();  // hello
  auto reset = ws.next_text();
  ASSERT_TRUE(reset);
  EXPECT_EQ(json_field(*reset, "type"), "reset");
  EXPECT_EQ(json_field(*reset, "oldest"), ids[15]);
  EXPECT_EQ(json_field(*ws.next_text(), "id"), ids[15]);
}

TEST_F(Serve, WaitingPollLimitAnswers503WithRetryAfter) {
  start({"--max-waiting-polls", "2"});
  auto p1 = std::async(std::launch::async, [&] { return poll("1", "", 20s); });
  auto p2 = std::async(std::launch::async, [&] { return poll("2", "", 20s); });
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_waiting_polls", 2));
  auto third = poll("3");
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.headers["retry-after"], "1");
  EXPECT_EQ(json_field(third.body, "error"), "unavailable");
  publish("all", "1");
  EXPECT_EQ(p1.get().status, 200);
  EXPECT_EQ(p2.get().status, 200);
}

TEST_F(Serve, SigtermAnswersWaitingPollsAndExitsZero) {
  start();
  // Before the polls are sent: their 10 s timeouts start later, on the server.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::future<testing::http_reply>> polls;
  for (int i = 0; i < 3; ++i)
    polls.push_back(
        std::async(std::launch::async, [&, i] { return poll(std::to_string(i), "5"); }));
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_waiting_polls", 3));
  raw_ws ws(srv_->port(), "/v1/ws?user=1");
  ws.next_text();
  srv_->process().signal(SIGTERM);
  for (auto& p : polls) {
    auto r = p.get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"notifications":[],"lastId":5})");
  }
  auto close = ws.next();
  EXPECT_EQ(close.opcode, 8);
  ASSERT_GE(close.payload.size(), 2u);
  EXPECT_EQ((static_cast<unsigned char>(close.payload[0]) << 8) |
                static_cast<unsigned char>(close.payload[1]),
            1001);
  auto code = srv_->process().wait_exit(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  // A shutdown that let the polls run out would exit >= 10 s after t0.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "waited for the poll timeouts";
}

TEST_F(Serve, TokenAuthRefusesWhatItShould) {
  start({"--auth", "token", "--token-secret", "k3y"});
  auto mint = testing::mint_token;
  auto good = mint("k3y", "42", "1h");
  publish("user:42", "1");
  committed(1);
  auto r = http_get(srv_->port(), "/api/notifications/poll?since=0",
                    {{"Authorization", "Bearer " + good}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(parse_obj(r.body)["notifications"].as_array().size(), 1u);
  EXPECT_EQ(http_get(srv_->port(), "/api/notifications/poll?since=0",
                     {{"Cookie", "cutover_token=" + good}})
                .status,
            200);
  EXPECT_EQ(http_get(srv_->port(), "/api/notifications/poll?since=0&access_token=" + good).status,
            200);
  auto forged = mint("wrong", "42", "1h");
  EXPECT_EQ(http_get(srv_->port(), "/api/notifications/poll?since=0",
                     {{"Authorization", "Bearer " + forged}})
                .status,
            401);
  // alg:none with the same claims.
  std::string none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." +
                     good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1) + ".";
  EXPECT_EQ(http_get(srv_->port(), "/api/notifications/poll?since=0",
                     {{"Authorization", "Bearer " + none}})
                .status,
            401);
  EXPECT_EQ(http_get(srv_->port(), "/api/notifications/poll?since=0",
                     {{"Authorization", "Bearer garbage"}})
                .status,
            401);
  EXPECT_EQ(http_get(srv_->port(), "/api/notifications/poll?since=0&user=42").status,
            401);  // no query identity here
  raw_ws ws(srv_->port(), "/v1/ws?access_token=" + good);
  EXPECT_EQ(ws.handshake_status(), 101);
}

TEST_F(Serve, ServeWithoutSecretExits2NamingTheOptions) {
  auto p = testing::subprocess::spawn(
      {CUTOVER_BIN, "serve", "--listen", "127.0.0.1:0", "--redis", redis_.url()});
  auto code = p->wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  EXPECT_NE(p->output().find("--token-secret"), std::string::npos);
  EXPECT_NE(p->output().find("CUTOVER_TOKEN_SECRET"), std::string::npos);
}

TEST_F(Serve, PollerAlternatingBetweenTwoInstancesGetsEverythingOnceInOrder) {
  start({"--poll-timeout", "2s"});
  cutover_server other(redis_, {"--auth", "insecure-query", "--poll-timeout", "2s"});
  constexpr int kTotal = 200;
  std::vector<std::string> ids(kTotal);
  std::thread publisher([&] {
    redis_client c(redis_.port());
    for (int i = 0; i < kTotal; ++i)
      ids[i] = c.xadd("cutover:notifications", {{"topic", "user:1"}, {"data", std::to_string(i)}});
  });
  std::vector<std::uint64_t> got;
  std::string since = "0";
  int port[2] = {srv_->port(), other.port()};
  for (int turn = 0; got.size() < kTotal && turn < 2000; ++turn) {
    auto r = http_get(port[turn % 2], "/api/notifications/poll?user=1&since=" + since);
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = parse_obj(r.body);
    for (auto& n : body["notifications"].as_array())
      got.push_back(n.as_object()["id"].to_number<std::uint64_t>());
    since = std::to_string(body["lastId"].to_number<std::uint64_t>());
  }
  publisher.join();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kTotal));
  for (int i = 0; i < kTotal; ++i) ASSERT_EQ(got[i], legacy_of(ids[i])) << i;
}

// The close code of a close frame's payload (RFC 6455 §5.5.1), or -1.
int close_code(const raw_ws::frame& f) {
  if (f.opcode != 0x8 || f.payload.size() < 2) return -1;
  return (static_cast<unsigned char>(f.payload[0]) << 8) | static_cast<unsigned char>(f.payload[1]);
}

// Reads frames until a close frame (or the connection ends); the close frame, or opcode -1.
raw_ws::frame until_close(raw_ws& ws, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    auto f = ws.next(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (f.opcode == 0x8 || f.opcode == -1) return f;
  }
  return {};
}

TEST_F(Serve, KeepalivePingsAndClosesSilentPeers) {
  // The server measures silence from the last frame it read from the peer (the handshake,
  // for a peer that sends nothing) and checks deadlines on a once-a-second sweep, one ping
  // per sweep at most. Times below are measured from points the server's reference cannot
  // precede, and counted in sweeps where a bound would depend on the machine's load.
  start({"--ws-ping-interval", "300ms", "--ws-silence-timeout", "2s"});
  // A peer that answers nothing: pinged, then closed with 1001 once silent for 2 s.
  auto before_connect = std::chrono::steady_clock::now();
  raw_ws quiet(srv_->port(), "/v1/ws?user=quiet");
  ASSERT_EQ(quiet.handshake_status(), 101);
  ASSERT_EQ(quiet.next().opcode, 0x1);  // hello
  EXPECT_EQ(quiet.next(15s).opcode, 0x9) << "a ping";
  auto closed = until_close(quiet, 30s);
  EXPECT_EQ(close_code(closed), 1001);
  // The handshake, the last thing the peer sent, was read after `before_connect`.
  EXPECT_GE(std::chrono::steady_clock::now() - before_connect, 2s)
      << "closed before 2 s of silence";
  EXPECT_EQ(srv_->metric(R"(cutover_ws_closes_total{reason="idle"})"), 1);

  // A peer that answers the pings stays, past the silence timeout, and still gets
  // notifications. Five pings are five sweeps, the last >= 4 s after the first and so
  // >= 4 s after the handshake: had the pongs not counted as traffic, the sweep at 2 s of
  // silence would have sent a close before the fifth ping.
  auto alive_connect = std::chrono::steady_clock::now();
  raw_ws alive(srv_->port(), "/v1/ws?user=alive");
  ASSERT_EQ(alive.next().opcode, 0x1);
  int pongs = 0;
  for (auto until = std::chrono::steady_clock::now() + 60s;
       (pongs < 5 || std::chrono::steady_clock::now() - alive_connect < 3s) &&
       std::chrono::steady_clock::now() < until;) {
    auto f = alive.next(1s);
    ASSERT_NE(f.opcode, 0x8) << "closed although it answered every ping";
    if (f.opcode == 0x9) {
      alive.send_frame(0xA, f.payload);
      ++pongs;
    }
  }
  ASSERT_GE(pongs, 5) << "pings go out on every sweep";
  EXPECT_EQ(srv_->metric(R"(cutover_ws_closes_total{reason="idle"})"), 1) << "only the quiet one";
  auto id = publish("user:alive", "1");
  auto n = alive.next_text();
  ASSERT_TRUE(n);
  EXPECT_EQ(json_field(*n, "id"), id);
}

TEST_F(Serve, PeerWithNoWriteProgressIsClosed1013) {
  start({"--ws-queue-bytes", "65536", "--stall-timeout", "2s", "--ws-silence-timeout", "60s"});
  raw_ws stuck(srv_->port(), "/v1/ws?user=stuck", /*rcvbuf=*/4096);
  ASSERT_EQ(stuck.handshake_status(), 101);
  ASSERT_TRUE(stuck.next_text());  // hello; from here on it reads nothing
  std::string kib(1000, 'x');
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < 10000; ++i)
    cmds.push_back({"XADD", "cutover:notifications", "*", "topic", "user:stuck", "data",
                    "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + kib + "\"}"});
  pub_.pipeline(cmds);
  committed(10000);
  ASSERT_TRUE(srv_->wait_metric_at_least(R"(cutover_ws_closes_total{reason="stalled"})", 1, 15s))
      << "a peer that never reads is closed after --stall-timeout";
  // Others are unaffected.
  raw_ws other(srv_->port(), "/v1/ws?user=other");
  ASSERT_TRUE(other.next_text());
  auto id = publish("user:other", "1");
  auto n = other.next_text();
  ASSERT_TRUE(n);
  EXPECT_EQ(json_field(*n, "id"), id);
}

TEST_F(Serve, HealthReadyMetrics) {
  start();
  EXPECT_EQ(http_get(srv_->port(), "/healthz").body, R"({"status":"ok"})");
  // Ready once ingest is connected and has measured its lag (it may be catching up first).
  testing::http_reply ready;
  auto until = std::chrono::steady_clock::now() + 10s;
  do ready = http_get(srv_->port(), "/readyz");
  while (ready.status != 200 && std::chrono::steady_clock::now() < until);
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(json_field(ready.body, "redis"), "connected");
  auto m = http_get(srv_->port(), "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("cutover_connections{transport=\"websocket\"}"), std::string::npos);
  EXPECT_NE(m.body.find("# TYPE cutover_deliveries_total counter"), std::string::npos);
  redis_.kill();
  // Readiness follows Redis: it goes unready when ingest loses its connection.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 200;
  while (status == 200 && std::chrono::steady_clock::now() < deadline)
    status = http_get(srv_->port(), "/readyz").status;
  EXPECT_EQ(status, 503);
}

}  // namespace
}  // namespace cutover
