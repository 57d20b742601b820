// One test group per codec: what hello, notification, reset, keepalive and the end look
// like on the wire, and what a client's bytes turn into.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "net/sse_codec.hpp"
#include "net/ws_codec.hpp"

namespace cutover::net {
namespace {
using namespace std::chrono_literals;

notification_ptr note(std::string data) {
  return std::make_shared<const notification>(stream_id{1700000000000, 3}, "user:1", "task.done",
                                              std::move(data));
}

// Undoes HTTP/1.1 chunking; false if the framing is wrong.
bool dechunk(std::string_view in, std::string& out) {
  while (!in.empty()) {
    auto eol = in.find("\r\n");
    if (eol == std::string_view::npos) return false;
    std::size_t n = std::stoul(std::string(in.substr(0, eol)), nullptr, 16);
    in.remove_prefix(eol + 2);
    if (n == 0) return in == "\r\n";
    if (in.size() < n + 2 || in.substr(n, 2) != "\r\n") return false;
    out.append(in.substr(0, n));
    in.remove_prefix(n + 2);
  }
  return true;
}

std::string body(const std::string& chunk) {
  std::string out;
  EXPECT_TRUE(dechunk(chunk, out)) << chunk;
  return out;
}

TEST(SseCodec, OpenIsTheHeadThenRetry) {
  sse_codec c({{"Access-Control-Allow-Origin", "https://app.example"}}, 2500ms, 15s);
  std::string o = c.open();
  auto split = o.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  std::string head = o.substr(0, split + 4);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  for (const char* h :
       {"Content-Type: text/event-stream; charset=utf-8\r\n", "Cache-Control: no-cache\r\n",
        "X-Accel-Buffering: no\r\n", "Transfer-Encoding: chunked\r\n",
        "Access-Control-Allow-Origin: https://app.example\r\n"})
    EXPECT_NE(head.find(h), std::string::npos) << h;
  EXPECT_EQ(body(o.substr(split + 4)), "retry: 2500\n\n");
}

TEST(SseCodec, HelloCarriesAnIdOnlyAtAStreamId) {
  sse_codec c({}, 3s, 15s);
  std::vector<std::string> topics{"user:1", "all"};
  EXPECT_EQ(
      body(c.hello(stream_id{5, 1}, true, topics)),
      "id: 5-1\ndata: {\"type\":\"hello\",\"cursor\":\"5-1\",\"topics\":[\"user:1\",\"all\"]}\n\n");
  EXPECT_EQ(body(c.hello(stream_id{5, 1}, false, topics)).rfind("data: {", 0), 0u);
}

TEST(SseCodec, ANotificationIsOneDataLineWithItsIdAndNoEventField) {
  sse_codec c({}, 3s, 15s);
  // Newlines, "data:" and "id:" inside strings stay inside the JSON, escaped.
  auto n = note(R"({"text":"a\nb\r\ndata: x\nid: 9-9","n":1})");
  std::string b = body(c.notification(*n));
  EXPECT_EQ(b.rfind("id: 1700000000000-3\ndata: {", 0), 0u) << b;
  EXPECT_EQ(b.substr(b.size() - 2), "\n\n");
  EXPECT_EQ(std::count(b.begin(), b.end(), '\n'), 3);  // id line, data line, blank line
  EXPECT_EQ(b.find("event:"), std::string::npos);
  auto json = boost::json::parse(b.substr(b.find("data: ") + 6, b.size() - b.find("data: ") - 8));
  EXPECT_EQ(json.at("type").as_string(), "notification");
  EXPECT_EQ(json.at("data").at("text").as_string(), "a\nb\r\ndata: x\nid: 9-9");
  // Rendered once, shared by every recipient.
  EXPECT_EQ(&c.notification(*n), &sse_codec({}, 1s, 1s).notification(*n));
}

TEST(SseCodec, ResetKeepaliveAndEnd) {
  sse_codec c({}, 3s, 15s);
  EXPECT_EQ(body(c.reset(stream_id{7, 0})), "data: {\"type\":\"reset\",\"oldest\":\"7-0\"}\n\n");
  EXPECT_EQ(body(c.keepalive()), ":\n");
  EXPECT_EQ(c.end(end_reason::shutdown, 0, ""), "0\r\n\r\n");
  EXPECT_TRUE(c.keepalive_when_idle());
  EXPECT_EQ(c.keepalive_interval(), 15s);
  EXPECT_FALSE(c.silence_timeout());
}

TEST(SseCodec, ShedIsA200WithRetryAndTheEnd) {
  std::string r = sse_shed_response({}, 3s);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(body(r.substr(r.find("\r\n\r\n") + 4)), "retry: 3000\n\n");
}

// ---- WebSocket ----------------------------------------------------------------

struct recorder final : codec_events {
  std::vector<std::string> replies;
  std::optional<cursor> resumed;
  std::optional<std::uint16_t> peer_close, violation_code;
  void resume(const cursor& c) override { resumed = c; }
  void reply(std::string b) override { replies.push_back(std::move(b)); }
  void peer_closing(std::uint16_t code) override { peer_close = code; }
  void violation(std::uint16_t code, std::string_view) override { violation_code = code; }
  bool closing() const override { return false; }
};

std::string masked(unsigned op, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | op));
  f.push_back(static_cast<char>(0x80 | payload.size()));  // short payloads only
  const char mask[4] = {1, 2, 3, 4};
  f.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return f;
}

// The payload of an unmasked server text frame with a short payload.
std::string payload(const std::string& frame) {
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0x81);
  std::size_t n = static_cast<unsigned char>(frame[1]);
  return n < 126 ? frame.substr(2) : frame.substr(4);
}

TEST(WsCodec, FramesAreTextFramesOfTheSection5Json) {
  ws_codec c("acceptkey", 64 * 1024, 25s, 60s);
  std::string o = c.open();
  EXPECT_EQ(o.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u);
  EXPECT_NE(o.find("Sec-WebSocket-Accept: acceptkey\r\n"), std::string::npos);
  EXPECT_EQ(payload(c.hello(stream_id{1, 2}, true, {"user:1"})),
            R"({"type":"hello","cursor":"1-2","topics":["user:1"]})");
  EXPECT_EQ(payload(c.reset(stream_id{3, 0})), R"({"type":"reset","oldest":"3-0"})");
  auto n = note("{}");
  EXPECT_EQ(&c.notification(*n), &ws_frame(*n));
  EXPECT_EQ(c.keepalive(), std::string("\x89\x00", 2));
  EXPECT_EQ(c.end(end_reason::stalled, 0, "").substr(0, 4), std::string("\x88\x02\x03\xf5", 4));
  EXPECT_EQ(c.end(end_reason::shutdown, 0, "").substr(0, 4), std::string("\x88\x02\x03\xe9", 4));
  EXPECT_FALSE(c.keepalive_when_idle());
  EXPECT_EQ(c.silence_timeout(), 60s);
}

TEST(WsCodec, ClientMessages) {
  ws_codec c("k", 64 * 1024, 25s, 60s);
  recorder ev;
  std::string in = masked(1, R"({"type":"resume","since":"5-0"})") + masked(1, "nope") +
                   masked(9, "hi") + masked(1, R"({"type":"resume","since":12})");
  c.feed(in.data(), in.size(), ev);
  ASSERT_TRUE(ev.resumed);
  EXPECT_EQ(ev.resumed->after, (stream_id::from_legacy(12)));
  ASSERT_EQ(ev.replies.size(), 2u);
  EXPECT_NE(payload(ev.replies[0]).find(R"("type":"error")"), std::string::npos);
  EXPECT_EQ(ev.replies[1], std::string("\x8a\x02hi", 4));  // pong with the ping's payload
  std::string close = masked(8, std::string("\x03\xe8", 2));
  c.feed(close.data(), close.size(), ev);
  EXPECT_EQ(ev.peer_close, 1000);
}

TEST(WsCodec, AnUnmaskedFrameIsAViolation) {
  ws_codec c("k", 64 * 1024, 25s, 60s);
  recorder ev;
  std::string bad("\x81\x01x", 3);
  c.feed(bad.data(), bad.size(), ev);
  EXPECT_EQ(ev.violation_code, 1002);
}

}  // namespace
}  // namespace cutover::net
