#include "core/duration.hpp"

#include <gtest/gtest.h>

namespace cutover {
namespace {
using namespace std::chrono_literals;

TEST(Duration, Units) {
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("30"), 30s);
  EXPECT_EQ(parse_duration("2m"), 2min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("7d"), 168h);
}

TEST(Duration, Garbage) {
  for (auto t : {"", "s", "-1s", "1.5s", "10 s", "10sec", "1y", "9999999999999s"})
    EXPECT_FALSE(parse_duration(t)) << t;
}

// Fuzz finding (tests/fuzz/corpus/config_fuzz/regress_duration_overflow): twelve digits of
// days overflowed 64-bit milliseconds (signed overflow, undefined behaviour).
TEST(Duration, OverflowIsRefused) {
  EXPECT_FALSE(parse_duration("999999999999d"));
  EXPECT_FALSE(parse_duration("106751991168d"));  // the first day count past 2^63-1 ms
}

TEST(Duration, AtMostAHundredYears) {
  EXPECT_EQ(parse_duration("36500d"), std::chrono::hours(24 * 36500));
  EXPECT_FALSE(parse_duration("36501d"));
  EXPECT_FALSE(parse_duration("999999999999h"));
}

TEST(Duration, Format) {
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(2min), "2m");
  EXPECT_EQ(format_duration(0ms), "0s");
}

}  // namespace
}  // namespace cutover
