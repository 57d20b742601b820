// The WebSocket rollout cohort of the legacy adapter.
#include "legacy_adapter/rollout.hpp"

#include <gtest/gtest.h>

namespace cutover::legacy {
namespace {

// Buckets are pinned as literals: every instance, build and restart must put a user in the
// same cohort, so a change of hash, of modulus or of byte handling has to fail here.
TEST(Rollout, BucketsArePinned) {
  EXPECT_EQ(rollout_bucket("42"), 8691u);
  EXPECT_EQ(rollout_bucket("7"), 1446u);
  EXPECT_EQ(rollout_bucket("x"), 7271u);
  EXPECT_EQ(rollout_bucket("y"), 9060u);
  EXPECT_EQ(rollout_bucket(""), 6037u);  // 0xcbf29ce484222325 % 10000
  EXPECT_EQ(rollout_bucket("foobar"), 6968u);
}

TEST(Rollout, PercentIsABucketThreshold) {
  rollout_config none;
  rollout_config all;
  all.percent = 100;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(in_cohort(none, std::to_string(i))) << i;
    EXPECT_TRUE(in_cohort(all, std::to_string(i))) << i;
  }
  // "42" is bucket 8691: in from 86.92 %, out at 86.91 % (bucket < percent × 100).
  rollout_config edge;
  edge.percent = 86.91;
  EXPECT_FALSE(in_cohort(edge, "42"));
  edge.percent = 86.92;
  EXPECT_TRUE(in_cohort(edge, "42"));
  // The exact cohort of the users "0".."9999" at 50 % and 10 %.
  rollout_config half;
  half.percent = 50;
  rollout_config tenth;
  tenth.percent = 10;
  int in_half = 0, in_tenth = 0;
  for (int i = 0; i < 10000; ++i) {
    in_half += in_cohort(half, std::to_string(i));
    in_tenth += in_cohort(tenth, std::to_string(i));
  }
  EXPECT_EQ(in_half, 5011);
  EXPECT_EQ(in_tenth, 980);
}

TEST(Rollout, AllowAddsDenyRemovesDenyWins) {
  rollout_config half;
  half.percent = 50;
  // Without lists: "x" (bucket 7271) is out and "7" (bucket 1446) is in.
  ASSERT_FALSE(in_cohort(half, "x"));
  ASSERT_TRUE(in_cohort(half, "7"));
  half.allow = {"x"};
  half.deny = {"7"};
  EXPECT_TRUE(in_cohort(half, "x")) << "allowed although its bucket is out";
  EXPECT_FALSE(in_cohort(half, "7")) << "denied although its bucket is in";
  EXPECT_TRUE(in_cohort(half, "3")) << "others keep their bucket's answer (4290)";
  EXPECT_FALSE(in_cohort(half, "y")) << "others keep their bucket's answer (9060)";

  rollout_config all;
  all.percent = 100;
  all.deny = {"7"};
  EXPECT_FALSE(in_cohort(all, "7"));
  EXPECT_TRUE(in_cohort(all, "8"));
  rollout_config none;
  none.allow = {"7"};
  EXPECT_TRUE(in_cohort(none, "7"));
  EXPECT_FALSE(in_cohort(none, "8"));
  // On both lists: deny wins.
  none.deny = {"7"};
  EXPECT_FALSE(in_cohort(none, "7"));
}

TEST(Rollout, PolicyReloadSwapsTheConfiguration) {
  rollout_config cfg;
  cfg.allow = {"a"};
  rollout_policy p(cfg);
  EXPECT_TRUE(p.in_cohort("a"));
  EXPECT_FALSE(p.in_cohort("b"));
  rollout_config next;
  next.allow = {"b"};
  p.replace(next);
  EXPECT_FALSE(p.in_cohort("a"));
  EXPECT_TRUE(p.in_cohort("b"));
  EXPECT_EQ(p.current()->allow, std::set<std::string>{"b"});
}

}  // namespace
}  // namespace cutover::legacy
