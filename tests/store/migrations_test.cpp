#include "store/migrations.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "store_fixtures.hpp"

namespace cutover::store {
namespace {
using testing::temp_dir;
using unit::slurp;

TEST(Migrations, EmbeddedInOrderStartingAtOne) {
  const auto& all = embedded_migrations();
  ASSERT_FALSE(all.empty());
  // Numbered from the file names, in order (a branch may lack a number merged elsewhere).
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].version, all[i - 1].version);
  for (const auto& m : all) EXPECT_EQ(std::stoi(std::string(m.name).substr(0, 4)), m.version);
  EXPECT_STREQ(all[0].name, "0001_init");
}

TEST(Migrations, FreshToLatest) {
  temp_dir dir;
  migrate_report rep;
  auto db = open_and_migrate(dir.file("a.db"), {}, &rep);
  ASSERT_TRUE(db) << db.err().message;
  EXPECT_EQ(rep.from_version, 0);
  EXPECT_EQ(rep.to_version, latest_version(embedded_migrations()));
  EXPECT_EQ(*sql::pragma_int(db->get(), "user_version"), latest_version(embedded_migrations()));
  EXPECT_EQ(*sql::pragma_int(db->get(), "application_id"), kApplicationId);
  auto jm = sql::statement::prepare(db->get(), "PRAGMA journal_mode");
  ASSERT_EQ(jm->step(), SQLITE_ROW);
  EXPECT_EQ(jm->text(0), "wal");
}

TEST(Migrations, SecondRunChangesNothing) {
  temp_dir dir;
  auto path = dir.file("a.db");
  { ASSERT_TRUE(open_and_migrate(path)); }
  std::string before = slurp(path);
  migrate_report rep;
  { ASSERT_TRUE(open_and_migrate(path, {}, &rep)); }
  EXPECT_EQ(rep.from_version, rep.to_version);
  EXPECT_EQ(slurp(path), before);
}

TEST(Migrations, NewerDatabaseRefusedUntouched) {
  temp_dir dir;
  auto path = dir.file("a.db");
  {
    auto db = sql::open(path, sql::open_mode::create);
    ASSERT_TRUE(
        sql::exec(db->get(),
                  "CREATE TABLE future(x); PRAGMA user_version = 99; PRAGMA application_id = " +
                      std::to_string(kApplicationId),
                  "setup"));
  }
  std::string before = slurp(path);
  auto db = open_and_migrate(path);
  ASSERT_FALSE(db);
  EXPECT_NE(db.err().message.find("schema version 99 is newer"), std::string::npos)
      << db.err().message;
  EXPECT_EQ(slurp(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST(Migrations, ForeignDatabaseRefused) {
  temp_dir dir;
  auto path = dir.file("a.db");
  {
    auto db = sql::open(path, sql::open_mode::create);
    ASSERT_TRUE(sql::exec(db->get(), "CREATE TABLE theirs(x); PRAGMA application_id = 7", "setup"));
  }
  std::string before = slurp(path);
  auto db = open_and_migrate(path);
  ASSERT_FALSE(db);
  EXPECT_NE(db.err().message.find("not a Cutover store"), std::string::npos);
  EXPECT_EQ(slurp(path), before);
}

TEST(Migrations, GarbageFileRefused) {
  temp_dir dir;
  auto path = dir.file("a.db");
  { std::ofstream(path) << std::string(4096, 'x'); }
  auto db = open_and_migrate(path);
  ASSERT_FALSE(db);
  EXPECT_NE(db.err().message.find("not a database"), std::string::npos) << db.err().message;
  EXPECT_EQ(slurp(path), std::string(4096, 'x'));
}

TEST(Migrations, BrokenStepRollsBackToPreviousVersion) {
  temp_dir dir;
  auto db = sql::open(dir.file("a.db"), sql::open_mode::create);
  ASSERT_TRUE(db);
  std::vector<migration> steps = embedded_migrations();
  const int good = latest_version(steps);
  steps.push_back({good + 1, "9999_broken",
                   "CREATE TABLE half_done(x); INSERT INTO no_such_table VALUES (1);"});
  auto r = migrate(db->get(), steps);
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message.find("9999_broken"), std::string::npos);
  EXPECT_EQ(*sql::pragma_int(db->get(), "user_version"), good);
  auto s = sql::statement::prepare(db->get(),
                                   "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'");
  ASSERT_EQ(s->step(), SQLITE_ROW);
  EXPECT_EQ(s->int64(0), 0);
  // The good step stays applied and a fixed step applies later.
  steps.back().sql = "CREATE TABLE fixed(x);";
  auto again = migrate(db->get(), steps);
  ASSERT_TRUE(again) << again.err().message;
  EXPECT_EQ(again->from_version, good);
  EXPECT_EQ(again->to_version, good + 1);
}

}  // namespace
}  // namespace cutover::store
