// The `cutover` binary as an operator uses it: exit codes, one-line errors, golden output.

#include <gtest/gtest.h>

#include "run_cutover.hpp"
#include "store/store.hpp"
#include "store_fixtures.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;

using testing::run_cutover;
using testing::run_result;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("fixture.db");
    auto w = store::writer::open(db_);
    ASSERT_TRUE(w) << w.err().message;
    store::append_batch b;
    b.entries = {
        unit::entry(1700000000000, 0, "user:1", R"({"task":1,"ok":true})", "task.completed"),
        unit::entry(1700000000000, 1, "all", R"("maintenance at 5")", "notice"),
        unit::entry(1700000000001, 0, "user:2", R"({"task":2})", "task.completed"),
        unit::entry(1700000000002, 0, "user:1", R"({"q":"a \"b\""})", "task.failed")};
    ASSERT_TRUE(w->append(b));
  }
  testing::temp_dir dir_;
  std::string db_;
};

TEST_F(Cli, ReplayOrphansListsWhatRedisLost) {
  {
    auto w = store::writer::open(db_);
    ASSERT_TRUE(w);
    store::append_batch b;
    b.offsets = {{"cutover:notifications", {1700000000002, 0}}};
    ASSERT_TRUE(w->append(b));
    store::redis_loss loss;
    loss.stream = "cutover:notifications";
    loss.expect_offset = {1700000000002, 0};
    loss.rewind_to = {1700000000001, 0};
    loss.lost = {{{1700000000002, 0}, "1700000000002-0"}};
    loss.after = {1700000000001, 0};
    loss.through = {1700000000002, 0};
    loss.kind = "lost";
    loss.detail = "test";
    auto out = w->record_loss(loss);
    ASSERT_TRUE(out) << out.err().message;
    EXPECT_TRUE(out->applied);
  }
  auto r = run_cutover({"replay", "--db", db_, "--orphans"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(R"({"id":"1700000000002-0","stream":"cutover:notifications",)"
                       R"("entryId":"1700000000002-0","topic":"user:1","type":"task.failed",)"
                       R"("data":{"q":"a \"b\""},"orphanedAt":")"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(run_cutover({"replay", "--db", db_, "--orphans", "--topic", "all"}).out, "");
  // It left the store: a normal replay no longer has it.
  EXPECT_EQ(run_cutover({"replay", "--db", db_, "--user", "1"}).out.find("1700000000002-0"),
            std::string::npos);
}

TEST_F(Cli, ReplayNdjsonMatchesGolden) {
  auto r = run_cutover({"replay", "--db", db_, "--user", "1"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out,
            unit::slurp(std::string(CUTOVER_SOURCE_DIR) + "/tests/app/golden/replay_user1.ndjson"));
}

TEST_F(Cli, ReplayJsonIsAnArrayOfTheSameObjects) {
  auto r = run_cutover(
      {"replay", "--db", db_, "--topic", "user:1", "--topic", "all", "--format", "json"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, unit::slurp(std::string(CUTOVER_SOURCE_DIR) +
                               "/tests/app/golden/replay_user1_all.json"));
}

TEST_F(Cli, ReplaySinceUntilLimit) {
  auto r = run_cutover({"replay", "--db", db_, "--topic", "user:1", "--topic", "all", "--since",
                        "1700000000000-0", "--until", "1700000000002-0", "--limit", "1"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find(R"("id":"1700000000000-1")"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST_F(Cli, ReplayTable) {
  auto r = run_cutover({"replay", "--db", db_, "--user", "2", "--format", "table"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("ID"), std::string::npos);
  EXPECT_NE(r.out.find("1700000000001-0"), std::string::npos);
  EXPECT_NE(r.out.find("2023-11-14T22:13:20.001Z"), std::string::npos);
}

TEST_F(Cli, UsageErrorsExit2WithOneLine) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"replay", "--db", "x"},  // neither --topic nor --user
           {"replay", "--db", "x", "--user", "1", "--since", "abc"},
           {"replay", "--user", "1", "--format", "xml"},
           {"replay", "--user", "1", "--topic", "all"},
           {"nosuchcommand"},
           {}}) {
    auto r = run_cutover(args);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_EQ(r.out.rfind("cutover: ", 0), 0u) << r.out;
  }
}

TEST_F(Cli, RuntimeErrorsExit1WithOneLine) {
  auto r = run_cutover({"replay", "--db", dir_.file("missing.db"), "--user", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find("no store at"), std::string::npos);
}

TEST_F(Cli, DbStatusOnFreshPathReportsTheLatestVersion) {
  auto path = dir_.file("sub/dir/fresh.db");
  auto r = run_cutover({"db", "status", "--db", path});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("schema version: 6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("notifications: 0"), std::string::npos) << r.out;
}

TEST_F(Cli, DbStatusCountsAndIds) {
  auto r = run_cutover({"db", "status", "--db", db_});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("notifications: 4 in 3 topics"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("oldest: 1700000000000-0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("newest: 1700000000002-0"), std::string::npos) << r.out;
}

TEST_F(Cli, DbMigrateIsIdempotentAndRefusesNewer) {
  auto path = dir_.file("m.db");
  EXPECT_NE(run_cutover({"db", "migrate", "--db", path}).out.find("migrated schema version 0 -> 6"),
            std::string::npos);
  EXPECT_NE(run_cutover({"db", "migrate", "--db", path}).out.find("up to date"), std::string::npos);
  {
    auto db = store::sql::open(path, store::sql::open_mode::existing);
    ASSERT_TRUE(store::sql::exec(db->get(), "PRAGMA user_version = 7", "bump"));
  }
  std::string before = unit::slurp(path);
  auto r = run_cutover({"db", "migrate", "--db", path});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("newer than this binary"), std::string::npos) << r.out;
  EXPECT_EQ(unit::slurp(path), before);
}

TEST_F(Cli, HelpOnEverySubcommand) {
  for (auto args : std::vector<std::vector<std::string>>{{"--help"},
                                                         {"db", "--help"},
                                                         {"db", "migrate", "--help"},
                                                         {"db", "status", "--help"},
                                                         {"replay", "--help"}}) {
    auto r = run_cutover(args);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos);
  }
}

}  // namespace
}  // namespace cutover
