// The per-thread deadline heap that replaced one Asio timer per Engine.IO session: deadlines
// in order, moved and cancelled by the hook each session holds, and the server's use of it
// (each session at its next_deadline(), pinged on time, a closed one never touched).

#include "sio/deadline_heap.hpp"

#include <gtest/gtest.h>

#include "sio/eio_session.hpp"

namespace cutover::sio {
namespace {

using namespace std::chrono_literals;
using kind = eio_output::kind;

class EioDeadlines : public ::testing::Test {
 protected:
  EioDeadlines() {
    cfg.ping_interval = 300ms;
    cfg.ping_timeout = 200ms;
  }
  eio_config cfg;
  eio_clock::time_point t0 = eio_clock::time_point{} + 1000s;
};

// A stand-in for the server's per-session object.
struct item {
  int id = 0;
  deadline_hook hook;
};
using heap = deadline_heap<item, &item::hook, eio_clock>;

TEST(DeadlineHeap, PopsInDeadlineOrderAndFollowsMoves) {
  auto t0 = eio_clock::time_point{} + 1000s;
  heap h;
  item a{1, {}}, b{2, {}}, c{3, {}};
  EXPECT_TRUE(h.schedule(a, t0 + 30ms));
  EXPECT_TRUE(h.schedule(b, t0 + 10ms)) << "earlier: re-arm";
  EXPECT_FALSE(h.schedule(c, t0 + 20ms)) << "later: the timer stays";
  EXPECT_EQ(h.next(), t0 + 10ms);
  EXPECT_FALSE(h.schedule(b, t0 + 40ms)) << "moved later";
  EXPECT_EQ(h.due(b), t0 + 40ms);
  EXPECT_EQ(h.pop_due(t0 + 19ms), nullptr);
  EXPECT_EQ(h.pop_due(t0 + 35ms), &c);
  EXPECT_EQ(h.pop_due(t0 + 35ms), &a);
  EXPECT_EQ(h.pop_due(t0 + 35ms), nullptr);
  EXPECT_FALSE(c.hook.scheduled());
  EXPECT_EQ(h.pop_due(t0 + 40ms), &b);
  EXPECT_TRUE(h.empty());
}

TEST(DeadlineHeap, ACancelledItemIsNeverReturned) {
  auto t0 = eio_clock::time_point{} + 1000s;
  heap h;
  std::vector<item> items(100);
  for (int i = 0; i < 100; ++i) {
    items[i].id = i;
    h.schedule(items[i], t0 + std::chrono::milliseconds((i * 37) % 100));
  }
  for (int i = 0; i < 100; i += 3) h.cancel(items[i]);
  std::vector<int> got;
  auto last = t0;
  while (auto* x = h.pop_due(t0 + 1s)) {
    got.push_back(x->id);
    EXPECT_NE(x->id % 3, 0) << "cancelled";
    auto at = t0 + std::chrono::milliseconds((x->id * 37) % 100);
    EXPECT_LE(last, at) << "in order";
    last = at;
  }
  EXPECT_EQ(got.size(), 66u);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(items[i].hook.scheduled());
}

// The server's use of it: each session scheduled at its next_deadline(), one timer for all.
struct session_slot {
  eio_session s;
  deadline_hook hook;
};
using session_heap = deadline_heap<session_slot, &session_slot::hook, eio_clock>;

TEST_F(EioDeadlines, OneHeapPingsEachSessionOnTimeAndNeverTouchesAClosedOne) {
  session_heap h;
  session_slot a{eio_session("a", transport::websocket, 1, cfg, t0), {}};
  session_slot b{eio_session("b", transport::websocket, 2, cfg, t0 + 100ms), {}};
  for (auto* x : {&a, &b}) {
    x->s.take_outputs();
    h.schedule(*x, x->s.next_deadline());
  }
  // b's client leaves; its owner cancels its deadline as the session closes.
  b.s.on_carrier_gone(2, t0 + 50ms);
  b.s.take_outputs();
  h.cancel(b);
  EXPECT_EQ(h.pop_due(t0 + 299ms), nullptr) << "not before the ping interval";
  auto* due = h.pop_due(t0 + 300ms);
  ASSERT_EQ(due, &a);
  due->s.on_tick(t0 + 300ms);
  auto out = due->s.take_outputs();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].what, kind::ws_text);
  EXPECT_EQ(out[0].body, "2") << "the ping, on time";
  h.schedule(a, a.s.next_deadline());
  EXPECT_EQ(h.next(), t0 + 500ms) << "now the pong deadline";
  EXPECT_EQ(h.pop_due(t0 + 450ms), nullptr) << "b was never scheduled again";
  a.s.on_ws_frame(1, false, "3", t0 + 450ms);
  h.schedule(a, a.s.next_deadline());
  EXPECT_EQ(h.next(), t0 + 750ms) << "the next ping, an interval after the pong";
}

}  // namespace
}  // namespace cutover::sio
