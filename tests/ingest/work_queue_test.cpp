#include "ingest/work_queue.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "store_fixtures.hpp"

namespace cutover::ingest {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

work_batch stream_batch(std::size_t entries, std::uint64_t first_ms) {
  work_batch b;
  for (std::size_t i = 0; i < entries; ++i)
    b.batch.entries.push_back(unit::entry(first_ms + i, 0, "user:1"));
  b.account();
  return b;
}

// The writer's wait for more entries to commit with a small delivered batch (DESIGN §11
// "Commits of delivered entries are coalesced") runs on its own thread here.
std::future<void> linger_async(work_queue& q, clock_type::duration d, std::size_t entries) {
  return std::async(std::launch::async, [&q, d, entries] {
    q.linger(clock_type::now() + d, entries, std::size_t{1} << 30);
  });
}

TEST(WorkQueue, LingerLastsUntilItsDeadlineWhenLittleArrives) {
  work_queue q(1 << 20);
  ASSERT_TRUE(q.push(stream_batch(1, 100)));
  auto t0 = clock_type::now();
  q.linger(t0 + 60ms, 10, std::size_t{1} << 30);
  EXPECT_GE(clock_type::now() - t0, 60ms);
}

TEST(WorkQueue, EnoughEntriesEndTheLingerAtOnce) {
  work_queue q(1 << 20);
  auto done = linger_async(q, 30s, 3);
  ASSERT_TRUE(q.push(stream_batch(2, 100)));
  ASSERT_TRUE(q.push(stream_batch(1, 200)));
  EXPECT_EQ(done.wait_for(10s), std::future_status::ready);
}

TEST(WorkQueue, APubsubBatchEndsTheLingerAtOnce) {
  // Pub/sub messages are delivered only after their commit: they must not wait.
  work_queue q(1 << 20);
  auto done = linger_async(q, 30s, 1000);
  work_batch p;
  p.from = work_batch::origin::pubsub;
  p.account();
  ASSERT_TRUE(q.push(std::move(p)));
  EXPECT_EQ(done.wait_for(10s), std::future_status::ready);
}

TEST(WorkQueue, CloseEndsTheLingerAtOnce) {
  work_queue q(1 << 20);
  auto done = linger_async(q, 30s, 1000);
  q.close();
  EXPECT_EQ(done.wait_for(10s), std::future_status::ready);
}

TEST(WorkQueue, PopMoreTakesWhatArrivedWhileLingering) {
  work_queue q(1 << 20);
  ASSERT_TRUE(q.push(stream_batch(1, 100)));
  work_batch first;
  ASSERT_EQ(q.pop(first, clock_type::now() + 1s), work_queue::pop_result::batch);
  auto done = linger_async(q, 30s, 2);
  ASSERT_TRUE(q.push(stream_batch(1, 200)));
  ASSERT_TRUE(q.push(stream_batch(1, 300)));
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(q.pop_more(first, 100, std::size_t{1} << 30), 2u);
  EXPECT_EQ(first.batch.entries.size(), 3u);
}

}  // namespace
}  // namespace cutover::ingest
