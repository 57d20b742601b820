#include "core/json_text.hpp"

#include <gtest/gtest.h>

namespace cutover::json_text {
namespace {

TEST(JsonText, CompactsWhitespaceOnly) {
  auto c = validate_and_compact(" { \"a\" : [ 1 , 2.50 , \"x y\" ] , \"b\":1E3 }\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, R"({"a":[1,2.50,"x y"],"b":1E3})");  // numbers keep their spelling
}

TEST(JsonText, KeepsEscapes) {
  auto c = validate_and_compact(R"({"q":"a \"quoted\" \\ \n"})");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, R"({"q":"a \"quoted\" \\ \n"})");
}

TEST(JsonText, ScalarsAreValues) {
  EXPECT_EQ(*validate_and_compact("42"), "42");
  EXPECT_EQ(*validate_and_compact(" \"s\" "), "\"s\"");
  EXPECT_EQ(*validate_and_compact("null"), "null");
}

TEST(JsonText, RefusesGarbage) {
  for (auto text : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1} x", "nul", "'x'", "{a:1}", "[1] [2]",
                    "\"\xff\"", "// c\n1", "NaN"}) {
    std::string why;
    EXPECT_FALSE(validate_and_compact(text, &why)) << text;
    EXPECT_FALSE(why.empty());
  }
}

TEST(JsonText, DepthLimit) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_FALSE(validate_and_compact(deep));
  std::string ok(10, '[');
  ok += std::string(10, ']');
  EXPECT_TRUE(validate_and_compact(ok));
}

TEST(JsonText, Quoting) {
  EXPECT_EQ(quoted("plain"), "\"plain\"");
  EXPECT_EQ(quoted("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(quoted("h\xc3\xa9"), "\"h\xc3\xa9\"");
}

TEST(JsonText, Utf8) {
  EXPECT_TRUE(valid_utf8("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(valid_utf8("\xff"));
}

}  // namespace
}  // namespace cutover::json_text
