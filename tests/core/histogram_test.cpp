#include "core/histogram.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace cutover::core {
namespace {

TEST(Histogram, BucketsAreLessOrEqualAndCumulative) {
  histogram h({1, 10, 100});
  for (double v : {0.5, 1.0, 1.5, 10.0, 99.0, 100.0, 101.0, 1e9}) h.record(v);
  auto s = h.read();
  ASSERT_EQ(s.bounds, (std::vector<double>{1, 10, 100}));
  // le=1: 0.5, 1.0 | le=10: +1.5, 10 | le=100: +99, 100 | +Inf: +101, 1e9
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 4, 6, 8}));
  EXPECT_EQ(s.count(), 8u);
  EXPECT_DOUBLE_EQ(s.sum, 0.5 + 1 + 1.5 + 10 + 99 + 100 + 101 + 1e9);
}

// histogram_quantile() as Prometheus estimates it: linear inside the bucket holding the rank.
TEST(Histogram, QuantileInterpolatesWithinTheBucketLikePrometheus) {
  histogram h({1, 10, 100});
  EXPECT_FALSE(h.read().quantile(0.5));      // nothing recorded: no figure, not 0
  for (int i = 0; i < 10; ++i) h.record(5);  // all in (1, 10]
  auto s = h.read();
  EXPECT_DOUBLE_EQ(*s.quantile(0.5), 1 + 9 * 0.5);  // not the bucket's upper bound 10
  EXPECT_DOUBLE_EQ(*s.quantile(0.99), 1 + 9 * 0.99);
  histogram low({1, 10, 100});
  for (int i = 0; i < 4; ++i) low.record(0.2);
  EXPECT_DOUBLE_EQ(*low.read().quantile(0.5), 0.5);  // the first bucket starts at 0
  histogram mixed({1, 10, 100});
  for (double v : {0.5, 0.5, 50.0, 50.0}) mixed.record(v);  // rank 3 of 4: half into (10, 100]
  EXPECT_DOUBLE_EQ(*mixed.read().quantile(0.75), 10 + 90 * 0.5);
  histogram inf({1, 10, 100});
  inf.record(1e9);
  EXPECT_DOUBLE_EQ(*inf.read().quantile(0.99), 100);  // +Inf bucket: the highest finite bound
}

TEST(Histogram, EmptyReadsZero) {
  histogram h(histogram::seconds_bounds());
  auto s = h.read();
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.sum, 0.0);
  EXPECT_EQ(s.cumulative.size(), s.bounds.size() + 1);
}

TEST(Histogram, NanIsIgnored) {
  histogram h({1});
  h.record(std::numeric_limits<double>::quiet_NaN());
  h.record(2);
  auto s = h.read();
  EXPECT_EQ(s.count(), 1u);
  EXPECT_DOUBLE_EQ(s.sum, 2);
}

TEST(Histogram, BoundsMustIncrease) {
  EXPECT_THROW(histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(histogram({1, 1}), std::invalid_argument);
}

TEST(Histogram, ConcurrentRecordsAreAllCounted) {
  histogram h({1, 2});
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) h.record(t % 3);
    });
  for (auto& t : ts) t.join();
  auto s = h.read();
  EXPECT_EQ(s.count(), static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_DOUBLE_EQ(s.sum, kEach * (0 + 1 + 2 + 0));
}

}  // namespace
}  // namespace cutover::core
