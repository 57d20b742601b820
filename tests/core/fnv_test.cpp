#include "core/fnv.hpp"

#include <gtest/gtest.h>

namespace cutover {
namespace {

// The published FNV-1a 64 test vectors (Fowler/Noll/Vo, "FNV test suite": offset basis
// 0xcbf29ce484222325, prime 0x100000001b3). A different constant, a multiply before the
// xor (FNV-1 instead of FNV-1a) or sign-extended bytes each change these, and with them
// every user's rollout cohort: pinned here so such a change cannot land unnoticed.
static_assert(fnv1a64("") == 0xcbf29ce484222325ull);
static_assert(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
static_assert(fnv1a64("foobar") == 0x85944171f73967e8ull);

TEST(Fnv1a64, PublishedVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1a64, BytesAboveAsciiAreUnsigned) {
  // 0xff xor-ed in as 0xff, not as a sign-extended 0xffffffffffffffff.
  EXPECT_EQ(fnv1a64("\xff"), (0xcbf29ce484222325ull ^ 0xffull) * 0x100000001b3ull);
}

}  // namespace
}  // namespace cutover
