// GET /v1/events (DESIGN §6.1) against the real binary and a real redis-server: a raw
// HTTP client for the exact bytes (head, retry:, id:, chunking, keepalive, a reader
// that stops reading, SIGTERM), and clients nobody here wrote for the rest: the
// `eventsource` npm package and headless Chromium's own EventSource (tests/js).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <map>
#include <set>

#include "cutover_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::json_field;
using testing::redis_client;
using testing::redis_server;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

// One SSE event as the client sees it: its fields in order ("id", "data", "retry", ...).
struct sse_event {
  std::vector<std::pair<std::string, std::string>> fields;
  std::optional<std::string> get(const std::string& name) const {
    for (const auto& [k, v] : fields)
      if (k == name) return v;
    return std::nullopt;
  }
  std::string data() const { return get("data").value_or(""); }
  std::string type() const { return json_field(data(), "type"); }
};

// A raw HTTP/1.1 client of the event stream: reads only when asked (so a test can stop
// reading), decodes the chunked body and splits it into lines and events.
class sse_conn {
 public:
  sse_conn(int port, const std::string& target,
           const std::map<std::string, std::string>& headers = {}, int rcvbuf = 0,
           const std::string& method = "GET") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    std::string req = method + " " + target +
                      " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                      "\r\nAccept: text/event-stream\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "\r\n";
    (void)!::write(fd_, req.data(), req.size());
    read_head(steady::now() + 10s);
  }
  ~sse_conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  int status() const { return status_; }
  const std::string& head() const { return head_; }
  std::string header(const std::string& lower_name) const {
    auto it = headers_.find(lower_name);
    return it == headers_.end() ? "" : it->second;
  }
  // A body that is not a stream (errors): everything up to Content-Length.
  std::string plain_body() {
    auto n = std::stoul(header("content-length").empty() ? "0" : header("content-length"));
    auto deadline = steady::now() + 10s;
    while (raw_.size() < n && fill(deadline)) {
    }
    return raw_.substr(0, n);
  }
  // The next line of the event stream (without its "\n"); nullopt at the end or timeout.
  std::optional<std::string> next_line(std::chrono::milliseconds timeout = 10s) {
    auto deadline = steady::now() + timeout;
    while (true) {
      auto nl = body_.find('\n');
      if (nl != std::string::npos) {
        std::string line = body_.substr(0, nl);
        body_.erase(0, nl + 1);
        return line;
      }
      if (ended_ || !fill(deadline)) return std::nullopt;
    }
  }
  // The next event (lines up to a blank line); comment lines are counted and skipped.
  std::optional<sse_event> next_event(std::chrono::milliseconds timeout = 10s) {
    sse_event e;
    while (auto line = next_line(timeout)) {
      if (line->empty()) {
        if (e.fields.empty()) continue;
        return e;
      }
      if ((*line)[0] == ':') {
        ++comments_;
        continue;
      }
      auto colon = line->find(':');
      std::string name = line->substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line->substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      e.fields.emplace_back(name, value);
    }
    return std::nullopt;
  }
  // Next notification event (skips others); nullopt at the end or timeout.
  std::optional<sse_event> next_notification(std::chrono::milliseconds timeout = 10s) {
    while (auto e = next_event(timeout))
      if (e->type() == "notification") return e;
    return std::nullopt;
  }
  bool ended() const { return ended_; }  // the last chunk arrived
  bool eof() const { return eof_; }
  int comments() const { return comments_; }
  // Waits for the server to close the connection after the end of the stream.
  bool wait_eof(std::chrono::milliseconds timeout) {
    auto deadline = steady::now() + timeout;
    while (!eof_ && fill(deadline)) {
    }
    return eof_;
  }

 private:
  bool fill(steady::time_point deadline) {
    if (fd_ < 0 || eof_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[65536];
    auto n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    raw_.append(buf, static_cast<std::size_t>(n));
    if (status_ && chunked_) dechunk();
    return true;
  }
  void read_head(steady::time_point deadline) {
    while (raw_.find("\r\n\r\n") == std::string::npos)
      if (!fill(deadline)) return;
    auto end = raw_.find("\r\n\r\n");
    head_ = raw_.substr(0, end + 4);
    raw_.erase(0, end + 4);
    status_ = std::stoi(head_.substr(9, 3));
    std::size_t pos = head_.find("\r\n") + 2;
    while (pos < end) {
      auto eol = head_.find("\r\n", pos);
      auto line = head_.substr(pos, eol - pos);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value[0] == ' ') value.erase(0, 1);
      headers_[name] = value;
      pos = eol + 2;
    }
    chunked_ = header("transfer-encoding") == "chunked";
    if (chunked_) dechunk();
  }
  void dechunk() {
    while (!ended_) {
      auto eol = raw_.find("\r\n");
      if (eol == std::string::npos) return;
      std::size_t n = std::stoul(raw_.substr(0, eol), nullptr, 16);
      if (raw_.size() < eol + 2 + n + 2) return;
      EXPECT_EQ(raw_.substr(eol + 2 + n, 2), "\r\n") << "bad chunk framing";
      body_.append(raw_, eol + 2, n);
      raw_.erase(0, eol + 2 + n + 2);
      if (n == 0) ended_ = true;
    }
  }

  int fd_ = -1;
  int status_ = 0;
  std::string head_;
  std::map<std::string, std::string> headers_;
  std::string raw_, body_;
  bool chunked_ = false, ended_ = false, eof_ = false;
  int comments_ = 0;
};

class Sse : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {"--auth", "insecure-query", "--shared-topic",
                                      "all",    "--sse-retry",    "250ms"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    srv_ = std::make_unique<cutover_server>(redis_, flags);
  }
  std::string publish(const std::string& topic, const std::string& data) {
    return pub_.xadd("cutover:notifications", {{"topic", topic}, {"type", "t"}, {"data", data}});
  }
  void committed(double n) {
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", n, 20s)) << n;
  }
  std::unique_ptr<sse_conn> open(const std::string& query,
                                 const std::map<std::string, std::string>& headers = {},
                                 int rcvbuf = 0) {
    return std::make_unique<sse_conn>(srv_->port(), "/v1/events?" + query, headers, rcvbuf);
  }
  // The JSON line a tests/js client printed last.
  json::object run(const std::string& script, json::object cfg,
                   std::chrono::milliseconds timeout = 90s) {
    cfg["port"] = srv_->port();
    auto r = testing::run_node(script, {json::serialize(cfg)}, timeout);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    try {
      return json::parse(r.last_line).as_object();
    } catch (const std::exception&) {
      ADD_FAILURE() << r.output;
      return {};
    }
  }

  redis_server redis_;
  redis_client pub_{redis_.port()};
  std::unique_ptr<cutover_server> srv_;
};

// ---- the exact bytes ------------------------------------------------------------

TEST_F(Sse, HeadRetryHelloBacklogThenLive) {
  start();
  auto a = publish("user:1", R"({"n":1})");
  publish("user:2", R"({"n":2})");
  auto b = publish("all", R"("everyone")");
  committed(3);
  auto c = open("user=1&since=0");
  ASSERT_EQ(c->status(), 200);
  EXPECT_EQ(c->header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(c->header("cache-control"), "no-cache");
  EXPECT_EQ(c->header("x-accel-buffering"), "no");
  EXPECT_EQ(c->header("transfer-encoding"), "chunked");
  EXPECT_EQ(c->next_line(), "retry: 250");  // the very first line
  auto hello = c->next_event();
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->type(), "hello");
  EXPECT_FALSE(hello->get("id"));  // since=0 is a legacyId, not a stream id
  EXPECT_EQ(json_field(hello->data(), "cursor"), "0-0");
  for (const auto& want : {a, b}) {
    auto n = c->next_event();
    ASSERT_TRUE(n);
    ASSERT_EQ(n->fields.size(), 2u);  // id and data, no event: field
    EXPECT_EQ(n->fields[0], (std::pair<std::string, std::string>{"id", want}));
    EXPECT_EQ(n->fields[1].first, "data");
    EXPECT_EQ(json_field(n->data(), "type"), "notification");
    EXPECT_EQ(json_field(n->data(), "id"), want);
  }
  auto d = publish("user:1", R"({"n":4})");
  auto live = c->next_event();
  ASSERT_TRUE(live);
  EXPECT_EQ(live->get("id"), d);
  EXPECT_EQ(json_field(live->data(), "data"), R"({"n":4})");
  EXPECT_EQ(srv_->metric(R"(cutover_connections{transport="sse"})"), 1);
  EXPECT_EQ(srv_->metric(R"(cutover_requests_total{transport="sse"})"), 1);
  EXPECT_GE(*srv_->metric(R"(cutover_deliveries_total{transport="sse"})"), 3);
  EXPECT_EQ(srv_->metric(R"(cutover_users_last_hour{transport="sse"})"), 1);
}

TEST_F(Sse, HelloCarriesTheStartAsIdWhenItIsAStreamIdOrLive) {
  start();
  auto a = publish("user:1", "1");
  committed(1);
  auto live = open("user=1");
  ASSERT_TRUE(live->next_line());
  auto h1 = live->next_event();
  ASSERT_TRUE(h1);
  EXPECT_EQ(h1->get("id"), a);  // live: the newest id now
  auto at_id = open("user=1&since=" + a);
  ASSERT_TRUE(at_id->next_line());
  EXPECT_EQ(at_id->next_event()->get("id"), a);
  auto legacy = open("user=1&since=123");
  ASSERT_TRUE(legacy->next_line());
  EXPECT_FALSE(legacy->next_event()->get("id"));
}

TEST_F(Sse, LastEventIdWinsOverSince) {
  start();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(publish("user:1", std::to_string(i)));
  committed(3);
  auto c = open("user=1&since=0", {{"Last-Event-ID", ids[1]}});
  auto n = c->next_notification();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->get("id"), ids[2]);
  // A malformed Last-Event-ID is refused like a malformed since.
  auto bad = open("user=1&since=0", {{"Last-Event-ID", "x-1"}});
  EXPECT_EQ(bad->status(), 400);
}

TEST_F(Sse, RefusalsComeBeforeTheStreamAsJson) {
  start();
  auto anon = open("since=0");
  EXPECT_EQ(anon->status(), 401);
  EXPECT_EQ(anon->header("content-type"), "application/json");
  EXPECT_EQ(json_field(anon->plain_body(), "error"), "unauthorized");
  auto bad = open("user=1&since=abc");
  EXPECT_EQ(bad->status(), 400);
  EXPECT_EQ(json_field(bad->plain_body(), "error"), "bad_request");
  sse_conn post(srv_->port(), "/v1/events?user=1", {{"Content-Length", "0"}}, 0, "POST");
  EXPECT_EQ(post.status(), 405);
  EXPECT_EQ(srv_->metric(R"(cutover_connections{transport="sse"})"), 0);
}

TEST_F(Sse, AnAuthBackendDownIsShedWith200RetryAndTheEndNever503) {
  // upstream auth against a port nobody listens on: the backend is down.
  start({"--auth", "upstream", "--auth-url",
         "http://127.0.0.1:" + std::to_string(testing::free_port()) + "/whoami"});
  auto c = open("since=0", {{"Cookie", "session=abc"}});
  ASSERT_EQ(c->status(), 200) << c->head();
  EXPECT_EQ(c->header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(c->next_line(), "retry: 250");
  EXPECT_FALSE(c->next_event(5s));
  EXPECT_TRUE(c->ended());
  EXPECT_EQ(srv_->metric("cutover_sse_shed_total"), 1);
}

TEST_F(Sse, ExpiredCursorGetsHelloResetThenTheOldestRetained) {
  start({"--retain-per-topic", "5", "--prune-interval", "100ms"});
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(publish("user:1", std::to_string(i)));
  committed(20);
  // Retention runs every 100 ms: connect until the stream says the cursor expired.
  std::unique_ptr<sse_conn> c;
  std::optional<sse_event> second;
  auto deadline = steady::now() + 15s;
  do {
    c = open("user=1&since=" + ids[2]);
    ASSERT_TRUE(c->next_line());
    auto hello = c->next_event();
    ASSERT_EQ(hello->type(), "hello");
    second = c->next_event();
    ASSERT_TRUE(second);
  } while (second->type() != "reset" && steady::now() < deadline);
  ASSERT_EQ(second->type(), "reset");
  EXPECT_FALSE(second->get("id"));
  EXPECT_EQ(json_field(second->data(), "oldest"), ids[15]);
  for (int i = 15; i < 20; ++i) {
    auto n = c->next_event();
    ASSERT_TRUE(n);
    EXPECT_EQ(n->get("id"), ids[static_cast<std::size_t>(i)]);
  }
}

TEST_F(Sse, AnIdleStreamGetsCommentKeepalives) {
  start({"--sse-keepalive", "1s"});
  auto c = open("user=1");
  ASSERT_TRUE(c->next_line());   // retry
  ASSERT_TRUE(c->next_event());  // hello
  auto line = c->next_line(10s);
  EXPECT_EQ(line, ":");
  EXPECT_FALSE(c->ended());
}

TEST_F(Sse, AReaderThatPausesWhile8MiBArriveGetsEverythingOnTheSameConnection) {
  start({"--ws-queue-bytes", "65536"});
  auto c = open("user=1", {}, 16 * 1024);
  ASSERT_TRUE(c->next_line());
  ASSERT_TRUE(c->next_event());  // hello: live from here, then it stops reading
  const std::string big = "\"" + std::string(32 * 1024, 'x') + "\"";
  std::vector<std::string> ids;
  for (int i = 0; i < 256; ++i) ids.push_back(publish("user:1", big));  // 8 MiB
  ASSERT_TRUE(
      srv_->wait_metric_at_least(R"(cutover_push_slow_consumer_total{transport="sse"})", 1, 30s));
  EXPECT_LE(*srv_->metric(R"(cutover_push_queued_bytes{transport="sse"})"), 65536 + 34 * 1024);
  for (const auto& id : ids) {
    auto n = c->next_notification(30s);
    ASSERT_TRUE(n) << "after " << id;
    ASSERT_EQ(n->get("id"), id);
  }
  EXPECT_FALSE(c->ended());
  EXPECT_EQ(srv_->metric(R"(cutover_requests_total{transport="sse"})"), 1);  // one connection
  EXPECT_EQ(srv_->metric(R"(cutover_push_stalled_closes_total{transport="sse"})"), 0);
}

TEST_F(Sse, SigtermEndsEveryStreamCleanly) {
  start();
  auto a = open("user=1");
  auto b = open("user=2&since=0");
  for (auto* c : {a.get(), b.get()}) {
    ASSERT_EQ(c->next_line(), "retry: 250");
    ASSERT_EQ(c->next_event()->type(), "hello");
  }
  srv_->process().signal(SIGTERM);
  auto after = a->next_event(10s);
  EXPECT_FALSE(after) << (after ? after->data() : "") << srv_->process().output();
  EXPECT_TRUE(a->ended());  // the last chunk, not a reset connection
  EXPECT_FALSE(b->next_event(10s));
  EXPECT_TRUE(b->ended());
  EXPECT_TRUE(a->wait_eof(10s));
  EXPECT_EQ(srv_->process().wait_exit(20s), 0);
}

TEST_F(Sse, OriginRulesAndThePreflight) {
  start({"--allow-origin", "https://app.example"});
  sse_conn pre(srv_->port(), "/v1/events?user=1",
               {{"Origin", "https://app.example"},
                {"Access-Control-Request-Method", "GET"},
                {"Access-Control-Request-Headers", "last-event-id"}},
               0, "OPTIONS");
  EXPECT_EQ(pre.status(), 204);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(pre.header("access-control-allow-credentials"), "true");
  EXPECT_EQ(pre.header("access-control-allow-headers"),
            "Last-Event-ID, Authorization, Cache-Control");
  sse_conn evil_pre(srv_->port(), "/v1/events?user=1", {{"Origin", "https://evil.example"}}, 0,
                    "OPTIONS");
  EXPECT_EQ(evil_pre.status(), 403);
  EXPECT_TRUE(evil_pre.header("access-control-allow-origin").empty());
  auto evil = open("user=1", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(evil->status(), 403);
  auto ok = open("user=1", {{"Origin", "https://app.example"}});
  EXPECT_EQ(ok->status(), 200);
  EXPECT_EQ(ok->header("access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(ok->header("access-control-allow-credentials"), "true");
  EXPECT_EQ(srv_->metric("cutover_origin_refusals_total"), 2);
}

// ---- real EventSource clients ----------------------------------------------------

std::vector<std::string> notification_ids(const json::object& out) {
  std::vector<std::string> ids;
  for (const auto& f : out.at("frames").as_array())
    if (f.at("type").as_string() == "notification") ids.emplace_back(f.at("id").as_string());
  return ids;
}

class SseClients : public Sse, public ::testing::WithParamInterface<const char*> {};

// 300 entries published while the client reads; its connection is cut three times.
// Each reconnect carries Last-Event-ID (the URL's since is stale) and loses nothing.
TEST_P(SseClients, ThreeCutsDuringA300EntryStreamLoseAndRepeatNothing) {
  start();
  auto first = publish("user:1", "0");
  committed(1);
  auto node = testing::spawn_node(
      "sse_client.mjs", {json::serialize(json::object{{"port", srv_->port()},
                                                      {"client", GetParam()},
                                                      {"query", "user=1&since=" + first},
                                                      {"want", 300},
                                                      {"cuts", json::array{60, 135, 210}}})});
  ASSERT_TRUE(node->wait_for_line("hello", 60s)) << node->output();
  std::vector<std::string> ids;
  // A stream over time: each block of 75 goes out once the client was cut in the one
  // before, so every connection carries some of it.
  for (int block = 0; block < 4; ++block) {
    for (int i = 1; i <= 75; ++i) ids.push_back(publish("user:1", std::to_string(block * 75 + i)));
    if (block < 3) {
      ASSERT_TRUE(node->wait_for_line("cut " + std::to_string(block + 1), 60s)) << node->output();
    }
  }
  ASSERT_EQ(node->wait_exit(90s), 0) << node->output();
  auto out = json::parse(node->output().substr(node->output().rfind("{\"frames\""))).as_object();
  EXPECT_EQ(notification_ids(out), ids);
  auto requests = out.at("requests").as_array();
  ASSERT_EQ(requests.size(), 4u) << json::serialize(requests);
  std::set<std::string> seen_last;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto r = requests[i].as_object();
    EXPECT_NE(std::string(r.at("url").as_string()).find("since=" + first), std::string::npos);
    if (i == 0) {
      EXPECT_TRUE(r.at("lastEventId").is_null());
    } else {
      // The id of the last event the client had before the cut.
      auto lei = std::string(r.at("lastEventId").as_string());
      EXPECT_NE(std::find(ids.begin(), ids.end(), lei), ids.end()) << lei;
      seen_last.insert(lei);
    }
  }
  EXPECT_EQ(seen_last.size(), 3u);
}

// Cut right after the hello, entries published while it is away: the hello's id: brings
// it back exactly where it started.
TEST_P(SseClients, ACutBeforeTheFirstNotificationLosesNothing) {
  start();
  auto before = publish("user:1", "\"before\"");
  committed(1);
  auto node = testing::spawn_node("sse_client.mjs",
                                  {json::serialize(json::object{{"port", srv_->port()},
                                                                {"client", GetParam()},
                                                                {"query", "user=1"},
                                                                {"want", 5},
                                                                {"cutAfterHello", true},
                                                                {"holdUntilEntries", 6}})});
  ASSERT_TRUE(node->wait_for_line("cut hello", 60s)) << node->output();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(publish("user:1", std::to_string(i)));
  ASSERT_EQ(node->wait_exit(60s), 0) << node->output();
  auto out = json::parse(node->output().substr(node->output().rfind("{\"frames\""))).as_object();
  EXPECT_EQ(notification_ids(out), ids);
  auto requests = out.at("requests").as_array();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].at("lastEventId").as_string(), before);
}

TEST_P(SseClients, AnExpiredCursorSeesResetThenTheOldestRetained) {
  start({"--retain-per-topic", "3", "--prune-interval", "100ms"});
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(publish("user:1", std::to_string(i)));
  committed(10);
  // Wait (on the server's answers) until retention removed ids[1].
  auto deadline = steady::now() + 15s;
  while (steady::now() < deadline) {
    auto c = open("user=1&since=" + ids[1]);
    c->next_line();
    c->next_event();
    auto e = c->next_event();
    if (e && e->type() == "reset") break;
  }
  auto out = run("sse_client.mjs",
                 {{"client", GetParam()}, {"query", "user=1&since=" + ids[1]}, {"want", 3}});
  auto frames = out.at("frames").as_array();
  ASSERT_GE(frames.size(), 5u) << json::serialize(frames);
  EXPECT_EQ(frames[0].at("type").as_string(), "hello");
  EXPECT_EQ(frames[1].at("type").as_string(), "reset");
  EXPECT_EQ(notification_ids(out), (std::vector<std::string>{ids[7], ids[8], ids[9]}));
}

TEST_P(SseClients, PayloadsWithNewlinesAndFieldNamesPassByteForByte) {
  start();
  const std::vector<std::string> payloads = {
      R"({"text":"line1\nline2\r\nline3"})", R"({"s":"data: not a field\nid: 9-9\nevent: x"})",
      R"(["\n\ndata: {}\n\n","retry: 1",":comment"])", R"("id: 1-1")"};
  std::vector<std::string> ids;
  for (const auto& p : payloads) ids.push_back(publish("user:1", p));
  committed(4);
  auto out =
      run("sse_client.mjs", {{"client", GetParam()}, {"query", "user=1&since=0"}, {"want", 4}});
  EXPECT_EQ(notification_ids(out), ids);
  std::size_t i = 0;
  for (const auto& f : out.at("frames").as_array()) {
    if (f.at("type").as_string() != "notification") continue;
    ASSERT_LT(i, payloads.size());
    EXPECT_EQ(json::serialize(f.at("data")), payloads[i]) << i;
    ++i;
  }
}

TEST_P(SseClients, UnauthorizedClosesTheEventSourceWithoutRetrying) {
  start();
  auto out = run("sse_client.mjs", {{"client", GetParam()}, {"query", "since=0"}, {"want", 1}});
  auto errors = out.at("errors").as_array();
  ASSERT_EQ(errors.size(), 1u) << json::serialize(out);
  EXPECT_EQ(errors[0].at("readyState").as_int64(), 2);  // CLOSED: it will not retry
  EXPECT_EQ(out.at("requests").as_array().size(), 1u);
  EXPECT_EQ(out.at("opens").as_int64(), 0);
  EXPECT_EQ(srv_->metric("cutover_unauthorized_total"), 1);
}

INSTANTIATE_TEST_SUITE_P(Clients, SseClients, ::testing::Values("eventsource", "chromium"),
                         [](const auto& p) { return std::string(p.param); });

// The attack of origin_test.cpp on the event stream: a page of another origin, the
// victim's cookie in Chromium. Refused; with that origin allowed the hello arrives.
TEST(SseOrigin, ChromiumPageOfAnotherOriginCannotReadTheVictimsEvents) {
  redis_server redis;
  const std::string secret = "sse-origin-secret";
  int page_port = testing::free_port();
  auto token = testing::mint_token(secret, "victim");
  {
    cutover_server srv(redis, {"--auth", "token", "--token-secret", secret, "--allow-origin",
                               "http://127.0.0.1:" + std::to_string(testing::free_port())});
    auto r = testing::run_node(
        "cross_origin.mjs", {std::to_string(srv.port()), token, "sse", std::to_string(page_port)});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto out = json::parse(r.last_line).as_object();
    EXPECT_FALSE(out.at("opened").as_bool()) << r.last_line;
    EXPECT_TRUE(out.at("frames").as_array().empty()) << r.last_line;
    EXPECT_GE(*srv.metric("cutover_origin_refusals_total"), 1);
  }
  cutover_server srv(redis, {"--auth", "token", "--token-secret", secret, "--allow-origin",
                             "http://127.0.0.1:" + std::to_string(page_port)});
  auto r = testing::run_node("cross_origin.mjs",
                             {std::to_string(srv.port()), token, "sse", std::to_string(page_port)});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = json::parse(r.last_line).as_object();
  EXPECT_TRUE(out.at("opened").as_bool()) << r.last_line;
  ASSERT_EQ(out.at("frames").as_array().size(), 1u) << r.last_line;
  auto hello = out.at("frames").as_array()[0].as_object();
  EXPECT_EQ(hello.at("type").as_string(), "hello");
  EXPECT_EQ(hello.at("topics").as_array()[0].as_string(), "user:victim");
}

}  // namespace
}  // namespace cutover
