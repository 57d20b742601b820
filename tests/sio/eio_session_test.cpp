#include "sio/eio_session.hpp"

#include <gtest/gtest.h>

namespace cutover::sio {
namespace {

using namespace std::chrono_literals;
using kind = eio_output::kind;

class EioSession : public ::testing::Test {
 protected:
  EioSession() {
    cfg.ping_interval = 300ms;
    cfg.ping_timeout = 200ms;
    cfg.upgrade_timeout = 1000ms;
    cfg.max_payload = 100;
    cfg.max_buffered_bytes = 50;
  }

  // A polling session opened by the handshake GET on carrier 1.
  eio_session polling() {
    eio_session s("sid1", transport::polling, 1, cfg, t0);
    auto out = s.take_outputs();
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].what, kind::respond);
    EXPECT_EQ(out[0].carrier, 1u);
    EXPECT_EQ(out[0].status, 200);
    EXPECT_EQ(out[0].body, open_packet("sid1", transport::polling, cfg));
    return s;
  }

  // Everything `s` wants done, with the responses to `c` (there must be exactly one).
  static eio_output only_response(std::vector<eio_output>& out, carrier_id c) {
    eio_output found;
    int n = 0;
    for (auto& o : out)
      if (o.what == kind::respond && o.carrier == c) {
        found = o;
        ++n;
      }
    EXPECT_EQ(n, 1) << "responses to carrier " << c;
    return found;
  }
  static int count(const std::vector<eio_output>& out, kind k, carrier_id c = 0) {
    int n = 0;
    for (auto& o : out)
      if (o.what == k && (c == 0 || o.carrier == c)) ++n;
    return n;
  }
  static std::vector<std::string> delivered(const std::vector<eio_output>& out) {
    std::vector<std::string> v;
    for (auto& o : out)
      if (o.what == kind::deliver) v.push_back(o.message.data);
    return v;
  }

  eio_config cfg;
  eio_clock::time_point t0 = eio_clock::time_point{} + 1000s;
};

TEST_F(EioSession, WebSocketSessionSendsTheOpenPacketAsItsFirstFrame) {
  eio_session s("sid1", transport::websocket, 7, cfg, t0);
  auto out = s.take_outputs();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].what, kind::ws_text);
  EXPECT_EQ(out[0].carrier, 7u);
  EXPECT_EQ(out[0].body, open_packet("sid1", transport::websocket, cfg));
  EXPECT_EQ(s.active_transport(), transport::websocket);
}

TEST_F(EioSession, GetWithNothingQueuedIsHeldUntilAMessageComes) {
  auto s = polling();
  s.on_poll_get(2, t0);
  EXPECT_TRUE(s.take_outputs().empty());
  ASSERT_TRUE(s.send_text("hello"));
  auto out = s.take_outputs();
  auto r = only_response(out, 2);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "4hello");
  EXPECT_EQ(r.content_type, kTextPlain);
}

TEST_F(EioSession, MessagesSentBetweenDrainsShareOneResponse) {
  auto s = polling();
  s.send_text("a");
  s.send_binary(std::string("\x01\x02\x03\x04", 4));
  s.send_text("b");
  s.on_poll_get(2, t0);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body,
            "4a\x1e"
            "bAQIDBA==\x1e"
            "4b");
  EXPECT_EQ(s.buffered_bytes(), 0u);
}

TEST_F(EioSession, PostDeliversEveryPacketInOrderAndAnswersOk) {
  auto s = polling();
  s.on_poll_post_body(2,
                      "4test1\x1e"
                      "4test2\x1e"
                      "bAQIDBA==",
                      t0);
  auto out = s.take_outputs();
  auto r = only_response(out, 2);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  ASSERT_EQ(delivered(out),
            (std::vector<std::string>{"test1", "test2", std::string("\x01\x02\x03\x04", 4)}));
  int binaries = 0;
  for (auto& o : out)
    if (o.what == kind::deliver && o.message.binary) ++binaries;
  EXPECT_EQ(binaries, 1);
}

TEST_F(EioSession, BadPostBodyIs400ClosesAndDeliversNothing) {
  auto s = polling();
  s.on_poll_get(2, t0);
  s.on_poll_post_body(3,
                      "4fine\x1e"
                      "abc",
                      t0);
  auto out = s.take_outputs();
  auto r = only_response(out, 3);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, eio_error_body(eio_error::bad_request));
  EXPECT_EQ(only_response(out, 2).body, "1");  // the held GET learns the session is over
  EXPECT_TRUE(delivered(out).empty());
  EXPECT_EQ(count(out, kind::closed), 1);
  EXPECT_TRUE(s.closed());
  // Later requests to the dead session: "Session ID unknown".
  s.on_poll_get(4, t0);
  out = s.take_outputs();
  EXPECT_EQ(only_response(out, 4).body, eio_error_body(eio_error::session_id_unknown));
}

TEST_F(EioSession, InvalidUtf8InAPostIsABadBody) {
  auto s = polling();
  s.on_poll_post_body(2, "4\xff\xfe", t0);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).status, 400);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, OversizedPostIs413AndClosesBeforeTheBodyIsRead) {
  auto s = polling();
  EXPECT_FALSE(s.on_poll_post_begin(2, cfg.max_payload + 1, t0));
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).status, 413);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, ChunkedPostOverMaxPayloadIs413OnArrival) {
  auto s = polling();
  ASSERT_TRUE(s.on_poll_post_begin(2, std::nullopt, t0));
  s.on_poll_post_body(2, "4" + std::string(cfg.max_payload, 'x'), t0);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).status, 413);
  EXPECT_TRUE(delivered(out).empty());
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, TwoConcurrentGetsClose) {
  auto s = polling();
  s.on_poll_get(2, t0);
  s.on_poll_get(3, t0 + 5ms);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body, "1");
  EXPECT_EQ(only_response(out, 2).status, 200);
  EXPECT_EQ(only_response(out, 3).status, 400);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, TwoConcurrentPostsClose) {
  auto s = polling();
  ASSERT_TRUE(s.on_poll_post_begin(2, 10, t0));
  EXPECT_FALSE(s.on_poll_post_begin(3, 10, t0));
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 3).status, 400);
  EXPECT_TRUE(s.closed());
  s.on_poll_post_body(2, "4late", t0);  // the first one's body after the close
  out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body, eio_error_body(eio_error::session_id_unknown));
  EXPECT_TRUE(delivered(out).empty());
}

TEST_F(EioSession, ClientCloseOverPostAnswersTheHeldGetWithNoop) {
  auto s = polling();
  s.on_poll_get(2, t0);
  s.on_poll_post_body(3, "1", t0);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body, "6");
  EXPECT_EQ(only_response(out, 3).body, "ok");
  ASSERT_EQ(count(out, kind::closed), 1);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, ClientCloseBeforeItsGetArrivesAnswersThatGetWithNoopOnce) {
  auto s = polling();
  s.on_poll_post_body(2, "1", t0);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body, "ok");
  EXPECT_EQ(count(out, kind::closed), 0);
  EXPECT_FALSE(s.open());
  EXPECT_FALSE(s.send_text("nothing more"));
  s.on_poll_get(3, t0 + 10ms);  // the GET that lost the race to the POST
  out = s.take_outputs();
  EXPECT_EQ(only_response(out, 3).body, "6");
  EXPECT_EQ(count(out, kind::closed), 1);
  s.on_poll_get(4, t0 + 20ms);
  out = s.take_outputs();
  EXPECT_EQ(only_response(out, 4).status, 400);
}

TEST_F(EioSession, ClientCloseWithNoGetFollowingEndsAfterPingTimeout) {
  auto s = polling();
  s.on_poll_post_body(2, "1", t0);
  s.take_outputs();
  EXPECT_EQ(s.next_deadline(), t0 + 200ms);
  s.on_poll_post_body(3, "4late", t0 + 1ms);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 3).body, eio_error_body(eio_error::session_id_unknown));
  EXPECT_TRUE(delivered(out).empty());
  s.on_tick(t0 + 200ms);
  out = s.take_outputs();
  EXPECT_EQ(count(out, kind::closed), 1);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, DeadlinesApplyBeforeAnInputEvenWhenTheTimerIsLate) {
  auto s = polling();
  s.on_tick(t0 + 300ms);  // ping queued, pong due by 500 ms
  // The caller's timer for 500 ms has not fired yet when the next GET comes.
  s.on_poll_get(2, t0 + 505ms);
  auto out = s.take_outputs();
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(only_response(out, 2).body, eio_error_body(eio_error::session_id_unknown));
}

TEST_F(EioSession, ALatePingCountsFromWhenItWasDue) {
  auto s = polling();
  s.on_poll_get(2, t0 + 505ms);  // no tick at all since the handshake
  auto out = s.take_outputs();
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(only_response(out, 2).status, 400);
  auto w = polling();
  w.on_tick(t0 + 450ms);  // late, but inside the timeout: the ping goes out, due by 500
  w.on_poll_get(3, t0 + 450ms);
  out = w.take_outputs();
  EXPECT_EQ(only_response(out, 3).body, "2");
  EXPECT_EQ(w.next_deadline(), t0 + 500ms);
}

TEST_F(EioSession, PingAfterIntervalThenPongReschedules) {
  auto s = polling();
  EXPECT_EQ(s.next_deadline(), t0 + 300ms);
  s.on_tick(t0 + 299ms);
  s.on_poll_get(2, t0 + 299ms);
  EXPECT_TRUE(s.take_outputs().empty());
  s.on_tick(t0 + 300ms);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body, "2");
  EXPECT_EQ(s.next_deadline(), t0 + 500ms);  // the pong deadline
  s.on_poll_post_body(3, "3", t0 + 350ms);
  out = s.take_outputs();
  EXPECT_EQ(only_response(out, 3).body, "ok");
  EXPECT_EQ(s.next_deadline(), t0 + 650ms);  // next ping, counted from the pong
  s.on_tick(t0 + 600ms);
  EXPECT_FALSE(s.closed());
}

TEST_F(EioSession, NoPongWithinTimeoutCloses) {
  auto s = polling();
  s.on_tick(t0 + 300ms);  // ping queued; no GET to carry it
  s.on_tick(t0 + 499ms);
  EXPECT_FALSE(s.closed());
  s.on_tick(t0 + 500ms);
  auto out = s.take_outputs();
  ASSERT_EQ(count(out, kind::closed), 1);
  for (auto& o : out)
    if (o.what == kind::closed) {
      EXPECT_EQ(o.body, "ping timeout");
    }
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.next_deadline(), eio_clock::time_point::max());
}

TEST_F(EioSession, UnaskedPongDoesNotDelayThePing) {
  auto s = polling();
  s.on_poll_post_body(2, "3", t0 + 200ms);
  s.take_outputs();
  EXPECT_EQ(s.next_deadline(), t0 + 300ms);
}

TEST_F(EioSession, UpgradeProbeNoopThenUpgrade) {
  auto s = polling();
  s.on_poll_get(2, t0);
  s.on_ws_open(10, t0);
  EXPECT_TRUE(s.upgrading());
  s.on_ws_frame(10, false, "2probe", t0);
  auto out = s.take_outputs();
  EXPECT_EQ(count(out, kind::ws_text, 10), 1);
  for (auto& o : out)
    if (o.what == kind::ws_text) {
      EXPECT_EQ(o.body, "3probe");
    }
  EXPECT_EQ(only_response(out, 2).body, "6");
  // a GET during the upgrade is answered at once
  s.on_poll_get(3, t0);
  out = s.take_outputs();
  EXPECT_EQ(only_response(out, 3).body, "6");
  s.send_text("queued during upgrade");
  s.on_ws_frame(10, false, "5", t0);
  EXPECT_EQ(s.active_transport(), transport::websocket);
  out = s.take_outputs();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].what, kind::ws_text);
  EXPECT_EQ(out[0].body, "4queued during upgrade");
  // messages now flow on the WebSocket, one frame each
  s.on_ws_frame(10, false, "4hello", t0);
  s.send_text("x");
  s.send_binary("\x01");
  out = s.take_outputs();
  EXPECT_EQ(delivered(out), std::vector<std::string>{"hello"});
  EXPECT_EQ(count(out, kind::ws_text, 10), 1);
  EXPECT_EQ(count(out, kind::ws_binary, 10), 1);
}

TEST_F(EioSession, AfterUpgradePollingIs400AndAnotherWebSocketIsClosed) {
  auto s = polling();
  s.on_ws_open(10, t0);
  s.on_ws_frame(10, false, "2probe", t0);
  s.on_ws_frame(10, false, "5", t0);
  s.take_outputs();
  s.on_poll_get(2, t0);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).status, 400);
  EXPECT_EQ(only_response(out, 2).body, eio_error_body(eio_error::bad_request));
  EXPECT_FALSE(s.on_poll_post_begin(3, 5, t0));
  s.on_ws_open(11, t0);
  out = s.take_outputs();
  EXPECT_EQ(only_response(out, 3).status, 400);
  EXPECT_EQ(count(out, kind::ws_close, 11), 1);
  EXPECT_FALSE(s.closed());
  s.on_ws_frame(10, false, "4still here", t0);
  EXPECT_EQ(delivered(s.take_outputs()), std::vector<std::string>{"still here"});
}

TEST_F(EioSession, SecondProbeWhileUpgradingIsClosed) {
  auto s = polling();
  s.on_ws_open(10, t0);
  s.on_ws_open(11, t0);
  auto out = s.take_outputs();
  EXPECT_EQ(count(out, kind::ws_close, 11), 1);
  EXPECT_EQ(count(out, kind::ws_close, 10), 0);
}

TEST_F(EioSession, UpgradeWithoutProbeOrWithGarbageIsRefusedAndPollingGoesOn) {
  auto s = polling();
  s.on_ws_open(10, t0);
  s.on_ws_frame(10, false, "5", t0);  // no probe first
  auto out = s.take_outputs();
  EXPECT_EQ(count(out, kind::ws_close, 10), 1);
  EXPECT_FALSE(s.upgrading());
  EXPECT_EQ(s.active_transport(), transport::polling);
  s.on_ws_open(11, t0);
  s.on_ws_frame(11, false, "4hello", t0);
  out = s.take_outputs();
  EXPECT_EQ(count(out, kind::ws_close, 11), 1);
  EXPECT_TRUE(delivered(out).empty());
  s.on_poll_get(2, t0);
  s.send_text("still polling");
  out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body, "4still polling");
}

TEST_F(EioSession, UpgradeTimesOutAndProbeGoneCancels) {
  cfg.ping_interval = 10s;  // no heartbeat in the way
  auto s = polling();
  s.on_ws_open(10, t0);
  EXPECT_EQ(s.next_deadline(), t0 + 1000ms);
  s.on_tick(t0 + 999ms);
  EXPECT_TRUE(s.upgrading());
  s.on_tick(t0 + 1000ms);
  auto out = s.take_outputs();
  EXPECT_EQ(count(out, kind::ws_close, 10), 1);
  EXPECT_FALSE(s.upgrading());
  EXPECT_FALSE(s.closed());
  s.on_ws_open(11, t0 + 1001ms);
  s.on_carrier_gone(11, t0 + 1002ms);
  EXPECT_FALSE(s.upgrading());
  EXPECT_FALSE(s.closed());
}

TEST_F(EioSession, WebSocketFramesPingsAndErrors) {
  eio_session s("sid1", transport::websocket, 7, cfg, t0);
  s.take_outputs();
  s.on_ws_frame(7, true, std::string("\x01\x02", 2), t0);
  auto out = s.take_outputs();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].message.binary);
  s.on_tick(t0 + 300ms);
  out = s.take_outputs();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].what, kind::ws_text);
  EXPECT_EQ(out[0].body, "2");
  s.on_ws_frame(7, false, "3", t0 + 310ms);
  EXPECT_EQ(s.next_deadline(), t0 + 610ms);
  s.on_ws_frame(7, false, "abc", t0 + 320ms);
  out = s.take_outputs();
  EXPECT_EQ(count(out, kind::ws_close, 7), 1);
  EXPECT_EQ(count(out, kind::closed), 1);
}

TEST_F(EioSession, WebSocketMessageOverMaxPayloadCloses) {
  eio_session s("sid1", transport::websocket, 7, cfg, t0);
  s.take_outputs();
  s.on_ws_frame(7, false, "4" + std::string(cfg.max_payload, 'x'), t0);
  auto out = s.take_outputs();
  EXPECT_TRUE(delivered(out).empty());
  EXPECT_EQ(count(out, kind::ws_close, 7), 1);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, WebSocketClosePacketAndCarrierGoneEndTheSession) {
  eio_session a("a", transport::websocket, 7, cfg, t0);
  a.on_ws_frame(7, false, "1", t0);
  auto out = a.take_outputs();
  EXPECT_EQ(count(out, kind::ws_close, 7), 1);
  EXPECT_TRUE(a.closed());
  eio_session b("b", transport::websocket, 8, cfg, t0);
  b.on_carrier_gone(8, t0);
  out = b.take_outputs();
  EXPECT_EQ(count(out, kind::ws_close), 0);  // nothing left to close
  EXPECT_EQ(count(out, kind::closed), 1);
}

TEST_F(EioSession, HeldGetGoneEndsTheSessionPostGoneDoesNot) {
  auto s = polling();
  ASSERT_TRUE(s.on_poll_post_begin(2, 4, t0));
  s.on_carrier_gone(2, t0);
  EXPECT_FALSE(s.closed());
  EXPECT_TRUE(s.on_poll_post_begin(3, 4, t0));  // not an overlap any more
  s.on_poll_get(4, t0);
  s.on_carrier_gone(4, t0);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, QueueIsBoundedInBytes) {
  auto s = polling();
  EXPECT_TRUE(s.send_text(std::string(30, 'a')));
  EXPECT_FALSE(s.send_text(std::string(30, 'b')));  // would pass 50 bytes
  EXPECT_TRUE(s.send_text(std::string(10, 'c')));
  s.on_poll_get(2, t0);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body, "4" + std::string(30, 'a') +
                                            "\x1e"
                                            "4" +
                                            std::string(10, 'c'));
  EXPECT_TRUE(s.send_text(std::string(80, 'd')));  // one message alone may exceed the bound
}

TEST_F(EioSession, ServerCloseFlushesThenSendsClose) {
  auto s = polling();
  s.send_text("last");
  s.close(t0);
  EXPECT_FALSE(s.send_text("too late"));
  EXPECT_FALSE(s.closed());
  s.on_poll_get(2, t0);
  auto out = s.take_outputs();
  EXPECT_EQ(only_response(out, 2).body,
            "4last\x1e"
            "1");
  EXPECT_EQ(count(out, kind::closed), 1);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, ServerCloseOfAPollingClientThatNeverReturnsTimesOut) {
  auto s = polling();
  s.close(t0);
  EXPECT_EQ(s.next_deadline(), t0 + 200ms);
  s.on_tick(t0 + 200ms);
  EXPECT_TRUE(s.closed());
}

TEST_F(EioSession, ServerCloseOnWebSocketWritesQueueThenCloses) {
  eio_session s("sid1", transport::websocket, 7, cfg, t0);
  s.take_outputs();
  s.send_text("bye");
  s.close(t0);
  auto out = s.take_outputs();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].body, "4bye");
  EXPECT_EQ(out[1].what, kind::ws_close);
  EXPECT_EQ(out[2].what, kind::closed);
}

}  // namespace
}  // namespace cutover::sio
