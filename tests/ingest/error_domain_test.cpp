// Error codes carry their subsystem (core/result.hpp). SQLite's SQLITE_ERROR is 1 and so is
// ingest's errc::connection: when ingest forwards a store error, a bare int made "the
// store's schema is broken" compare equal to "Redis is unreachable".

#include <gtest/gtest.h>

#include "ingest/redis_connection.hpp"
#include "ingest_fixtures.hpp"
#include "store/sqlite.hpp"

namespace cutover::ingest::test {
namespace {

using testing::temp_dir;

static_assert(store::sql::sqlite_code(SQLITE_ERROR) != errc::connection,
              "same number, different subsystems: never equal");
static_assert(store::sql::sqlite_code(SQLITE_ERROR).value == errc::connection.value,
              "the collision this guards against is real");

TEST(ErrorDomain, CodesOfDifferentSubsystemsNeverCompareEqual) {
  EXPECT_NE(store::sql::sqlite_code(1), errc::connection);
  EXPECT_NE(store::sql::sqlite_code(2), errc::invalid_entry);
  EXPECT_EQ(store::sql::sqlite_code(SQLITE_ERROR), (error_code{error_domain::sqlite, 1}));
  EXPECT_EQ(errc::connection, (error_code{error_domain::ingest, 1}));
  EXPECT_FALSE(error_code{}) << "no code";
  EXPECT_TRUE(errc::stopped);
}

// A store whose first migration fails with SQLITE_ERROR (a table of that name already
// exists): ingest's start() forwards the store's error, and it must still say SQLite.
TEST(ErrorDomain, AStoreErrorForwardedByIngestIsNotAConnectionError) {
  temp_dir dir;
  std::string db = dir.file("store.db");
  {
    auto h = store::sql::open(db, store::sql::open_mode::create);
    ASSERT_TRUE(h.ok()) << h.err().message;
    ASSERT_TRUE(store::sql::exec(h->get(), "CREATE TABLE notifications (x);", "setup").ok());
  }
  testing::redis_server redis;
  recording_listener l;
  ingest ing(test_options(db, redis.url()), l);
  auto st = ing.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.err().message.find("already exists"), std::string::npos) << st.err().message;
  EXPECT_EQ(st.err().code, store::sql::sqlite_code(SQLITE_ERROR)) << st.err().message;
  EXPECT_NE(st.err().code, errc::connection) << "a store error taken for a lost Redis";
}

// The other way round: a Redis failure is ingest's connection error, not an SQLite code.
TEST(ErrorDomain, ARedisFailureIsIngestsConnectionError) {
  int port = testing::free_port();
  auto c = redis_connection::connect("redis://127.0.0.1:" + std::to_string(port), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.err().code, errc::connection);
  EXPECT_NE(c.err().code, store::sql::sqlite_code(SQLITE_ERROR));
}

}  // namespace
}  // namespace cutover::ingest::test
