#include "sio/base64.hpp"

#include <gtest/gtest.h>

namespace cutover::sio {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\x01\x02\x03\x04", 4)), "AQIDBA==");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe", 2)), "//4=");
}

TEST(Base64, DecodesWhatItEncodes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    auto d = base64_decode(base64_encode(all.substr(0, n)));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, all.substr(0, n));
  }
}

TEST(Base64, RefusesMalformedText) {
  EXPECT_FALSE(base64_decode("AQIDBA="));   // not a multiple of 4
  EXPECT_FALSE(base64_decode("AQID BA="));  // space
  EXPECT_FALSE(base64_decode("AQ==AQ=="));  // padding inside
  EXPECT_FALSE(base64_decode("A==="));      // three pads
  EXPECT_FALSE(base64_decode("AQIDBB=="));  // unused bits set
  EXPECT_FALSE(base64_decode("Zm9-"));      // base64url is not this alphabet
  EXPECT_TRUE(base64_decode(""));
}

}  // namespace
}  // namespace cutover::sio
