// The pre-framed Socket.IO notification every WebSocket recipient shares (sio_frame), and
// when an Engine.IO session may take it straight onto its WebSocket
// (eio_session::writable_direct) rather than through its own queue.

#include <gtest/gtest.h>

#include "sio/eio_session.hpp"
#include "sio/sio_frame.hpp"

namespace cutover::sio {
namespace {

using namespace std::chrono_literals;
using kind = eio_output::kind;

std::shared_ptr<const notification> make(std::string data) {
  return std::make_shared<const notification>(stream_id{1700000000000, 3}, "all", "chat",
                                              std::move(data));
}

TEST(SioFrame, EveryRecipientGetsTheSameBytesRenderedOnce) {
  auto n = make(R"({"text":"hi"})");
  const std::string& a = sio_notification_frame(*n);  // session A
  const std::string& b = sio_notification_frame(*n);  // session B
  EXPECT_EQ(&a, &b) << "one rendering, shared";
  std::string event =
      R"(2["notification",)" + render_notification_json(*n) + R"(,"1700000000000-3"])";
  EXPECT_EQ(a, make_ws_frame(0x1, "4" + event)) << "a text frame of the Engine.IO message";
  EXPECT_TRUE(is_sio_ws_frame(a));
  EXPECT_EQ(sio_frame_packet(a), event) << "what a polling or upgrading session queues";
  EXPECT_FALSE(is_sio_ws_frame(event));
  EXPECT_FALSE(is_sio_ws_frame(std::string(1, '\0')));  // the push session's end marker
}

TEST(SioFrame, LongEventsUseTheLongerHeaders) {
  for (std::size_t size : {100u, 1000u, 70000u}) {
    auto n = make("\"" + std::string(size, 'x') + "\"");
    const std::string& f = sio_notification_frame(*n);
    std::string event =
        R"(2["notification",)" + render_notification_json(*n) + R"(,"1700000000000-3"])";
    EXPECT_EQ(f, make_ws_frame(0x1, "4" + event)) << size;
    EXPECT_EQ(sio_frame_packet(f), event) << size;
  }
}

class EioDirect : public ::testing::Test {
 protected:
  EioDirect() {
    cfg.ping_interval = 300ms;
    cfg.ping_timeout = 200ms;
    cfg.upgrade_timeout = 1000ms;
  }
  eio_config cfg;
  eio_clock::time_point t0 = eio_clock::time_point{} + 1000s;
};

TEST_F(EioDirect, AWebSocketSessionTakesSharedFramesWhenNothingWaitsBeforeThem) {
  eio_session s("sid1", transport::websocket, 7, cfg, t0);
  EXPECT_FALSE(s.writable_direct()) << "the open packet is not out yet";
  s.take_outputs();
  EXPECT_TRUE(s.writable_direct());
  EXPECT_EQ(s.websocket(), 7u);
  s.send_text("2[\"hello\"]");
  EXPECT_FALSE(s.writable_direct()) << "a queued message would be overtaken";
  s.take_outputs();
  EXPECT_TRUE(s.writable_direct());
  s.on_tick(t0 + 300ms);  // the ping is queued
  EXPECT_FALSE(s.writable_direct());
  s.take_outputs();
  EXPECT_TRUE(s.writable_direct());
  s.close(t0 + 310ms);
  EXPECT_FALSE(s.writable_direct());
}

TEST_F(EioDirect, APollingOrUpgradingSessionKeepsItsOwnPath) {
  eio_session s("sid1", transport::polling, 1, cfg, t0);
  s.take_outputs();
  EXPECT_FALSE(s.writable_direct()) << "polling";
  s.on_poll_get(2, t0);
  s.on_ws_open(10, t0);
  s.on_ws_frame(10, false, "2probe", t0);
  s.take_outputs();
  EXPECT_TRUE(s.upgrading());
  EXPECT_FALSE(s.writable_direct()) << "mid-upgrade: messages still go by polling";
  s.on_ws_frame(10, false, "5", t0);
  s.take_outputs();
  EXPECT_FALSE(s.upgrading());
  EXPECT_TRUE(s.writable_direct()) << "upgraded";
  EXPECT_EQ(s.websocket(), 10u);
  s.on_carrier_gone(10, t0);
  s.take_outputs();
  EXPECT_FALSE(s.writable_direct()) << "closed";
}

}  // namespace
}  // namespace cutover::sio
