#include "core/log.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace cutover::core {
namespace {

// Each test sets the process-wide format it needs and puts text back.
struct format_guard {
  explicit format_guard(log_format f) { set_log_format(f); }
  ~format_guard() { set_log_format(log_format::text); }
};

TEST(Log, TextIsPrefixMessageAndFields) {
  format_guard g(log_format::text);
  std::vector<std::string> lines;
  logger log("net", [&](std::string_view l) { lines.emplace_back(l); });
  log.line("store read failed", {{"error", "disk I/O error"}, {"topic", "user:7"}});
  logger app("", [&](std::string_view l) { lines.emplace_back(l); });
  app.at(log_level::error, "bad flag (see --help)");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "cutover: net: store read failed error=\"disk I/O error\" topic=user:7");
  EXPECT_EQ(lines[1], "cutover: bad flag (see --help)");
}

TEST(Log, JsonIsOneObjectWithLevelTimeComponentMessageFields) {
  format_guard g(log_format::json);
  std::vector<std::string> lines;
  logger log("ingest", [&](std::string_view l) { lines.emplace_back(l); });
  log.line("warning: pub/sub is fire-and-forget \"quoted\"\nnext", {{"stream", "s:a"}});
  log.line("connected to redis://127.0.0.1:6379");
  log.at(log_level::error, "error: stays in the message when the level is given");
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& l : lines) EXPECT_EQ(l.find('\n'), std::string::npos) << l;  // one line each

  auto o = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(o.at("level").as_string(), "warning");
  EXPECT_EQ(o.at("component").as_string(), "ingest");
  EXPECT_EQ(o.at("message").as_string(), "pub/sub is fire-and-forget \"quoted\"\nnext");
  EXPECT_EQ(o.at("fields").as_object().at("stream").as_string(), "s:a");
  // RFC 3339 UTC with milliseconds: 2026-12-02T05:23:01.123Z
  std::string t(o.at("time").as_string());
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  ASSERT_EQ(t.size(), shape.size()) << t;
  for (std::size_t i = 0; i < t.size(); ++i)
    EXPECT_TRUE(shape[i] == 'd' ? (t[i] >= '0' && t[i] <= '9') : t[i] == shape[i])
        << t << " at " << i;

  auto info = boost::json::parse(lines[1]).as_object();
  EXPECT_EQ(info.at("level").as_string(), "info");
  EXPECT_TRUE(info.at("fields").as_object().empty());
  auto err = boost::json::parse(lines[2]).as_object();
  EXPECT_EQ(err.at("level").as_string(), "error");
  EXPECT_EQ(err.at("message").as_string(), "error: stays in the message when the level is given");
}

TEST(Log, ParseLogFormat) {
  EXPECT_EQ(parse_log_format("text"), log_format::text);
  EXPECT_EQ(parse_log_format("json"), log_format::json);
  EXPECT_FALSE(parse_log_format("JSON"));
  EXPECT_FALSE(parse_log_format(""));
}

}  // namespace
}  // namespace cutover::core
