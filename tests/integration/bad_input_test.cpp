// The bad-input catalogue (docs/bad-input.md), row by row, against the real `cutover
// serve` and a real redis-server: what each bad input gets as an answer, and that the
// process survives it with every committed notification still delivered. Rows already
// proven elsewhere (serve_test.cpp, tests/ingest/) are not repeated here.
//
// Synchronisation is on events: responses, close frames, EOF, lines the server prints
// and /metrics values. Where a client must be slow on purpose (slowloris), its pace comes
// from waiting for the server's answer with a timeout, and the assertion is on what the
// server does, not on how long we slept.
//
// Rows that need a filesystem of their own (disk full, read-only file system) mount a
// tmpfs, which needs root (CAP_SYS_ADMIN); without it they are skipped with a message.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "cutover_proc.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "tcp_client.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::json_field;
using testing::raw_ws;
using testing::redis_client;
using testing::redis_server;
using testing::slurp;
using testing::subprocess;
using testing::tcp_client;
using testing::temp_dir;
using clock_type = std::chrono::steady_clock;

// One request on a fresh connection, byte for byte as given; the answer is read.
std::unique_ptr<tcp_client> exchange(int port, const std::string& request) {
  auto c = std::make_unique<tcp_client>(port);
  c->send_all(request);
  c->read_response();
  return c;
}

int close_code(const raw_ws::frame& f) {
  return f.opcode == 8 && f.payload.size() >= 2 ? (static_cast<unsigned char>(f.payload[0]) << 8) |
                                                      static_cast<unsigned char>(f.payload[1])
                                                : 0;
}

// The next close frame (skipping error frames, pings and pongs), or 0.
int next_close(raw_ws& ws, std::chrono::milliseconds timeout = 10s) {
  auto deadline = clock_type::now() + timeout;
  while (clock_type::now() < deadline) {
    auto f = ws.next(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()));
    if (f.opcode == -1) return 0;
    if (f.opcode == 8) return close_code(f);
  }
  return 0;
}

// Valid JSON in valid UTF-8 (Boost.JSON refuses anything else).
bool valid_json(const std::string& s) {
  boost::json::error_code ec;
  boost::json::parse(s, ec);
  return !ec;
}

// The frames a server sent after its 101 answer: (opcode, payload), unmasked.
std::vector<std::pair<int, std::string>> frames_after_101(const std::string& bytes) {
  std::vector<std::pair<int, std::string>> out;
  auto p = bytes.find("\r\n\r\n");
  if (p == std::string::npos) return out;
  p += 4;
  while (p + 2 <= bytes.size()) {
    int op = static_cast<unsigned char>(bytes[p]) & 0x0F;
    std::size_t len = static_cast<unsigned char>(bytes[p + 1]) & 0x7F, hdr = 2;
    if (len == 126) {
      if (p + 4 > bytes.size()) break;
      len = (static_cast<std::size_t>(static_cast<unsigned char>(bytes[p + 2])) << 8) |
            static_cast<unsigned char>(bytes[p + 3]);
      hdr = 4;
    }
    if (p + hdr + len > bytes.size()) break;
    out.emplace_back(op, bytes.substr(p + hdr, len));
    p += hdr + len;
  }
  return out;
}

std::uint64_t legacy_of(const std::string& id) {
  auto dash = id.find('-');
  return std::stoull(id.substr(0, dash)) * 1024 +
         std::min<std::uint64_t>(std::stoull(id.substr(dash + 1)), 1023);
}

// A tmpfs (or a read-only bind mount) that is unmounted on destruction. Needs root.
class mount_guard {
 public:
  static std::unique_ptr<mount_guard> tmpfs(const std::string& dir, const std::string& size) {
    std::filesystem::create_directories(dir);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) return nullptr;
    return std::unique_ptr<mount_guard>(new mount_guard(dir));
  }
  // `path` (a file or directory) becomes read-only where it is; its parent stays writable.
  static std::unique_ptr<mount_guard> read_only_bind(const std::string& path) {
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) return nullptr;
    auto g = std::unique_ptr<mount_guard>(new mount_guard(path));
    if (::mount(nullptr, path.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
      return nullptr;
    return g;
  }
  bool remount_read_only() {
    return ::mount(nullptr, where_.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0;
  }
  ~mount_guard() { ::umount2(where_.c_str(), MNT_DETACH); }

 private:
  explicit mount_guard(std::string where) : where_(std::move(where)) {}
  std::string where_;
};

// ---- fixture ------------------------------------------------------------------------

class BadInput : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}, const std::string& db = "") {
    std::vector<std::string> flags = {"--auth", "insecure-query", "--shared-topic",
                                      "all",    "--poll-timeout", "2s"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    srv_ = std::make_unique<cutover_server>(redis_, flags, db);
  }
  std::string publish(const std::string& topic, const std::string& data) {
    return pub_.xadd("cutover:notifications", {{"topic", topic}, {"type", "t"}, {"data", data}});
  }
  // One /metrics sample; a missing one fails the test (and reads as -1).
  double metric(const std::string& sample) {
    auto v = srv_->metric(sample);
    EXPECT_TRUE(v) << "no metric " << sample;
    return v.value_or(-1);
  }
  void committed(double n) {
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", n)) << n;
  }
  // Publishes one notification that every row must leave deliverable.
  void publish_keeper() {
    keeper_ = publish("user:keep", R"({"kept":true})");
    committed(1);
  }
  // The process is up, serves, and still delivers the keeper notification.
  void expect_still_serving() {
    ASSERT_TRUE(srv_->process().running()) << srv_->process().output();
    EXPECT_EQ(http_get(srv_->port(), "/healthz").status, 200);
    raw_ws ws(srv_->port(), "/v1/ws?user=keep&since=0");
    ASSERT_EQ(ws.handshake_status(), 101);
    ASSERT_TRUE(ws.next_text());  // hello
    auto f = ws.next_text();
    ASSERT_TRUE(f);
    EXPECT_EQ(json_field(*f, "id"), keeper_);
  }

  redis_server redis_;
  redis_client pub_{redis_.port()};
  std::unique_ptr<cutover_server> srv_;
  std::string keeper_;
};

// ---- HTTP ---------------------------------------------------------------------------

TEST_F(BadInput, MalformedAndHugeQueryStringsGetJsonErrors) {
  start();
  publish_keeper();
  std::string many;
  for (int i = 0; i < 65; ++i) many += "&p" + std::to_string(i) + "=1";
  // 40 three-byte characters: the error message quotes at most 64 bytes of them.
  std::string euros;
  for (int i = 0; i < 40; ++i) euros += "%E2%82%AC";
  struct row {
    std::string query;
    int status;
  };
  std::vector<row> rows = {
      {"user=1&since=%", 400},
      {"user=1&since=%zz", 400},
      {"user=1&since=%ff", 400},     // decodes to bytes that are not UTF-8
      {"user=1&since=%C0%AF", 400},  // overlong encoding
      {"user=1" + many, 400},        // more than 64 parameters
      {"user=1&since=-1", 400},
      {"user=1&since=1.5", 400},
      {"user=1&since=0x10", 400},
      {"user=1&since=1-2-3", 400},
      {"user=1&since=99999999999999999999999", 400},
      {"user=1&since=" + euros, 400},
      {"user=1&since=" + std::string(12000, '7'), 400},  // long, under the header limit
      {"user=1&since=" + std::string(20000, '7'), 431},  // past the 16 KiB header limit
  };
  for (const auto& r : rows) {
    auto c = exchange(srv_->port(),
                      "GET /api/notifications/poll?" + r.query + " HTTP/1.1\r\nHost: x\r\n\r\n");
    auto& reply = *c;
    EXPECT_EQ(reply.status(), r.status) << r.query.substr(0, 80);
    auto body = reply.body();
    EXPECT_TRUE(valid_json(body)) << r.query.substr(0, 80) << " -> " << body;
    EXPECT_EQ(json_field(body, "error"), r.status == 400 ? "bad_request" : "headers_too_large")
        << body;
  }
  // The same cursor text in a WebSocket resume: an error frame that is valid UTF-8 JSON.
  raw_ws ws(srv_->port(), "/v1/ws?user=1");
  ASSERT_TRUE(ws.next_text());
  std::string euro_text;
  for (int i = 0; i < 40; ++i) euro_text += "\xE2\x82\xAC";
  ws.send_frame(1, R"({"type":"resume","since":")" + euro_text + "\"}");
  auto err = ws.next_text();
  ASSERT_TRUE(err);
  EXPECT_EQ(json_field(*err, "type"), "error") << *err;
  EXPECT_NE(json_field(*err, "message").find("expected a stream id"), std::string::npos) << *err;
  EXPECT_GE(metric("cutover_bad_requests_total"), static_cast<double>(rows.size()));
  expect_still_serving();
}

TEST_F(BadInput, OneMebibyteOfHeadersIs431) {
  start();
  publish_keeper();
  {
    tcp_client c(srv_->port());
    // The server answers once it has read past its 16 KiB limit and closes; the rest of
    // our megabyte is refused (a reset), but the answer was already on its way to us.
    c.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') +
               "\r\n\r\n");
    ASSERT_TRUE(c.read_response()) << c.received().substr(0, 200);
    EXPECT_EQ(c.status(), 431);
    EXPECT_EQ(json_field(c.body(), "error"), "headers_too_large");
    EXPECT_TRUE(c.wait_closed());
  }
  {
    // The same megabyte as 20,000 small headers.
    std::string many;
    for (int i = 0; i < 20000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
    tcp_client c(srv_->port());
    c.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + "\r\n");
    ASSERT_TRUE(c.read_response());
    EXPECT_EQ(c.status(), 431);
  }
  EXPECT_GE(metric("cutover_bad_requests_total"), 2);
  expect_still_serving();
}

TEST_F(BadInput, SlowlorisHeadersAreCutOffByTheHeaderDeadline) {
  start({"--header-timeout", "1s", "--idle-timeout", "1s"});
  publish_keeper();
  tcp_client slow(srv_->port());
  tcp_client silent(srv_->port());  // connects and never sends a byte
  slow.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  auto t0 = clock_type::now();
  const std::string trickle = "X-Slow: " + std::string(200, 'a');
  std::size_t sent = 0;
  // One more header byte each time 200 ms pass without an answer: the deadline is for
  // the whole header, so the trickle must not extend it.
  while (!slow.closed() && slow.received().find("\r\n\r\n") == std::string::npos &&
         sent < trickle.size()) {
    if (!slow.read_some(200ms)) slow.send_all(trickle.substr(sent++, 1));
  }
  ASSERT_TRUE(slow.read_response());
  auto took = clock_type::now() - t0;
  EXPECT_EQ(slow.status(), 408);
  EXPECT_EQ(json_field(slow.body(), "error"), "request_timeout");
  EXPECT_TRUE(slow.wait_closed());
  EXPECT_LT(took, 10s);  // the 1 s deadline and the once-a-second sweep, with room for a loaded CI
  EXPECT_LT(sent, trickle.size());
  EXPECT_GE(metric("cutover_bad_requests_total"), 1);  // a 408 counts as a bad request
  // The silent one is closed by --idle-timeout, without an answer.
  EXPECT_TRUE(silent.wait_closed());
  EXPECT_TRUE(silent.received().empty());
  expect_still_serving();
}

TEST_F(BadInput, ConnectionFloodPastMaxConnectionsGets503AndNoCrash) {
  start({"--max-connections", "8"});
  publish_keeper();
  // Eight connections that each finished a request: counted, and kept open (keep-alive).
  std::vector<std::unique_ptr<tcp_client>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<tcp_client>(srv_->port()));
    held.back()->send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(held.back()->read_response());
    ASSERT_EQ(held.back()->status(), 200);
  }
  // A flood: 200 connections at once, before any of them is read.
  std::vector<std::unique_ptr<tcp_client>> flood;
  for (int i = 0; i < 200; ++i) flood.push_back(std::make_unique<tcp_client>(srv_->port()));
  int refused = 0;
  for (auto& c : flood) {
    c->read_response(5s);
    if (c->status() == 503) {
      ++refused;
      EXPECT_NE(c->received().find("Retry-After: 1"), std::string::npos);
    }
    EXPECT_TRUE(c->wait_closed(5s));
  }
  EXPECT_EQ(refused, 200);
  flood.clear();
  held.clear();
  // Once the held connections are gone the instance takes requests again.
  int status = 0;
  for (auto deadline = clock_type::now() + 10s; status != 200 && clock_type::now() < deadline;)
    status = http_get(srv_->port(), "/healthz").status;
  EXPECT_EQ(status, 200);
  EXPECT_GE(metric("cutover_overload_rejections_total"), 200);
  expect_still_serving();
}

// ---- WebSocket ----------------------------------------------------------------------

TEST_F(BadInput, OversizedAndFragmentedWebSocketMessagesClose1009) {
  start({"--max-ws-message", "4096"});
  publish_keeper();
  {
    raw_ws ws(srv_->port(), "/v1/ws?user=1");
    ASSERT_TRUE(ws.next_text());
    ws.send_frame(1, std::string(3000, 'a'), /*fin=*/false);
    ws.send_frame(0, std::string(3000, 'b'));  // each fragment fits, the message does not
    EXPECT_EQ(next_close(ws), 1009);
  }
  {
    raw_ws ws(srv_->port(), "/v1/ws?user=1");
    ASSERT_TRUE(ws.next_text());
    ws.send_frame(1, "x", false);
    for (int i = 0; i < 100; ++i)
      ws.send_frame(0, std::string(50, 'y'), false);  // 5001 bytes in all
    EXPECT_EQ(next_close(ws), 1009);
  }
  {
    // A header that announces 2^63 bytes: refused from the header, nothing buffered.
    raw_ws ws(srv_->port(), "/v1/ws?user=1");
    ASSERT_TRUE(ws.next_text());
    std::string hdr = "\x81\xff\x7f";
    hdr += std::string(7, '\xff');
    ws.send_raw(hdr + "mask");
    EXPECT_EQ(next_close(ws), 1009);
  }
  EXPECT_GE(metric("cutover_ws_closes_total{reason=\"protocol\"}"), 3);
  expect_still_serving();
}

TEST_F(BadInput, InvalidUtf8InTextFramesCloses1007) {
  start();
  publish_keeper();
  struct row {
    std::vector<std::string> fragments;
    int close;  // 0: accepted (answered with an error frame, session goes on)
  };
  std::vector<row> rows = {
      {{"\xE2\x82", "\x28"}, 1007},               // a sequence broken across fragments
      {{"\xC0\xAF"}, 1007},                       // overlong
      {{"\xED\xA0\x80"}, 1007},                   // a UTF-16 surrogate
      {{"\xF4\x90\x80\x80"}, 1007},               // above U+10FFFF
      {{"{\"x\":\"", "\xE2\x82", "\xAC\"}"}, 0},  // valid, split inside a character
  };
  for (const auto& r : rows) {
    raw_ws ws(srv_->port(), "/v1/ws?user=1");
    ASSERT_TRUE(ws.next_text());
    for (std::size_t i = 0; i < r.fragments.size(); ++i)
      ws.send_frame(i == 0 ? 1 : 0, r.fragments[i], i + 1 == r.fragments.size());
    if (r.close) {
      EXPECT_EQ(next_close(ws), r.close);
    } else {
      auto t = ws.next_text();
      ASSERT_TRUE(t);
      EXPECT_EQ(json_field(*t, "type"), "error");
    }
  }
  expect_still_serving();
}

TEST_F(BadInput, BinaryAndGarbageAfterTheUpgradeCloseOnlyThatSession) {
  start();
  publish_keeper();
  raw_ws good(srv_->port(), "/v1/ws?user=1");
  ASSERT_TRUE(good.next_text());
  {
    // A fragmented binary message: answered with an error frame; the session goes on.
    raw_ws ws(srv_->port(), "/v1/ws?user=1");
    ASSERT_TRUE(ws.next_text());
    ws.send_frame(2, "\x00\x01", false);
    ws.send_frame(0, "\x02");
    auto t = ws.next_text();
    ASSERT_TRUE(t);
    EXPECT_NE(json_field(*t, "message").find("binary"), std::string::npos);
    ws.send_frame(9, "still");
    EXPECT_EQ(ws.next().payload, "still");
  }
  {
    // An HTTP request where frames are expected: 'G' sets a reserved bit (1002).
    raw_ws ws(srv_->port(), "/v1/ws?user=1");
    ASSERT_TRUE(ws.next_text());
    ws.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(next_close(ws), 1002);
  }
  {
    // Garbage in the same packet as the upgrade request (the handshake's leftover bytes).
    tcp_client c(srv_->port());
    c.send_all(
        "GET /v1/ws?user=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        "\xff\xff\xff\xff garbage");
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(c.status(), 101);
    // The hello, then a close frame with 1002.
    auto frames = frames_after_101(c.received());
    ASSERT_EQ(frames.size(), 2u) << c.received();
    EXPECT_EQ(frames[0].first, 1);
    EXPECT_EQ(frames[1].first, 8);
    ASSERT_GE(frames[1].second.size(), 2u);
    EXPECT_EQ((static_cast<unsigned char>(frames[1].second[0]) << 8) |
                  static_cast<unsigned char>(frames[1].second[1]),
              1002);
  }
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    // 64 KiB of random bytes: some violation closes it (which one depends on the bytes).
    raw_ws ws(srv_->port(), "/v1/ws?user=1");
    ASSERT_TRUE(ws.next_text());
    std::mt19937 rng(seed);
    std::string junk(64 * 1024, '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng());
    ws.send_raw(junk);
    int code = next_close(ws);
    EXPECT_TRUE(code == 1002 || code == 1007 || code == 1009) << "seed " << seed << ": " << code;
  }
  // The well-behaved session next to them still gets its notifications.
  auto id = publish("user:1", "42");
  auto f = good.next_text();
  ASSERT_TRUE(f);
  EXPECT_EQ(json_field(*f, "id"), id);
  expect_still_serving();
}

// ---- Redis --------------------------------------------------------------------------

TEST_F(BadInput, EntriesWithEveryFieldWrongAreDeadLetteredAndTheRestDelivered) {
  start({"--max-payload", "1024"});
  publish_keeper();
  auto first = publish("user:1", R"({"n":1})");
  using fields = std::vector<std::pair<std::string, std::string>>;
  std::string deep = std::string(70, '[') + std::string(70, ']');
  std::vector<fields> bad = {
      {{"data", "1"}},                          // no topic
      {{"topic", "user:1"}},                    // no data
      {{"nothing", "useful"}},                  // neither
      {{"topic", "user:1"}, {"data", "{bad"}},  // not JSON
      {{"topic", "user:1"}, {"data", "{} x"}},  // trailing garbage
      {{"topic", "user:1"}, {"data", ""}},      // empty data
      {{"topic", "user:1"}, {"data", deep}},    // nested past the depth limit
      {{"topic", "user:1"}, {"data", "\"" + std::string(2000, 'x') + "\""}},  // over --max-payload
      {{"topic", "user:1"}, {"data", "\"\xff\""}},                            // data not UTF-8
      {{"topic", ""}, {"data", "1"}},                                         // empty topic
      {{"topic", "user:\xc3"}, {"data", "1"}},                                // topic not UTF-8
      {{"topic", "user:\n1"}, {"data", "1"}},                                 // control character
      {{"topic", std::string(300, 't')}, {"data", "1"}},                      // topic too long
      {{"topic", "user:1"}, {"type", "a\x01"}, {"data", "1"}},
      {{"topic", "user:1"}, {"type", std::string(200, 'y')}, {"data", "1"}},
      {{"topic", "user:1"}, {"key", ""}, {"data", "1"}},
      {{"topic", "user:1"}, {"key", std::string(300, 'k')}, {"data", "1"}},
      {{"topic", "user:1"}, {"topic", "user:1"}, {"data", "1"}},  // topic twice
      {{"topic", "user:1"}, {"data", "1"}, {"data", "2"}},        // data twice
      {{"\xff\xfe", "\x00\x01"},
       {"topic", "\x80"},
       {"data", std::string(1 << 20, '\x90')}},  // binary, 1 MiB
  };
  for (const auto& f : bad) pub_.xadd("cutover:notifications", f);
  auto last = publish("user:1", R"({"n":2})");
  committed(3);
  ASSERT_TRUE(
      srv_->wait_metric_at_least("cutover_dead_letters_total", static_cast<double>(bad.size())));
  EXPECT_EQ(metric("cutover_dead_letters_total"), static_cast<double>(bad.size()));
  // A poll sees the two good ones, in order, and nothing of the others.
  auto r = http_get(srv_->port(), "/api/notifications/poll?user=1&since=0");
  ASSERT_EQ(r.status, 200);
  auto list = boost::json::parse(r.body).as_object().at("notifications").as_array();
  ASSERT_EQ(list.size(), 2u) << r.body;
  EXPECT_EQ(list[0].as_object().at("id").to_number<std::uint64_t>(), legacy_of(first));
  EXPECT_EQ(list[1].as_object().at("id").to_number<std::uint64_t>(), legacy_of(last));
  // Every one of them is in dead_letters with a reason, and the raw entry as JSON.
  auto db = store::sql::open(srv_->db(), store::sql::open_mode::existing);
  ASSERT_TRUE(db);
  auto s =
      store::sql::statement::prepare(db->get(), "SELECT raw, reason FROM dead_letters ORDER BY id");
  ASSERT_TRUE(s);
  std::size_t rows = 0;
  while (s->step() == SQLITE_ROW) {
    ++rows;
    EXPECT_FALSE(s->text(1).empty());
    EXPECT_EQ(s->text(0).front(), '{');
  }
  EXPECT_EQ(rows, bad.size());
  expect_still_serving();
}

TEST_F(BadInput, StreamKeyOfTheWrongTypeIsNotReadyUntilFixed) {
  pub_.command({"SET", "cutover:notifications", "not a stream"});
  start();
  ASSERT_TRUE(srv_->process().wait_for_line("WRONGTYPE", 15s)) << srv_->process().output();
  EXPECT_EQ(http_get(srv_->port(), "/readyz").status, 503);
  EXPECT_EQ(http_get(srv_->port(), "/healthz").status, 200);
  pub_.command({"DEL", "cutover:notifications"});
  publish_keeper();
  int status = 0;
  for (auto deadline = clock_type::now() + 15s; status != 200 && clock_type::now() < deadline;)
    status = http_get(srv_->port(), "/readyz").status;
  EXPECT_EQ(status, 200);
  expect_still_serving();
}

TEST_F(BadInput, RedisErrorRepliesBackOffAndLoseNothing) {
  start({"--admin-token", "adm"});
  publish_keeper();
  // The ingest connection's XREAD now gets "NOPERM" error replies.
  pub_.command({"ACL", "SETUSER", "default", "-xread", "-xadd"});
  ASSERT_TRUE(srv_->process().wait_for_line("NOPERM", 15s)) << srv_->process().output();
  int status = 200;
  for (auto deadline = clock_type::now() + 15s; status == 200 && clock_type::now() < deadline;)
    status = http_get(srv_->port(), "/readyz").status;
  EXPECT_EQ(status, 503);
  // HTTP publish sees the error too: a 503, never a silent loss.
  auto p = testing::http_post(srv_->port(), "/v1/publish", R"({"topic":"user:1","data":1})",
                              {{"Authorization", "Bearer adm"}});
  EXPECT_EQ(p.status, 503) << p.body;
  EXPECT_NE(json_field(p.body, "message").find("NOPERM"), std::string::npos) << p.body;
  pub_.command({"ACL", "SETUSER", "default", "+@all"});
  auto later = publish("user:1", "2");
  ASSERT_TRUE(srv_->process().wait_for_line("stream reads recovered", 15s))
      << srv_->process().output();
  raw_ws ws(srv_->port(), "/v1/ws?user=1&since=0");
  ASSERT_TRUE(ws.next_text());
  auto f = ws.next_text();
  ASSERT_TRUE(f);
  EXPECT_EQ(json_field(*f, "id"), later);  // the refused HTTP publish never reached the stream
  expect_still_serving();
}

// ---- configuration --------------------------------------------------------------------

TEST_F(BadInput, BadConfigurationExitsWithOneLine) {
  temp_dir dir;
  struct row {
    std::vector<std::string> flags;
    int code;
    std::string needle;
  };
  std::vector<row> rows = {
      {{"--poll-timeout", "999999999999d"}, 2, "is not a duration"},  // overflowed before the fix
      {{"--poll-timeout", "1.5s"}, 2, "is not a duration"},
      {{"--auth", "header", "--auth-header", "X-User", "--trusted-peer", "10.0.0.1/33"}, 2, "CIDR"},
      {{"--upstream", "https://legacy"}, 2, "https upstreams are not supported"},
      {{"--upstream", "http://:80"}, 2, "no host"},
      // A usage error found before the store is touched, never repeating the password.
      {{"--redis", "user:Pw0Secret@host://x"}, 2, "invalid Redis URL"},
      {{"--redis", "redis://:Pw0Secret@host:0"}, 2, "invalid Redis URL"},
      {{"--poll-timeout", "1000000d"}, 2, "is not a duration"},  // past 100 years
      {{"--ws-ping-interval", "30s", "--ws-silence-timeout", "10s"},
       2,
       "must be longer than --ws-ping-interval"},
  };
  for (const auto& r : rows) {
    std::vector<std::string> argv = {CUTOVER_BIN, "serve",          "--listen", "127.0.0.1:0",
                                     "--db",      dir.file("c.db"), "--auth",   "insecure-query"};
    argv.insert(argv.end(), r.flags.begin(), r.flags.end());
    auto p = subprocess::spawn(argv);
    auto code = p->wait_exit(20s);
    ASSERT_TRUE(code) << r.flags.back();
    // The exit can be seen before the last line is read from the pipe: wait for the line.
    EXPECT_TRUE(p->wait_for_line(r.needle, 5s)) << p->output();
    EXPECT_EQ(*code, r.code) << r.flags.back() << ": " << p->output();
    auto out = p->output();
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_EQ(out.rfind("cutover: ", 0), 0u) << out;
    EXPECT_NE(out.find(r.needle), std::string::npos) << out;
    EXPECT_EQ(out.find("Pw0Secret"), std::string::npos) << out;
    if (r.code == 2) {
      EXPECT_FALSE(std::filesystem::exists(dir.file("c.db")))
          << "usage errors leave no store behind";
    }
  }
}

// ---- the store ----------------------------------------------------------------------

// `serve` on `db`: expected to exit 1 with one line, leaving the file as it was.
void expect_refused_untouched(const std::string& redis_url, const std::string& db,
                              const std::string& needle) {
  std::string before = slurp(db);
  auto p = subprocess::spawn({CUTOVER_BIN, "serve", "--listen", "127.0.0.1:0", "--db", db,
                              "--redis", redis_url, "--auth", "insecure-query"});
  auto code = p->wait_exit(20s);
  ASSERT_TRUE(code) << p->output();
  EXPECT_EQ(*code, 1) << p->output();
  // The exit can be seen before the last line is read from the pipe: wait for the line.
  EXPECT_TRUE(p->wait_for_line(needle, 5s)) << p->output();
  auto out = p->output();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.rfind("cutover: ", 0), 0u) << out;
  EXPECT_NE(out.find(needle), std::string::npos) << out;
  EXPECT_EQ(out.find("listening"), std::string::npos) << out;
  EXPECT_EQ(slurp(db), before) << db;
}

// A real store with a few recent notifications (retention keeps them), checkpointed into
// the main file.
void make_store(const std::string& path) {
  auto w = store::writer::open(path);
  ASSERT_TRUE(w) << w.err().message;
  store::append_batch b;
  auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  for (std::uint64_t i = 1; i <= 20; ++i)
    b.entries.push_back({{now - 60'000 + i, 0},
                         {"user:1", "t", "{\"i\":" + std::to_string(i) + "}", {}},
                         "s",
                         nullptr});
  ASSERT_TRUE(w->append(b));
}

TEST_F(BadInput, CorruptStoreFilesExitOneAndAreLeftUntouched) {
  temp_dir dir;
  { std::ofstream(dir.file("garbage.db"), std::ios::binary) << std::string(4096, 'x'); }
  expect_refused_untouched(redis_.url(), dir.file("garbage.db"), "not a database");

  make_store(dir.file("good.db"));
  std::string good = slurp(dir.file("good.db"));
  ASSERT_GT(good.size(), 8192u);
  { std::ofstream(dir.file("truncated.db"), std::ios::binary) << good.substr(0, 100); }
  expect_refused_untouched(redis_.url(), dir.file("truncated.db"), "malformed");

  // The index every read at start uses, overwritten.
  std::size_t root = 0, page = 0;
  {
    auto db = store::sql::open(dir.file("good.db"), store::sql::open_mode::existing);
    auto s = store::sql::statement::prepare(
        db->get(), "SELECT rootpage FROM sqlite_master WHERE name = 'notifications_by_id'");
    ASSERT_TRUE(s && s->step() == SQLITE_ROW);
    root = static_cast<std::size_t>(s->int64(0));
    page = static_cast<std::size_t>(*store::sql::pragma_int(db->get(), "page_size"));
  }
  std::string broken = good;
  ASSERT_GE(broken.size(), root * page);
  for (std::size_t i = 0; i < page; ++i) broken[(root - 1) * page + i] = static_cast<char>(0xA5);
  { std::ofstream(dir.file("page.db"), std::ios::binary) << broken; }
  expect_refused_untouched(redis_.url(), dir.file("page.db"), "malformed");
}

// Overwrites the root page of table or index `name` in the store file `db` with garbage.
void overwrite_root_page(const std::string& db, const std::string& name) {
  std::size_t root = 0, page = 0;
  {
    auto h = store::sql::open(db, store::sql::open_mode::existing);
    ASSERT_TRUE(h) << h.err().message;
    auto s = store::sql::statement::prepare(h->get(),
                                            "SELECT rootpage FROM sqlite_master WHERE name = ?1");
    ASSERT_TRUE(s);
    s->bind(1, std::string_view(name));
    ASSERT_EQ(s->step(), SQLITE_ROW) << name;
    root = static_cast<std::size_t>(s->int64(0));
    page = static_cast<std::size_t>(*store::sql::pragma_int(h->get(), "page_size"));
  }
  std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>((root - 1) * page));
  f << std::string(page, '\xA5');
  ASSERT_TRUE(f.good()) << db;
}

// Corruption in a page nothing reads at start (here the dead-letter table) is not seen
// until a write touches it: that batch fails as a whole and is retried, the process and
// what was committed stay. A full integrity check at start would cost a scan of the
// whole store, so this is where it is found.
TEST_F(BadInput, CorruptionFoundByALaterWriteFailsThatBatchWholeAndKeepsServing) {
  temp_dir dir;
  std::string db = dir.file("late.db");
  make_store(db);
  overwrite_root_page(db, "dead_letters");
  start({}, db);
  publish_keeper();
  pub_.xadd("cutover:notifications", {{"data", "no topic"}});  // its dead letter needs that page
  ASSERT_TRUE(srv_->process().wait_for_line("malformed", 20s)) << srv_->process().output();
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_commit_failures_total", 1));
  expect_still_serving();
  // The stored rows are what they were: the 20 written before and the keeper.
  auto h = store::sql::open(db, store::sql::open_mode::existing);
  auto s = store::sql::statement::prepare(h->get(), "SELECT count(*) FROM notifications");
  ASSERT_TRUE(s && s->step() == SQLITE_ROW);
  EXPECT_EQ(s->int64(0), 21);
}

// A store that fails every poll read (the topic index overwritten before start; nothing at
// start reads it) is answered 503 each time, and logged at most once a second with a count
// of what was held back: not one line per poll. Every line is written between the first
// request going out and the last answer coming back, and lines are >= 1 s apart on the
// server's clock, so a window of W seconds holds at most floor(W / 1 s) + 1 of them.
TEST_F(BadInput, FailingStoreReadsOnThePollPathLogAtMostOneLineASecond) {
  temp_dir dir;
  std::string db = dir.file("unreadable.db");
  make_store(db);
  overwrite_root_page(db, "notifications_by_topic");
  start({}, db);
  const std::string needle = "poll: store read failed";
  auto from = srv_->process().line_count();
  int polls = 0;
  auto t0 = clock_type::now();
  // Polls for at least 2.5 s (so a second line, with its count, is due) and 100 polls.
  while (polls < 100 || clock_type::now() - t0 < 2500ms) {
    auto r = http_get(srv_->port(), "/api/notifications/poll?user=1&since=0");
    ASSERT_EQ(r.status, 503) << r.body;
    ASSERT_EQ(r.headers["retry-after"], "1");
    ++polls;
    ASSERT_LT(polls, 100000);
  }
  auto window = clock_type::now() - t0;
  // The second line says how many were held back since the first.
  auto counted = srv_->process().wait_for_line("similar lines suppressed", 20s, from);
  ASSERT_TRUE(counted) << srv_->process().output();
  EXPECT_NE(counted->find(needle), std::string::npos) << *counted;
  auto out = srv_->process().output();
  std::size_t lines = 0;
  for (std::size_t p = out.find(needle); p != std::string::npos; p = out.find(needle, p + 1))
    ++lines;
  auto bound =
      static_cast<std::size_t>(std::chrono::duration_cast<std::chrono::seconds>(window).count()) +
      1;
  EXPECT_GE(lines, 2u);
  EXPECT_LE(lines, bound) << polls << " polls in " << std::chrono::duration<double>(window).count()
                          << " s:\n"
                          << out;
  EXPECT_EQ(metric("cutover_store_reads_total"), polls) << "each poll did read the store";
}

TEST_F(BadInput, ReadOnlyStoreExitsOneAndIsLeftUntouched) {
  temp_dir dir;
  make_store(dir.file("ro.db"));
  // The file read-only, its directory writable (SQLite could create -wal and -shm there
  // and silently open the store read-only).
  std::unique_ptr<mount_guard> bind;
  if (::geteuid() == 0) {
    bind = mount_guard::read_only_bind(dir.file("ro.db"));
    ASSERT_TRUE(bind) << "bind mount failed: " << std::strerror(errno);
  } else {
    ASSERT_EQ(::chmod(dir.file("ro.db").c_str(), 0444), 0);
  }
  expect_refused_untouched(redis_.url(), dir.file("ro.db"), "read-only");
  bind.reset();

  // The whole file system read-only.
  auto fs = mount_guard::tmpfs(dir.file("rofs"), "4m");
  if (!fs) GTEST_SKIP() << "mounting a tmpfs needs root (CAP_SYS_ADMIN): " << std::strerror(errno);
  make_store(dir.file("rofs/s.db"));
  ASSERT_TRUE(fs->remount_read_only()) << std::strerror(errno);
  expect_refused_untouched(redis_.url(), dir.file("rofs/s.db"), "read-only");
}

TEST_F(BadInput, DiskFullDuringABatchCommitsNothingOfItAndLosesNothing) {
  temp_dir dir;
  auto fs = mount_guard::tmpfs(dir.file("small"), "4m");
  if (!fs) GTEST_SKIP() << "mounting a tmpfs needs root (CAP_SYS_ADMIN): " << std::strerror(errno);
  start({}, dir.file("small/cutover.db"));
  publish_keeper();
  // Leave about 96 KiB free: room for small commits, not for the batch below.
  auto free_bytes = std::filesystem::space(dir.file("small")).available;
  ASSERT_GT(free_bytes, 200u * 1024);
  {
    std::ofstream filler(dir.file("small/filler"), std::ios::binary);
    filler << std::string(free_bytes - 96 * 1024, '\0');
  }
  std::vector<std::vector<std::string>> cmds;
  std::string pad(1000, 'p');
  for (int i = 0; i < 600; ++i)
    cmds.push_back({"XADD", "cutover:notifications", "*", "topic", "user:1", "data",
                    "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}"});
  pub_.pipeline(cmds);
  ASSERT_TRUE(srv_->process().wait_for_line("disk is full", 20s)) << srv_->process().output();
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_commit_failures_total", 1));

  // The failed batches left nothing behind: what is stored is exactly the stream up to
  // the stored offset, with nothing after it.
  auto stream_ids = [&] {
    std::vector<std::string> ids;
    for (const auto& e : pub_.xrange("cutover:notifications")) ids.push_back(e.id);
    return ids;
  }();
  auto stored = [&] {
    std::vector<std::string> ids;
    auto db = store::sql::open(dir.file("small/cutover.db"), store::sql::open_mode::existing);
    EXPECT_TRUE(db);
    // One read transaction: the rows and the offset from the same commit.
    EXPECT_TRUE(store::sql::exec(db->get(), "BEGIN", "begin"));
    auto s = store::sql::statement::prepare(db->get(),
                                            "SELECT ms, seq FROM notifications ORDER BY ms, seq");
    while (s && s->step() == SQLITE_ROW)
      ids.push_back(std::to_string(s->int64(0)) + "-" + std::to_string(s->int64(1)));
    auto o = store::sql::statement::prepare(db->get(), "SELECT ms, seq FROM ingest_offsets");
    std::string offset = o && o->step() == SQLITE_ROW
                             ? std::to_string(o->int64(0)) + "-" + std::to_string(o->int64(1))
                             : "";
    if (s) s->reset();
    if (o) o->reset();
    EXPECT_TRUE(store::sql::exec(db->get(), "COMMIT", "commit"));
    return std::make_pair(ids, offset);
  };
  auto [during, offset] = stored();
  ASSERT_LT(during.size(), stream_ids.size());
  EXPECT_EQ(during, std::vector<std::string>(
                        stream_ids.begin(), stream_ids.begin() + static_cast<long>(during.size())));
  EXPECT_EQ(offset, during.back());
  ASSERT_TRUE(srv_->process().running());

  // Space again: the batch is re-read from the committed offset and stored once.
  std::filesystem::remove(dir.file("small/filler"));
  committed(601);
  ASSERT_TRUE(srv_->process().wait_for_line("commits recovered", 20s));
  EXPECT_EQ(stored().first, stream_ids);
  EXPECT_EQ(metric("cutover_ingest_duplicates_total"), 0);
  raw_ws ws(srv_->port(), "/v1/ws?user=1&since=0");
  ASSERT_TRUE(ws.next_text());
  for (int i = 0; i < 600; ++i) {
    auto t = ws.next_text();
    ASSERT_TRUE(t) << i;
    ASSERT_EQ(json_field(json_field(*t, "data"), "i"), std::to_string(i));
  }
  expect_still_serving();
  srv_.reset();  // the server's files live on the tmpfs: stop it before unmounting
}

}  // namespace
}  // namespace cutover
