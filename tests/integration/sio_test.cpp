// Socket.IO at /socket.io/ (DESIGN §6.2) against the real binary and a real redis-server:
// the unmodified npm socket.io-client (tests/js/sio_client.mjs) for delivery, upgrade and
// recovery across forced transport closes and a restart of the instance, and raw HTTP for
// Engine.IO's refusals and the garbage a polite client never sends.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <set>

#include "cutover_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::http_post;
using testing::redis_client;
using testing::redis_server;
namespace json = boost::json;

constexpr const char* kSecret = "sio-test-secret-0123456789abcdef";

class Sio : public ::testing::Test {
 protected:
  std::unique_ptr<cutover_server> instance(std::vector<std::string> extra = {},
                                           const std::string& db = "") {
    std::vector<std::string> flags = {"--auth", "insecure-query", "--shared-topic", "all"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return std::make_unique<cutover_server>(redis_, flags, db);
  }
  void start(std::vector<std::string> extra = {}, const std::string& db = "") {
    srv_ = instance(std::move(extra), db);
  }
  std::string publish(const std::string& topic, const std::string& data) {
    return pub_.xadd("cutover:notifications", {{"topic", topic}, {"type", "t"}, {"data", data}});
  }
  void committed(double n) {
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", n, 20s)) << n;
  }
  json::object run(json::object cfg, std::chrono::milliseconds timeout = 90s) {
    cfg["port"] = srv_->port();
    auto r = testing::run_node("sio_client.mjs", {json::serialize(cfg)}, timeout);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    try {
      return json::parse(r.last_line).as_object();
    } catch (const std::exception&) {
      ADD_FAILURE() << r.output;
      return {};
    }
  }
  static std::vector<json::value> notifications(const json::object& out) {
    std::vector<json::value> v;
    for (const auto& f : out.at("frames").as_array())
      if (f.at("event").as_string() == "notification") v.push_back(f.at("data"));
    return v;
  }
  static std::vector<std::string> ids(const json::object& out) {
    std::vector<std::string> v;
    for (const auto& n : notifications(out)) v.emplace_back(n.at("id").as_string());
    return v;
  }
  // The §5 notification frames /v1/ws sends from `since` (the reference for the others).
  std::vector<json::value> ws_frames(const std::string& query, std::size_t n) {
    testing::raw_ws ws(srv_->port(), "/v1/ws?" + query);
    EXPECT_EQ(ws.handshake_status(), 101);
    std::vector<json::value> v;
    while (v.size() < n) {
      auto t = ws.next_text();
      if (!t) break;
      auto j = json::parse(*t);
      if (j.at("type").as_string() == "notification") v.push_back(j);
    }
    return v;
  }
  // A polling handshake; returns the sid ("" when refused).
  std::string handshake(const std::string& query = "user=1") {
    auto r = http_get(srv_->port(), "/socket.io/?EIO=4&transport=polling&" + query);
    if (r.status != 200 || r.body.empty() || r.body[0] != '0') return "";
    return std::string(json::parse(r.body.substr(1)).at("sid").as_string());
  }
  double metric(const std::string& s) { return srv_->metric(s).value_or(-1); }

  redis_server redis_;
  redis_client pub_{redis_.port()};
  std::unique_ptr<cutover_server> srv_;
};

// ---- the real client ------------------------------------------------------------

// A client and its transports: "node" / "chromium", "-ws" for transports: ["websocket"].
struct sio_client_kind {
  const char* client;
  bool websocket_only;
};
void PrintTo(const sio_client_kind& k, std::ostream* os) {
  *os << k.client << (k.websocket_only ? " websocket-only" : " default transports");
}
std::string kind_name(const ::testing::TestParamInfo<sio_client_kind>& p) {
  return std::string(p.param.client == std::string("node") ? "Node" : "Chromium") +
         (p.param.websocket_only ? "WebSocketOnly" : "Default");
}
const auto kClients =
    ::testing::Values(sio_client_kind{"node", false}, sio_client_kind{"node", true},
                      sio_client_kind{"chromium", false}, sio_client_kind{"chromium", true});

class SioTransports : public Sio, public ::testing::WithParamInterface<sio_client_kind> {};

TEST_P(SioTransports, BacklogFromAuthSinceThenLiveSameFramesAsWebSocket) {
  bool websocket_only = GetParam().websocket_only;
  start();
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) want.push_back(publish(i % 2 ? "all" : "user:1", std::to_string(i)));
  publish("user:2", "\"not yours\"");
  committed(6);
  json::object cfg{{"query", {{"user", "1"}}},
                   {"auth", {{"since", "0"}}},
                   {"want", 7},
                   {"client", GetParam().client}};
  if (websocket_only)
    cfg["transports"] = json::array{"websocket"};
  else
    cfg["waitFor"] = "upgrade";  // the default transports must end on WebSocket
  // Two live entries once the client is in (its backlog of five is out by then).
  auto live = std::async(std::launch::async, [&] {
    EXPECT_TRUE(
        srv_->wait_metric_at_least("cutover_deliveries_total{transport=\"socketio\"}", 5, 30s));
    std::vector<std::string> v;
    v.push_back(publish("user:1", R"({"live":1})"));
    v.push_back(publish("all", R"({"live":2})"));
    return v;
  });
  auto out = run(cfg);
  for (auto& id : live.get()) want.push_back(id);
  EXPECT_EQ(ids(out), want);
  const auto& frames = out.at("frames").as_array();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].at("event").as_string(), "hello");
  EXPECT_EQ(frames[0].at("data").at("cursor").as_string(), "0-0");
  // Each notification carries its id as socket.io-client's recovery offset.
  for (const auto& f : frames) {
    if (f.at("event").as_string() == "notification") {
      EXPECT_EQ(f.at("offset"), f.at("data").at("id"));
    }
  }
  // The same frames, byte for byte as JSON, as /v1/ws sends.
  EXPECT_EQ(notifications(out), ws_frames("user=1&since=0", 7));
  const auto& connects = out.at("connects").as_array();
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_FALSE(connects[0].at("recovered").as_bool());
  // The pid (a private field; the minified browser bundle renames it, so Node only).
  if (GetParam().client == std::string("node")) {
    EXPECT_TRUE(std::string(connects[0].at("pid").as_string()).starts_with("cutover."));
  }
  if (websocket_only) {
    EXPECT_EQ(connects[0].at("transport").as_string(), "websocket");
    EXPECT_EQ(out.at("upgrades").as_int64(), 0);
  } else {
    EXPECT_EQ(out.at("firstTransport").as_string(), "polling");
    EXPECT_EQ(out.at("upgrades").as_int64(), 1);  // polling, then upgraded to WebSocket
    EXPECT_GE(metric("cutover_socketio_upgrades_total"), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Clients, SioTransports, kClients, kind_name);

class SioRecovery : public Sio, public ::testing::WithParamInterface<sio_client_kind> {};

// A connection lost while socket.io-client upgrades (after it paused polling for the probe,
// before the upgrade completed) leaves it with no request in flight: it notices only by
// its ping timeout, pingInterval + pingTimeout. A cut or a kill often lands there (right
// after a reconnect), so the instances under these tests ping at 1 s and wait 2 s, and a
// client stranded so reconnects within 3 s instead of 45 s.
const std::vector<std::string> kQuickPings = {"--sio-ping-interval", "1s", "--sio-ping-timeout",
                                              "2s"};
std::vector<std::string> with_quick_pings(std::vector<std::string> flags) {
  flags.insert(flags.end(), kQuickPings.begin(), kQuickPings.end());
  return flags;
}

// Three forced transport closes and a restart of the instance (kill -9, same port, same
// store) during a 300-entry stream: every entry exactly once, in order, and every
// reconnect recovered (the pid and offset resume on whatever instance answers).
TEST_P(SioRecovery, TransportClosesAndARestartLoseNothing) {
  int port = testing::free_port();
  testing::temp_dir dir;
  std::string db = dir.file("cutover.db");
  const auto flags = with_quick_pings({"--listen", "127.0.0.1:" + std::to_string(port)});
  start(flags, db);
  json::object cfg{{"port", port},        {"query", {{"user", "7"}}},
                   {"want", 300},         {"cuts", json::array{60, 150, 240}},
                   {"timeoutMs", 120000}, {"client", GetParam().client}};
  if (GetParam().websocket_only) cfg["transports"] = json::array{"websocket"};
  auto node = testing::spawn_node("sio_client.mjs", {json::serialize(cfg)});
  ASSERT_TRUE(node->wait_for_line("connected", 30s)) << node->output();
  std::vector<std::string> want;
  auto publish_to = [&](std::size_t n) {
    while (want.size() < n) want.push_back(publish("user:7", std::to_string(want.size())));
  };
  // Each cut comes with entries on their way (published past the cut point); the client
  // reconnects by itself and says so before the next step.
  auto cut_and_back = [&](int at, std::size_t publish_past) {
    std::size_t from = node->line_count();
    publish_to(publish_past);
    ASSERT_TRUE(node->wait_for_line("cut " + std::to_string(at), 30s, from)) << node->output();
    ASSERT_TRUE(node->wait_for_line("reconnected", 30s, from)) << node->output();
  };
  cut_and_back(60, 70);
  cut_and_back(150, 160);
  // The instance dies (SIGKILL) and entries arrive while it is down; a new process on the
  // same address and store answers the client's reconnect.
  std::size_t from = node->line_count();
  srv_.reset();
  publish_to(200);
  start(flags, db);
  ASSERT_TRUE(node->wait_for_line("reconnected", 30s, from)) << node->output();
  cut_and_back(240, 250);
  publish_to(300);
  ASSERT_EQ(node->wait_exit(120s), 0) << node->output();
  auto text = node->output();
  text = text.substr(text.rfind("{\"frames\""));
  auto out = json::parse(text.substr(0, text.find('\n'))).as_object();
  auto got = ids(out);
  EXPECT_EQ(got, want);
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    if (got[i] != want[i]) {
      ADD_FAILURE() << "first difference at " << i << ": " << got[i] << " vs " << want[i];
      break;
    }
  const auto& connects = out.at("connects").as_array();
  ASSERT_GE(connects.size(), 5u) << json::serialize(connects);  // first + 3 cuts + restart
  for (std::size_t i = 1; i < connects.size(); ++i)
    EXPECT_TRUE(connects[i].at("recovered").as_bool()) << i << json::serialize(connects);
}

INSTANTIATE_TEST_SUITE_P(Clients, SioRecovery, kClients, kind_name);

class SioTwoInstances : public Sio, public ::testing::WithParamInterface<sio_client_kind> {};

// Two instances (each its own store, one stream) behind the client's proxy, which moves
// the client to the other instance three times during a 300-entry stream, dropping the
// connections open then (a balancer draining one). A sid is known only where it was made,
// so each move costs one re-handshake, recovered by offset on the other store: every entry
// exactly once, in order, one recovered reconnect per move and no more.
TEST_P(SioTwoInstances, AClientMovedToTheOtherInstanceLosesNothing) {
  start(kQuickPings);
  auto other = instance(kQuickPings);
  json::object cfg{{"ports", json::array{srv_->port(), other->port()}},
                   {"query", {{"user", "7"}}},
                   {"want", 300},
                   {"moves", json::array{60, 150, 240}},
                   {"timeoutMs", 120000},
                   {"client", GetParam().client}};
  if (GetParam().websocket_only) cfg["transports"] = json::array{"websocket"};
  auto node = testing::spawn_node("sio_client.mjs", {json::serialize(cfg)});
  ASSERT_TRUE(node->wait_for_line("connected", 30s)) << node->output();
  std::vector<std::string> want;
  auto publish_to = [&](std::size_t n) {
    while (want.size() < n) want.push_back(publish("user:7", std::to_string(want.size())));
  };
  for (int at : {60, 150, 240}) {
    std::size_t from = node->line_count();
    publish_to(at + 10);
    ASSERT_TRUE(node->wait_for_line("moved " + std::to_string(at), 30s, from)) << node->output();
    ASSERT_TRUE(node->wait_for_line("reconnected", 30s, from)) << node->output();
  }
  publish_to(300);
  ASSERT_EQ(node->wait_exit(120s), 0) << node->output();
  auto text = node->output();
  text = text.substr(text.rfind("{\"frames\""));
  auto out = json::parse(text.substr(0, text.find('\n'))).as_object();
  EXPECT_EQ(ids(out), want);
  const auto& connects = out.at("connects").as_array();
  // The first and one per move (a stranded client too: its ping timeout is that one);
  // a ping answered late on a loaded machine may add a few.
  ASSERT_GE(connects.size(), 4u) << json::serialize(connects);
  ASSERT_LE(connects.size(), 7u) << json::serialize(connects);
  for (std::size_t i = 1; i < connects.size(); ++i)
    EXPECT_TRUE(connects[i].at("recovered").as_bool()) << i << json::serialize(connects);
  // Both instances served the client (it was on the first, then twice on the other).
  const std::string delivered = "cutover_deliveries_total{transport=\"socketio\"}";
  EXPECT_GT(srv_->metric(delivered).value_or(0), 0);
  EXPECT_GT(other->metric(delivered).value_or(0), 0);
}

INSTANTIATE_TEST_SUITE_P(Clients, SioTwoInstances, kClients, kind_name);

TEST_F(Sio, AnExpiredCursorGetsResetBeforeTheBacklogAndANewPid) {
  start({"--retain-per-topic", "3", "--prune-interval", "100ms"});
  std::vector<std::string> v;
  for (int i = 0; i < 10; ++i) v.push_back(publish("user:1", std::to_string(i)));
  committed(10);
  // Wait (on the server's answers) until retention removed v[1]: /v1/ws says reset.
  auto deadline = std::chrono::steady_clock::now() + 15s;
  bool expired = false;
  while (!expired && std::chrono::steady_clock::now() < deadline) {
    testing::raw_ws ws(srv_->port(), "/v1/ws?user=1&since=" + v[1]);
    ws.next_text();
    auto second = ws.next_text();
    expired = second && testing::json_field(*second, "type") == "reset";
  }
  ASSERT_TRUE(expired);
  // A recovering client (a Cutover pid with an expired offset).
  auto out = run({{"query", {{"user", "1"}}},
                  {"auth", {{"pid", "cutover.old"}, {"offset", v[1]}}},
                  {"want", 3}});
  const auto& frames = out.at("frames").as_array();
  ASSERT_GE(frames.size(), 5u) << json::serialize(frames);
  EXPECT_EQ(frames[0].at("event").as_string(), "hello");
  EXPECT_EQ(frames[1].at("event").as_string(), "reset");
  EXPECT_EQ(frames[1].at("data").at("type").as_string(), "reset");
  EXPECT_EQ(ids(out), (std::vector<std::string>{v[7], v[8], v[9]}));
  const auto& c = out.at("connects").as_array().at(0);
  EXPECT_FALSE(c.at("recovered").as_bool());
  EXPECT_NE(c.at("pid").as_string(), "cutover.old");
  // The same pid with an offset still held: echoed (no gap).
  auto again = run({{"query", {{"user", "1"}}},
                    {"auth", {{"pid", "cutover.old"}, {"offset", v[8]}}},
                    {"want", 1}});
  EXPECT_EQ(again.at("connects").as_array().at(0).at("pid").as_string(), "cutover.old");
  EXPECT_EQ(ids(again), (std::vector<std::string>{v[9]}));
}

// ---- refusals (DESIGN §6.2) -------------------------------------------------------

TEST_F(Sio, RefusalsAreThoseTheDesignNames) {
  start();
  // Malformed auth.since: 44 with status 400 (the client does not retry it).
  auto bad = run({{"query", {{"user", "1"}}},
                  {"auth", {{"since", "yesterday"}}},
                  {"waitFor", "connect_error"},
                  {"transports", json::array{"websocket"}}});
  ASSERT_EQ(bad.at("errors").as_array().size(), 1u) << json::serialize(bad);
  EXPECT_EQ(bad.at("errors").as_array()[0].at("message").as_string(), "malformed since");
  EXPECT_EQ(bad.at("errors").as_array()[0].at("data").at("status").as_int64(), 400);
  // Another namespace.
  auto nsp = run({{"query", {{"user", "1"}}}, {"nsp", "/admin"}, {"waitFor", "connect_error"}});
  ASSERT_EQ(nsp.at("errors").as_array().size(), 1u) << json::serialize(nsp);
  EXPECT_EQ(nsp.at("errors").as_array()[0].at("message").as_string(), "Invalid namespace");
  // No identity (insecure-query without ?user=): 401 on the handshake, as HTTP.
  auto r = http_get(srv_->port(), "/socket.io/?EIO=4&transport=polling");
  EXPECT_EQ(r.status, 401);
  // EIO=3: 400 with Engine.IO's code 5.
  r = http_get(srv_->port(), "/socket.io/?EIO=3&transport=polling&user=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"code":5,"message":"Unsupported protocol version"})");
  // The same refusals on a WebSocket upgrade (four of the published suite's WebSocket
  // refusal tests never await their check): EIO=3, transport=polling on an upgrade, a
  // sid this instance does not hold.
  for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
           {"EIO=3&transport=websocket", R"({"code":5,"message":"Unsupported protocol version"})"},
           {"EIO=4&transport=polling", R"({"code":0,"message":"Transport unknown"})"},
           {"EIO=4&transport=websocket&sid=nosuchsid",
            R"({"code":1,"message":"Session ID unknown"})"},
       }) {
    testing::raw_ws ws(srv_->port(), "/socket.io/?user=1&" + target);
    EXPECT_EQ(ws.handshake_status(), 400) << target;
    EXPECT_EQ(ws.handshake_body(), body) << target;
  }
  EXPECT_GE(metric("cutover_socketio_refusals_total{kind=\"connect\"}"), 2);
}

TEST_F(Sio, TokenModeTakesAuthTokenAndRefusesWithout) {
  start({"--auth", "token", "--token-secret", kSecret});
  publish("user:u1", "1");
  committed(1);
  auto token = testing::mint_token(kSecret, "u1");
  auto ok = run({{"auth", {{"token", token}, {"since", "0"}}}, {"want", 1}});
  EXPECT_EQ(ok.at("errors").as_array().size(), 0u);
  EXPECT_EQ(ids(ok).size(), 1u);
  auto none = run({{"waitFor", "connect_error"}});
  ASSERT_EQ(none.at("errors").as_array().size(), 1u) << json::serialize(none);
  EXPECT_EQ(none.at("errors").as_array()[0].at("message").as_string(), "unauthorized");
  EXPECT_EQ(none.at("errors").as_array()[0].at("data").at("status").as_int64(), 401);
  // A bad token in the handshake itself is a 401 there.
  auto r = http_get(srv_->port(), "/socket.io/?EIO=4&transport=polling&access_token=nope");
  EXPECT_EQ(r.status, 401);
}

// ---- garbage ------------------------------------------------------------------------

TEST_F(Sio, GarbageIsClosedCleanlyAndCounted) {
  start();
  const int port = srv_->port();
  // A POST (and a GET) naming a sid this instance never made.
  auto r = http_post(port, "/socket.io/?EIO=4&transport=polling&sid=nosuchsid", "40");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"code":1,"message":"Session ID unknown"})");
  EXPECT_EQ(metric("cutover_socketio_refusals_total{kind=\"unknown_sid\"}"), 1);
  // A malformed packet closes its session: the sid is gone afterwards.
  auto sid = handshake();
  ASSERT_FALSE(sid.empty());
  r = http_post(port, "/socket.io/?EIO=4&transport=polling&sid=" + sid, "40");
  EXPECT_EQ(r.status, 200);
  r = http_post(port, "/socket.io/?EIO=4&transport=polling&sid=" + sid, "4{not a packet");
  EXPECT_TRUE(srv_->wait_metric_at_least("cutover_socketio_refusals_total{kind=\"garbage\"}", 1));
  // The session ends: its next GET is answered with the close packet or refused.
  auto after = http_get(port, "/socket.io/?EIO=4&transport=polling&sid=" + sid);
  EXPECT_TRUE(after.status == 400 || after.body.find('1') != std::string::npos) << after.body;
  // An oversized payload: 413, the session closes.
  sid = handshake();
  r = http_post(port, "/socket.io/?EIO=4&transport=polling&sid=" + sid,
                "4" + std::string(1100000, 'x'));
  EXPECT_EQ(r.status, 413);
  // Two GETs at once on one sid: whichever comes second is refused (400), the held one
  // is answered with the close packet, and the session ends.
  sid = handshake();
  r = http_post(port, "/socket.io/?EIO=4&transport=polling&sid=" + sid, "40");
  r = http_get(port, "/socket.io/?EIO=4&transport=polling&sid=" + sid);  // ack and hello
  EXPECT_NE(r.body.find("40{"), std::string::npos) << r.body;
  auto get = [&] { return http_get(port, "/socket.io/?EIO=4&transport=polling&sid=" + sid); };
  auto a = std::async(std::launch::async, get);
  auto b = std::async(std::launch::async, get);
  auto ra = a.get(), rb = b.get();
  std::multiset<int> statuses{ra.status, rb.status};
  EXPECT_EQ(statuses, (std::multiset<int>{200, 400})) << ra.body << " / " << rb.body;
  EXPECT_EQ((ra.status == 200 ? ra : rb).body, "1");
  EXPECT_GE(metric("cutover_socketio_refusals_total{kind=\"garbage\"}"), 3);
  // Nothing else affected: a new client is served.
  publish("user:1", "\"after\"");
  committed(1);
  auto out = run({{"query", {{"user", "1"}}}, {"auth", {{"since", "0"}}}, {"want", 1}});
  EXPECT_EQ(ids(out).size(), 1u);
  EXPECT_EQ(http_get(port, "/healthz").status, 200);
}

TEST_F(Sio, MetricsCountSocketIoAsItsOwnTransport) {
  start();
  publish("user:5", "1");
  committed(1);
  auto out = run({{"query", {{"user", "5"}}}, {"auth", {{"since", "0"}}}, {"want", 1}});
  EXPECT_EQ(ids(out).size(), 1u);
  EXPECT_GE(metric("cutover_requests_total{transport=\"socketio\"}"), 1);
  EXPECT_GE(metric("cutover_deliveries_total{transport=\"socketio\"}"), 1);
  EXPECT_GE(metric("cutover_users_last_hour{transport=\"socketio\"}"), 1);
  EXPECT_TRUE(srv_->metric("cutover_socketio_sessions{transport=\"polling\"}").has_value());
  EXPECT_TRUE(srv_->metric("cutover_socketio_sessions{transport=\"websocket\"}").has_value());
}

}  // namespace
}  // namespace cutover

namespace cutover {
namespace {

// The origin check (DESIGN §7) on every Socket.IO request: CORS with credentials for an
// allowed page's polling, 403 for any other Origin, on polling and on the upgrade.
TEST_F(Sio, OriginsAreCheckedOnPollingAndOnTheUpgrade) {
  start({"--allow-origin", "https://app.example"});
  const int port = srv_->port();
  const std::string hs = "/socket.io/?EIO=4&transport=polling&user=1";
  auto r = http_get(port, hs, {{"Origin", "https://app.example"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["access-control-allow-origin"], "https://app.example");
  EXPECT_EQ(r.headers["access-control-allow-credentials"], "true");
  auto sid = std::string(json::parse(r.body.substr(1)).at("sid").as_string());
  // Later requests of the session (answered on the session's thread) carry CORS too.
  r = http_post(port, "/socket.io/?EIO=4&transport=polling&sid=" + sid, "40",
                {{"Origin", "https://app.example"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["access-control-allow-origin"], "https://app.example");
  // Another origin: 403 before identity, on polling and on the WebSocket upgrade.
  r = http_get(port, hs, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(r.status, 403);
  testing::raw_ws ws(port, "/socket.io/?EIO=4&transport=websocket&user=1", 0,
                     {{"Origin", "https://evil.example"}});
  EXPECT_EQ(ws.handshake_status(), 403);
  testing::raw_ws good(port, "/socket.io/?EIO=4&transport=websocket&user=1", 0,
                       {{"Origin", "https://app.example"}});
  EXPECT_EQ(good.handshake_status(), 101);
  auto open = good.next_text();
  ASSERT_TRUE(open);
  EXPECT_EQ(open->substr(0, 8), "0{\"sid\":");
  EXPECT_GE(metric("cutover_origin_refusals_total"), 2);
}

}  // namespace
}  // namespace cutover
