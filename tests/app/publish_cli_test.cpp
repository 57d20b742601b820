// `cutover publish` through the real binary (DESIGN §9): prints the new id; bad JSON or
// topic exits 2, unreachable Redis exits 1, each with one line.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>

#include "ingest_fixtures.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_server;
using testing::subprocess;

const std::string kStream = "pub:test";

struct run_result {
  int code;
  std::string output;
};

run_result run_cutover(const std::vector<std::string>& args) {
  std::vector<std::string> argv{CUTOVER_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = subprocess::spawn(argv);
  auto code = p->wait_exit(kWait);
  EXPECT_TRUE(code.has_value());
  p->wait_for_line("\x01never", kWait);  // returns at EOF: all output read
  return {code.value_or(-1), p->output()};
}

class CutoverPublish : public ::testing::Test {
 protected:
  std::vector<std::pair<std::string, std::vector<std::string>>> entries() {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    for (auto& e : client_.xrange(kStream)) out.emplace_back(std::move(e.id), std::move(e.fields));
    return out;
  }

  redis_server redis_;
  redis_client client_{redis_.port()};
};

TEST_F(CutoverPublish, PrintsTheIdAndUsesExitCodes) {
  auto ok = run_cutover({"publish", "--redis", redis_.url(), "--stream", kStream, "--topic",
                         "user:42", "--type", "task.completed", "--key", "job-1", "{\"job\": 1}"});
  ASSERT_EQ(ok.code, 0) << ok.output;
  auto all = entries();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(ok.output, all[0].first + "\n");
  EXPECT_EQ(all[0].second, (std::vector<std::string>{"topic", "user:42", "type", "task.completed",
                                                     "data", "{\"job\":1}", "key", "job-1"}));

  auto bad_json = run_cutover({"publish", "--redis", redis_.url(), "--topic", "user:1", "{nope"});
  EXPECT_EQ(bad_json.code, 2) << bad_json.output;
  EXPECT_NE(bad_json.output.find("not JSON"), std::string::npos) << bad_json.output;
  EXPECT_EQ(std::count(bad_json.output.begin(), bad_json.output.end(), '\n'), 1) << bad_json.output;

  auto bad_topic = run_cutover({"publish", "--redis", redis_.url(), "--topic", "", "1"});
  EXPECT_EQ(bad_topic.code, 2) << bad_topic.output;

  auto down = run_cutover({"publish", "--redis",
                           "redis://127.0.0.1:" + std::to_string(testing::free_port()), "--topic",
                           "user:1", "1"});
  EXPECT_EQ(down.code, 1) << down.output;
  EXPECT_NE(down.output.find("cannot connect"), std::string::npos) << down.output;
  EXPECT_EQ(std::count(down.output.begin(), down.output.end(), '\n'), 1) << down.output;
  EXPECT_EQ(entries().size(), 1u);
}

}  // namespace
}  // namespace cutover::ingest::test
