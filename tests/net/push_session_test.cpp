// The push session's state machine driven in-process, without sockets: a fake host (the
// test decides when a store read answers, and what it saw) and a fake carrier (the test
// decides how many bytes the peer takes). A line codec makes the wire readable:
// "H<cursor>", "N<id>", "R<oldest>", "K", "E" one per line.

#include "net/push_session.hpp"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/hub.hpp"
#include "net/push_carrier.hpp"

namespace cutover::net {
namespace {
using namespace std::chrono_literals;

notification_ptr entry(std::uint64_t ms, const std::string& topic = "user:1") {
  return std::make_shared<const notification>(stream_id{ms, 0}, topic, "t", "{}");
}

class line_codec final : public codec {
 public:
  transport kind() const override { return transport::sse; }
  std::string open() override { return ""; }
  std::string hello(stream_id c, bool, const std::vector<std::string>&) override {
    return "H" + c.str() + "\n";
  }
  const std::string& notification(const cutover::notification& n) override {
    return n.rendered(wire_slot::socketio,  // a slot no other codec of this test uses
                      [](const cutover::notification& x) { return "N" + x.id.str() + "\n"; });
  }
  std::string reset(stream_id oldest) override { return "R" + oldest.str() + "\n"; }
  std::string keepalive() override { return "K\n"; }
  std::string end(end_reason, std::uint16_t, std::string_view) override { return "E\n"; }
  void feed(const char* data, std::size_t n, codec_events& ev) override {
    // "r<ms>" resumes after <ms>-0.
    std::string_view in(data, n);
    if (!in.empty() && in[0] == 'r') ev.resume(*parse_cursor(std::string(in.substr(1)) + "-0"));
  }
  std::chrono::milliseconds keepalive_interval() const override { return 15s; }
  bool keepalive_when_idle() const override { return true; }
  std::optional<std::chrono::milliseconds> silence_timeout() const override { return std::nullopt; }
};

class fake_carrier final : public carrier {
 public:
  void bind(push_session& s, std::uint64_t g) override {
    owner = &s;
    gen = g;
  }
  std::size_t write(std::span<const boost::asio::const_buffer> bufs, io_status& st) override {
    std::lock_guard lk(mu);
    std::size_t took = 0;
    for (const auto& b : bufs) {
      std::size_t n = std::min(b.size(), window - took);
      wire.append(static_cast<const char*>(b.data()), n);
      took += n;
      if (took == window) break;
    }
    window -= took;
    st = took == 0 ? io_status::would_block : io_status::ok;
    cv.notify_all();
    return took;
  }
  std::size_t read(std::span<char> into, io_status& st) override {
    if (eof) {
      st = io_status::ok;
      return 0;
    }
    if (input.empty()) {
      st = io_status::would_block;
      return 0;
    }
    std::size_t n = std::min(into.size(), input.size());
    std::copy_n(input.data(), n, into.data());
    input.erase(0, n);
    st = io_status::ok;
    return n;
  }
  void wait_writable() override { want_write = true; }
  void wait_readable() override { want_read = true; }
  void shutdown_send() override { shut = true; }
  void close() override { closed = true; }

  // The peer takes `n` more bytes; wakes the session if it waits.
  void open_window(std::size_t n) {
    {
      std::lock_guard lk(mu);
      window += n;
    }
    if (want_write) {
      want_write = false;
      owner->on_writable(gen, true);
    }
  }
  void client_sends(std::string bytes) {
    input += bytes;
    if (want_read) {
      want_read = false;
      owner->on_readable(gen, true);
    }
  }
  void client_leaves() {
    eof = true;
    if (want_read) {
      want_read = false;
      owner->on_readable(gen, true);
    }
  }
  std::string text() {
    std::lock_guard lk(mu);
    return wire;
  }
  bool wait_for(const std::string& needle, std::chrono::milliseconds t) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, [&] { return wire.find(needle) != std::string::npos; });
  }

  push_session* owner = nullptr;
  std::uint64_t gen = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::string wire;
  std::size_t window = SIZE_MAX / 2;
  std::string input;
  bool eof = false, want_write = false, want_read = false, shut = false, closed = false;
};

// The "store": every entry committed so far. Reads answer from memory at once unless
// `async`; then they are held until the test completes them, with what they saw then.
class fake_host final : public session_host {
 public:
  const session_limits& limits() const override { return lim; }
  void subscribe(push_session&, topic_list) override { subscribed = true; }
  void unsubscribe(push_session&) override { subscribed = false; }
  void track(push_session&) override { tracked = true; }
  void untrack(push_session&) override { tracked = false; }
  std::optional<stream_id> head() const override {
    if (log.empty()) return std::nullopt;
    return log.back()->id;
  }
  std::optional<fetch_result> fetch(const topic_list&, stream_id after, std::size_t limit,
                                    std::function<void(fetch_result)> later,
                                    read_claim_ptr claim) override {
    ++reads;
    claims.push_back(claim);
    fetch_result r;
    if (expire_next) {
      r.expired = true;
      r.oldest = log.front()->id;
      expire_next = false;
    }
    for (const auto& n : log)
      if (after < n->id && r.entries.size() < limit) r.entries.push_back(n);
    if (!async) return r;
    pending.emplace_back([later = std::move(later), r = std::move(r)]() mutable { later(r); });
    return std::nullopt;
  }
  void read_failed(std::string_view) override {}
  std::span<char> scratch() override { return buf; }

  // Commits `n` and fans it out, as a shard does.
  void commit(push_session& s, notification_ptr n) {
    log.push_back(n);
    if (subscribed) {
      std::vector<notification_ptr> one{n};
      s.on_entries(one);
    }
  }
  void complete_read() {
    auto f = std::move(pending.front());
    pending.erase(pending.begin());
    f();
  }

  session_limits lim;
  std::vector<notification_ptr> log;
  bool async = false, expire_next = false, subscribed = false, tracked = false;
  int reads = 0;
  std::vector<read_claim_ptr> claims;  // one per read, as the session handed it over
  std::vector<std::function<void()>> pending;
  std::array<char, 256> buf{};
};

std::vector<std::string> lines(const std::string& wire) {
  std::vector<std::string> out;
  std::istringstream in(wire);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// "N1-0".."N<n>-0"
std::vector<std::string> ids(std::uint64_t from, std::uint64_t to) {
  std::vector<std::string> out;
  for (auto i = from; i <= to; ++i) out.push_back("N" + std::to_string(i) + "-0");
  return out;
}

std::vector<std::string> notifications(const std::string& wire) {
  std::vector<std::string> out;
  for (auto& l : lines(wire))
    if (l[0] == 'N') out.push_back(l);
  return out;
}

struct rig {
  fake_host host;
  fake_carrier* wire = nullptr;
  std::shared_ptr<push_session> s;
  void make() {
    auto c = std::make_unique<fake_carrier>();
    wire = c.get();
    auto topics =
        std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"user:1"});
    s = std::make_shared<push_session>(host, std::move(c), std::make_unique<line_codec>(),
                                       push_identity{"1", topics});
  }
};

TEST(PushSession, LiveFromTheHeadTakesOnlyWhatComesAfter) {
  rig r;
  r.make();
  r.host.log = {entry(1), entry(2)};
  r.s->start(std::nullopt);
  EXPECT_EQ(r.s->current_mode(), push_session::mode::live);
  r.host.commit(*r.s, entry(3));
  EXPECT_EQ(lines(r.wire->text()), (std::vector<std::string>{"H2-0", "N3-0"}));
  EXPECT_TRUE(r.host.tracked);
  EXPECT_TRUE(r.host.subscribed);
}

TEST(PushSession, ReplayThenLiveHasNoGapAndNoDuplicate) {
  rig r;
  r.make();
  r.host.log = {entry(1), entry(2), entry(3)};
  r.s->start(cursor{stream_id{1, 0}});
  EXPECT_EQ(r.s->current_mode(), push_session::mode::live);  // the read came back short
  // The fan-out may repeat what the replay gave (committed before the read): skipped.
  std::vector<notification_ptr> again{r.host.log[1], r.host.log[2]};
  r.s->on_entries(again);
  r.host.commit(*r.s, entry(4));
  EXPECT_EQ(notifications(r.wire->text()), ids(2, 4));
  EXPECT_EQ(lines(r.wire->text())[0], "H1-0");
}

TEST(PushSession, AReadRacingAnArrivalReadsAgainBeforeGoingLive) {
  rig r;
  r.make();
  r.host.async = true;
  r.host.log = {entry(1), entry(2)};
  r.s->start(cursor{stream_id{}});
  ASSERT_EQ(r.host.pending.size(), 1u);  // the read saw 1 and 2
  // Arrivals while it is in flight: not queued (the session is not live), but noted.
  r.host.commit(*r.s, entry(3));
  r.host.commit(*r.s, entry(4));
  EXPECT_TRUE(notifications(r.wire->text()).empty());
  r.host.complete_read();  // short, but something arrived meanwhile: read again
  EXPECT_EQ(r.s->current_mode(), push_session::mode::catching_up);
  ASSERT_EQ(r.host.pending.size(), 1u);
  r.host.complete_read();  // 3 and 4, short, nothing in between: live
  EXPECT_EQ(r.s->current_mode(), push_session::mode::live);
  r.host.commit(*r.s, entry(5));
  EXPECT_EQ(notifications(r.wire->text()), ids(1, 5));
  EXPECT_EQ(r.host.reads, 2);
}

TEST(PushSession, ASlowConsumerCatchesUpOnTheSameCarrier) {
  rig r;
  r.host.lim.queue_bytes = 40;  // a few frames
  r.host.lim.fetch_page = 3;
  r.make();
  r.s->start(std::nullopt);
  r.wire->window = 0;  // the peer stops reading
  for (std::uint64_t i = 1; i <= 20; ++i) r.host.commit(*r.s, entry(i));
  EXPECT_EQ(r.s->current_mode(), push_session::mode::catching_up);
  EXPECT_LE(r.s->queued_bytes(), 40u + 8);  // bounded whatever arrives
  // It reads again; each drain lets a page in from the cursor; then live.
  for (int i = 0; i < 1000 && r.s->current_mode() != push_session::mode::live; ++i)
    r.wire->open_window(16);
  EXPECT_EQ(r.s->current_mode(), push_session::mode::live);
  r.wire->open_window(1 << 20);
  r.host.commit(*r.s, entry(21));
  EXPECT_EQ(notifications(r.wire->text()), ids(1, 21));
  EXPECT_GE(r.host.reads, 4);  // page by page
}

TEST(PushSession, AnExpiredCursorGetsResetBeforeTheOldestRetained) {
  rig r;
  r.make();
  r.host.log = {entry(5), entry(6)};
  r.host.expire_next = true;
  r.s->start(cursor{stream_id{2, 0}});
  EXPECT_EQ(lines(r.wire->text()), (std::vector<std::string>{"H2-0", "R5-0", "N5-0", "N6-0"}));
}

TEST(PushSession, ACursorInARangeRedisLostGetsResetAndTheNewEntriesThere) {
  rig r;
  r.make();
  r.host.log = {entry(1), entry(2), entry(3), entry(4), entry(5)};
  r.s->start(cursor{stream_id{0, 0}});
  ASSERT_EQ(notifications(r.wire->text()), ids(1, 5));
  // Redis lost 4-0 and 5-0 (DESIGN §3); 3-0 is the last entry both sides agree on.
  r.host.log = {entry(1), entry(2), entry(3)};
  r.s->on_lost(stream_id{3, 0}, stream_id{5, 0});
  r.host.commit(*r.s, entry(4));  // what Redis holds at that id now
  auto l = lines(r.wire->text());
  ASSERT_GE(l.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(l.end() - 2, l.end()),
            (std::vector<std::string>{"R3-1", "N4-0"}));
  // A cursor outside the range is left alone.
  r.s->on_lost(stream_id{7, 0}, stream_id{9, 0});
  EXPECT_EQ(lines(r.wire->text()).size(), l.size());
}

TEST(PushSession, AReadInFlightWhenRedisLosesARangeIsNotUsedInsideIt) {
  rig r;
  r.make();
  r.host.async = true;
  r.host.log = {entry(1), entry(2), entry(3), entry(4), entry(5)};
  r.s->start(cursor{stream_id{2, 0}});
  ASSERT_EQ(r.host.pending.size(), 1u);  // its answer is 3, 4 and 5
  // Before it is handled, Redis loses 4-0 and 5-0 (3-0 the last agreed entry): the hub has
  // removed them, and the session's cursor (2-0) lies before the range, so no reset is due.
  r.host.log = {entry(1), entry(2), entry(3)};
  r.s->on_lost(stream_id{3, 0}, stream_id{5, 0});
  // What Redis holds inside the range now: an id of its own (4-1), so the wire tells it
  // from the lost 4-0.
  r.host.commit(*r.s, std::make_shared<const notification>(stream_id{4, 1}, "user:1", "t", "{}"));
  r.host.complete_read();  // 3 is used; the lost 4-0 and 5-0 are not: read again from 3
  ASSERT_EQ(r.host.pending.size(), 1u);
  EXPECT_EQ(r.s->current_mode(), push_session::mode::catching_up);
  r.host.complete_read();
  EXPECT_EQ(r.s->current_mode(), push_session::mode::live);
  EXPECT_EQ(lines(r.wire->text()), (std::vector<std::string>{"H2-0", "N3-0", "N4-1"}));
  EXPECT_EQ(r.host.reads, 2);
}

TEST(PushSession, ALossPastEverythingAReadReturnedCostsNoSecondRead) {
  rig r;
  r.make();
  r.host.async = true;
  r.host.log = {entry(1), entry(2), entry(3)};
  r.s->start(cursor{stream_id{1, 0}});
  // Entries trimmed before ingest read them: a range after all the read can return.
  r.s->on_lost(stream_id{3, 0}, stream_id{9, 0});
  r.host.complete_read();
  EXPECT_EQ(r.s->current_mode(), push_session::mode::live);
  EXPECT_EQ(notifications(r.wire->text()), ids(2, 3));
  EXPECT_EQ(r.host.reads, 1);  // nothing in its answer was inside the range
}

TEST(PushSession, ResumeReadsAgainFromTheClientsCursor) {
  rig r;
  r.make();
  r.host.log = {entry(1), entry(2), entry(3)};
  r.s->start(std::nullopt);
  r.wire->client_sends("r1");
  EXPECT_EQ(notifications(r.wire->text()), ids(2, 3));
}

TEST(PushSession, AReadItCannotUseAnyMoreIsLetGoBeforeItRuns) {
  rig r;
  r.make();
  r.host.log = {entry(1), entry(2), entry(3)};
  r.host.async = true;
  r.s->start(cursor{stream_id{1, 0}});
  ASSERT_EQ(r.host.claims.size(), 1u);
  ASSERT_TRUE(r.host.claims[0]);
  EXPECT_TRUE(r.host.claims[0]->wanted);
  // A resume replaces the queued read: its claim is dropped, so the store skips it.
  r.wire->client_sends("r2");
  EXPECT_FALSE(r.host.claims[0]->wanted);
  r.host.complete_read();  // (answers for the old cursor; the session reads again)
  ASSERT_EQ(r.host.claims.size(), 2u);
  EXPECT_TRUE(r.host.claims[1]->wanted);
  // The client leaves while that read is queued: dropped too (before, it ran anyway).
  r.wire->client_leaves();
  EXPECT_FALSE(r.host.claims[1]->wanted);
}

TEST(PushSession, KeepaliveOnlyWhenIdleAndStallEnds) {
  rig r;
  r.make();
  r.s->start(std::nullopt);
  auto t0 = clock::now();
  r.s->on_tick(t0 + 5s);
  EXPECT_EQ(lines(r.wire->text()).size(), 1u);
  r.s->on_tick(t0 + 16s);
  EXPECT_EQ(lines(r.wire->text()).back(), "K");
  // A peer that takes nothing for --stall-timeout is ended; after the grace, closed.
  r.wire->window = 0;
  r.host.commit(*r.s, entry(1));
  r.s->on_tick(clock::now() + r.host.lim.stall_timeout + 1s);
  EXPECT_FALSE(r.s->closed());
  EXPECT_FALSE(r.host.subscribed);
  r.s->on_tick(clock::now() + r.host.lim.stall_timeout + 10s);
  EXPECT_TRUE(r.s->closed());
  EXPECT_TRUE(r.wire->closed);
  EXPECT_FALSE(r.host.tracked);
}

TEST(PushSession, ShutdownSendsTheEndThenClosesOnThePeersEof) {
  rig r;
  r.make();
  r.s->start(std::nullopt);
  r.s->on_shutdown();
  EXPECT_EQ(lines(r.wire->text()).back(), "E");
  EXPECT_TRUE(r.wire->shut);
  EXPECT_FALSE(r.s->closed());
  r.wire->client_leaves();
  EXPECT_TRUE(r.s->closed());
}

TEST(PushSession, DetachDropsUnsentAndReattachReadsOnFromWhatWasTaken) {
  rig r;
  r.make();
  r.s->start(std::nullopt);
  r.wire->window = 0;
  for (std::uint64_t i = 1; i <= 3; ++i) r.host.commit(*r.s, entry(i));
  // The peer took the hello and N1 only.
  r.wire->open_window(5);
  EXPECT_EQ(notifications(r.wire->text()), ids(1, 1));
  auto old = r.s->detach();
  ASSERT_TRUE(old);
  EXPECT_FALSE(r.host.subscribed);
  EXPECT_FALSE(r.host.tracked);
  EXPECT_EQ(r.s->cursor_position(), (stream_id{1, 0}));
  // Arrivals while detached reach nobody.
  r.host.commit(*r.s, entry(4));
  fake_host other;
  other.log = r.host.log;
  auto next = std::make_unique<fake_carrier>();
  auto* wire2 = next.get();
  ASSERT_TRUE(r.s->attach(other, std::move(next)));
  EXPECT_TRUE(other.tracked);
  other.commit(*r.s, entry(5));
  EXPECT_EQ(notifications(wire2->text()), ids(2, 5));
  // A stale wake-up from the old carrier is ignored.
  static_cast<fake_carrier*>(old.get())->open_window(100);
  EXPECT_EQ(notifications(r.wire->text()), ids(1, 1));
  // The session now belongs to `other`, which is destroyed before `r`: end it first, as a
  // shard outlives its sessions (UBSan caught the session unsubscribing from a dead host).
  r.s.reset();
}

// The Engine.IO case for real: the session starts on one I/O thread (a shard) and moves
// to another while entries keep arriving through the hub; every id arrives exactly once.
TEST(PushSession, MovesToAnotherIoThreadWithoutGapOrDuplicate) {
  server_context ctx;
  hub h(std::nullopt, {});
  ctx.hub_ = &h;
  shard a(ctx, 0), b(ctx, 1);
  h.add_target(&a);
  h.add_target(&b);
  a.start();
  b.start();
  auto commit = [&](std::uint64_t from, std::uint64_t to) {
    notification_batch batch;
    for (auto i = from; i <= to; ++i) batch.push_back(entry(i));
    h.on_committed(batch);
  };
  auto topics =
      std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"user:1"});
  auto c1 = std::make_unique<fake_carrier>();
  auto* wire1 = c1.get();
  std::shared_ptr<push_session> s;
  std::promise<void> started;
  boost::asio::post(a.io(), [&] {
    s = std::make_shared<push_session>(a.host(), std::move(c1), std::make_unique<line_codec>(),
                                       push_identity{"1", topics});
    s->start(cursor{stream_id{}});
    started.set_value();
  });
  started.get_future().wait();
  commit(1, 50);
  ASSERT_TRUE(wire1->wait_for("N50-0", 10s));
  commit(51, 100);  // may be in flight on a's queue while the session leaves it
  std::promise<std::thread::id> moved;
  std::unique_ptr<carrier> old;  // the first connection, kept to read what it got
  auto c2 = std::make_unique<fake_carrier>();
  auto* wire2 = c2.get();
  boost::asio::post(a.io(), [&] {
    old = s->detach();
    boost::asio::post(b.io(), [&, c2 = std::move(c2)]() mutable {
      ASSERT_TRUE(s->attach(b.host(), std::move(c2)));
      moved.set_value(std::this_thread::get_id());
    });
  });
  auto b_thread = moved.get_future().get();
  ASSERT_TRUE(old);
  commit(101, 150);
  ASSERT_TRUE(wire2->wait_for("N150-0", 10s)) << wire2->text();
  auto all = notifications(wire1->text());
  auto second = notifications(wire2->text());
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_EQ(all, ids(1, 150));
  EXPECT_FALSE(second.empty());
  EXPECT_NE(b_thread, std::this_thread::get_id());
  std::promise<void> done;
  boost::asio::post(b.io(), [&] {
    s->on_shutdown();
    s.reset();
    done.set_value();
  });
  done.get_future().wait();
  a.stop();
  b.stop();
  a.join();
  b.join();
}

}  // namespace
}  // namespace cutover::net
