// `cutover publish` through the real binary (DESIGN §9): prints the new id; bad JSON or
// topic exits 2, unreachable Redis exits 1, each with one line.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>

#include "ingest_fixtures.hpp"
#include "run_cutover.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_server;
using testing::run_cutover;

const std::string kStream = "pub:test";

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
  ASSERT_EQ(ok.code, 0) << ok.out;
  auto all = entries();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(ok.out, all[0].first + "\n");
  EXPECT_EQ(all[0].second, (std::vector<std::string>{"topic", "user:42", "type", "task.completed",
                                                     "data", "{\"job\":1}", "key", "job-1"}));

  auto bad_json = run_cutover({"publish", "--redis", redis_.url(), "--topic", "user:1", "{nope"});
  EXPECT_EQ(bad_json.code, 2) << bad_json.out;
  EXPECT_NE(bad_json.out.find("not JSON"), std::string::npos) << bad_json.out;
  EXPECT_EQ(std::count(bad_json.out.begin(), bad_json.out.end(), '\n'), 1) << bad_json.out;

  auto bad_topic = run_cutover({"publish", "--redis", redis_.url(), "--topic", "", "1"});
  EXPECT_EQ(bad_topic.code, 2) << bad_topic.out;

  auto down = run_cutover({"publish", "--redis",
                           "redis://127.0.0.1:" + std::to_string(testing::free_port()), "--topic",
                           "user:1", "1"});
  EXPECT_EQ(down.code, 1) << down.out;
  EXPECT_NE(down.out.find("cannot connect"), std::string::npos) << down.out;
  EXPECT_EQ(std::count(down.out.begin(), down.out.end(), '\n'), 1) << down.out;
  EXPECT_EQ(entries().size(), 1u);
}

}  // namespace
}  // namespace cutover::ingest::test
