// The WebSocket rollout cohort (moved here from tests/net with the rollout itself).
#include "legacy_adapter/rollout.hpp"

#include <gtest/gtest.h>

#include <string>

namespace cutover::legacy {
namespace {

TEST(Rollout, StableBucketsAndLists) {
  EXPECT_EQ(rollout_bucket("42"), rollout_bucket("42"));
  rollout_config none;
  rollout_config all;
  all.percent = 100;
  int in = 0;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(in_cohort(none, std::to_string(i)));
    EXPECT_TRUE(in_cohort(all, std::to_string(i)));
  }
  rollout_config half;
  half.percent = 50;
  for (int i = 0; i < 10000; ++i) in += in_cohort(half, std::to_string(i));
  EXPECT_NEAR(in, 5000, 300);
  half.allow = {"x"};
  half.deny = {"y"};
  all.deny = {"7"};
  EXPECT_FALSE(in_cohort(all, "7"));
  none.allow = {"7"};
  EXPECT_TRUE(in_cohort(none, "7"));
}

}  // namespace
}  // namespace cutover::legacy
