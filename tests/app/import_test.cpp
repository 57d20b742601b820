// `cutover import` through the real binary (DESIGN §4 "Cutover day"): old ids kept and
// mapped to stream ids, NDJSON and CSV alike, idempotent, resumable after kill -9, bad
// rows rejected with their line while the rest is stored, ids that would collide with new
// ones refused with the offset to use, and a profile that is not right refused with its
// file, line and field. The store is then read with Cutover's own reader.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "run_cutover.hpp"
#include "store/store.hpp"
#include "store_fixtures.hpp"
#include "subprocess.hpp"

namespace cutover {
namespace {
using testing::subprocess;
using namespace std::chrono_literals;

const std::string kProfiles = std::string(CUTOVER_SOURCE_DIR) + "/docs/profiles/";

using testing::run_cutover;
using testing::run_result;

class Import : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_.file(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  run_result import(const std::string& input, const std::string& profile = "legacy_sim.json",
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "import", "--db", db_, "--profile",
        profile.find('/') == std::string::npos ? kProfiles + profile : profile};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(input);
    return run_cutover(args, 60s);  // a large import takes a while
  }
  notification_batch read(const std::vector<std::string>& topics, std::size_t limit = 1'000'000) {
    auto r = store::reader::open(db_);
    EXPECT_TRUE(r) << r.err().message;
    if (!r) return {};
    auto rows = r->read_after(topics, {}, limit);
    EXPECT_TRUE(rows) << rows.err().message;
    return rows ? *rows : notification_batch{};
  }

  testing::temp_dir dir_;
  std::string db_ = dir_.file("cutover.db");
};

// Four rows as legacy_sim's export writes them (sqlite3 json_object, and -csv -header).
const char* kNdjson =
    R"({"id":1,"user":"42","topic":null,"type":"task.done","time":1700000000,"payload":{"task":1,"x":1.50}})"
    "\n"
    R"({"id":2,"user":null,"topic":"all","type":"notice","time":1700000001,"payload":"hi"})"
    "\n\n"
    R"({"id":7,"user":42,"type":"task.done","time":1700000002.5,"payload":[1,{"a":null}]})"
    "\n"
    R"({"id":1023,"user":"7","topic":null,"type":"x","time":1700000003,"payload":{}})"
    "\n";
const char* kCsv =
    "id,user,topic,type,time,payload\n"
    "1,42,,task.done,1700000000,\"{\"\"task\"\":1,\"\"x\"\":1.50}\"\n"
    "2,,all,notice,1700000001,\"\"\"hi\"\"\"\n"
    "7,42,,task.done,1700000002.5,\"[1,{\"\"a\"\":null}]\"\r\n"
    "1023,7,,x,1700000003,{}\n";

void expect_the_four(const notification_batch& user42, const notification_batch& all,
                     const notification_batch& user7) {
  ASSERT_EQ(user42.size(), 2u);
  EXPECT_EQ(user42[0]->id, (stream_id{0, 1}));  // old id L is <L div 1024>-<L mod 1024>
  EXPECT_EQ(user42[0]->legacy_id(), 1u);
  EXPECT_EQ(user42[0]->topic, "user:42");
  EXPECT_EQ(user42[0]->type, "task.done");
  EXPECT_EQ(user42[0]->data, R"({"task":1,"x":1.50})") << "payload kept as written";
  EXPECT_EQ(user42[0]->created_ms(), 1700000000000u) << "the export's time is kept";
  EXPECT_EQ(user42[1]->id, (stream_id{0, 7}));
  EXPECT_EQ(user42[1]->data, R"([1,{"a":null}])");
  EXPECT_EQ(user42[1]->created_ms(), 1700000002500u);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]->id, (stream_id{0, 2}));
  EXPECT_EQ(all[0]->data, R"("hi")");
  ASSERT_EQ(user7.size(), 1u);
  EXPECT_EQ(user7[0]->id, (stream_id{0, 1023}));
  EXPECT_EQ(user7[0]->legacy_id(), 1023u);
}

TEST_F(Import, NdjsonKeepsOldIdsTimesAndPayloads) {
  auto r = import(write("export.ndjson", kNdjson));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("4 rows: 4 stored, 0 already there, 0 rejected"), std::string::npos)
      << r.out;
  expect_the_four(read({"user:42"}), read({"all"}), read({"user:7"}));
}

TEST_F(Import, CsvGivesTheSameStore) {
  auto r = import(write("export.csv", kCsv));
  EXPECT_EQ(r.code, 0) << r.out;
  expect_the_four(read({"user:42"}), read({"all"}), read({"user:7"}));
  // And the NDJSON export of the same rows finds every one already there.
  auto again = import(write("export.ndjson", kNdjson));
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("4 rows: 0 stored, 4 already there, 0 rejected"), std::string::npos)
      << again.out;
}

TEST_F(Import, SecondRunStoresNothing) {
  auto input = write("export.ndjson", kNdjson);
  ASSERT_EQ(import(input).code, 0);
  std::string before = unit::slurp(db_);
  auto r = import(input);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("4 rows: 0 stored, 4 already there, 0 rejected"), std::string::npos)
      << r.out;
  EXPECT_EQ(read({"user:42", "all", "user:7"}).size(), 4u);
  auto st = store::reader::open(db_)->status();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->notifications, 4);
  EXPECT_EQ(st->topics, 3) << "per-topic counts (retention by count) are not bumped twice";
}

TEST_F(Import, KilledMidImportThenRunAgainStoresEveryRowOnce) {
  // Enough rows that the first run is still storing when its first progress line shows.
  const int n = 200'000;
  std::string text;
  text.reserve(static_cast<std::size_t>(n) * 90);
  for (int i = 1; i <= n; ++i)
    text += R"({"id":)" + std::to_string(i) + R"(,"user":")" + std::to_string(i % 50) +
            R"(","type":"t","time":1700000000,"payload":{"n":)" + std::to_string(i) + "}}\n";
  auto input = write("big.ndjson", text);
  auto first =
      subprocess::spawn({CUTOVER_BIN, "import", "--db", db_, "--profile",
                         kProfiles + "legacy_sim.json", "--progress-every", "10000", input});
  auto progress = first->wait_for_line("cutover import: progress:", 120s);
  ASSERT_TRUE(progress) << first->output();
  EXPECT_NE(progress->find("10000 of 200000 rows: 10000 stored"), std::string::npos) << *progress;
  first->signal(SIGKILL);
  EXPECT_EQ(first->wait_exit(10s), 128 + SIGKILL);
  EXPECT_EQ(first->output().find("rows rejected"), std::string::npos);
  std::size_t partial = 0;
  {
    auto st = store::reader::open(db_)->status();
    ASSERT_TRUE(st);
    partial = static_cast<std::size_t>(st->notifications);
    EXPECT_GE(partial, 10'000u);
    EXPECT_LT(partial, static_cast<std::size_t>(n)) << "killed before it finished";
  }
  auto again = import(input, "legacy_sim.json", {"--progress-every", "50000"});
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("200000 rows: " + std::to_string(n - partial) + " stored, " +
                           std::to_string(partial) + " already there, 0 rejected"),
            std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("cutover import: progress: 50000 of 200000 rows"), std::string::npos);
  auto st = store::reader::open(db_)->status();
  EXPECT_EQ(st->notifications, n);
  auto u7 = read({"user:7"});
  ASSERT_EQ(u7.size(), static_cast<std::size_t>(n / 50));
  for (std::size_t i = 1; i < u7.size(); ++i) ASSERT_LT(u7[i - 1]->id, u7[i]->id);
  EXPECT_EQ(u7.front()->legacy_id(), 7u);
}

TEST_F(Import, BadRowsAreRejectedWithTheirLineAndTheRestStored) {
  auto input = write("export.ndjson",
                     R"({"id":1,"user":"1","type":"t","time":1700000000,"payload":1})"
                     "\n"
                     R"({"id":2,"user":"1","type":"t","time":1700000000,"payload":1)"  // not closed
                     "\n"
                     R"({"id":0,"user":"1","type":"t","time":1700000000,"payload":1})"
                     "\n"
                     R"({"id":4,"type":"t","time":1700000000,"payload":1})"
                     "\n"
                     R"({"id":5,"user":"1","type":"t","time":"yesterday","payload":1})"
                     "\n"
                     R"({"id":6,"user":"1","type":"t","time":1700000000})"
                     "\n"
                     R"({"id":-7,"user":"1","type":"t","time":1700000000,"payload":1})"
                     "\n"
                     R"({"id":8,"user":"1","type":"t\u0001","time":1700000000,"payload":1})"
                     "\n"
                     R"({"id":9,"user":"1","type":"t","time":1700000000,"payload":2})"
                     "\n"
                     R"({"id":9,"user":"1","type":"t","time":1700000000,"payload":3})"
                     "\n");
  auto r = import(input);
  EXPECT_EQ(r.code, 1) << r.out;
  for (auto line : {":2: rejected: not a JSON object", ":3: rejected: id: must be at least 1",
                    ":4: rejected: needs a user or a topic", ":5: rejected: time: expected",
                    ":6: rejected: payload: missing", ":7: rejected: id: expected",
                    ":8: rejected: type contains control characters",
                    ":10: rejected: stream id 0-9 is already taken by a different entry"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  EXPECT_NE(r.out.find("10 rows: 2 stored, 0 already there, 8 rejected"), std::string::npos)
      << r.out;
  auto rows = read({"user:1"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]->legacy_id(), 1u);
  EXPECT_EQ(rows[1]->data, "2");
}

TEST_F(Import, BrokenCsvQuotingStopsBeforeAnythingIsStored) {
  auto input = write("export.csv",
                     "id,user,type,time,payload\n"
                     "1,1,t,1700000000,1\n"
                     "2,1,t,1700000000,\"{\"\"open\n");
  auto r = import(input);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("export.csv:3: a quoted field is not closed"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(db_));
  auto no_header = import(write("bare.csv", "1,1,t,1700000000,1\n"));
  EXPECT_EQ(no_header.code, 1);
  EXPECT_NE(no_header.out.find("bare.csv:1: the header has no 'id' column"), std::string::npos)
      << no_header.out;
}

TEST_F(Import, IdsThatWouldNotCompareBelowNewOnesAreRefusedWithTheOffset) {
  // An old app whose ids are microsecond timestamps: above any stream id's legacyId.
  auto input =
      write("micro.ndjson",
            R"({"id":1740800000000000,"user":"1","type":"t","time":1700000000,"payload":1})"
            "\n"
            R"({"id":1740800000000005,"user":"1","type":"t","time":1700000000,"payload":2})"
            "\n");
  auto r = import(input);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("refused, nothing stored: old id 1740800000000005 would not compare below"),
            std::string::npos)
      << r.out;
  const std::string offset = "771394764800006";
  EXPECT_NE(r.out.find("set \"id_offset\": " + offset + " in"), std::string::npos) << r.out;
  EXPECT_TRUE(read({"user:1"}).empty());

  // With that offset in the profile, the ids fit, and their legacyIds plus the offset are
  // the old ids again.
  std::string profile = unit::slurp(kProfiles + "legacy_sim.json");
  profile.replace(profile.find("\"batch\""), 0, "\"id_offset\": " + offset + ",\n  ");
  auto with_offset = write("offset.json", profile);
  auto ok = import(input, with_offset);
  EXPECT_EQ(ok.code, 0) << ok.out;
  auto rows = read({"user:1"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]->legacy_id() + std::stoull(offset), 1740800000000000u);
  EXPECT_EQ(rows[1]->legacy_id() + std::stoull(offset), 1740800000000005u);
  EXPECT_LT(rows[1]->id, (stream_id{946684800000, 0}));

  // One deployment, one offset: a profile that says otherwise is refused.
  auto other = import(write("again.ndjson", kNdjson));
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.out.find("was imported with id_offset " + offset), std::string::npos)
      << other.out;
}

TEST_F(Import, IdsMustStayBelowWhatIsAlreadyIngested) {
  {
    auto w = store::writer::open(db_);
    store::append_batch b;
    b.entries = {unit::entry(3, 0, "user:1", "1")};  // an entry from Redis with a tiny id
    ASSERT_TRUE(w->append(b));
  }
  auto r = import(write("export.ndjson",
                        R"({"id":5000,"user":"1","type":"t","time":1700000000,"payload":1})"
                        "\n"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("would not compare below the ids of new notifications (they start at "
                       "legacyId 3072"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(
      import(write("low.ndjson", R"({"id":5,"user":"1","type":"t","time":1700000000,"payload":1})"
                                 "\n"))
          .code,
      0);
}

TEST_F(Import, BadProfileExits2NamingFileLineAndField) {
  std::string text = unit::slurp(kProfiles + "legacy_sim.json");
  auto at = text.find("\"batch\": 50");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 11, "\"batch\": 0");
  int line =
      1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  auto bad = write("bad.json", text);
  auto r = import(write("e.ndjson", kNdjson), bad);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(bad + ":" + std::to_string(line) + ": batch: expected at least 1"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(std::filesystem::exists(db_));
  auto missing = run_cutover({"import", "--db", db_, "--profile", kProfiles + "legacy_sim.json",
                              dir_.file("nope.ndjson")});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("cannot read"), std::string::npos) << missing.out;
  EXPECT_EQ(run_cutover({"import", "--db", db_, dir_.file("x.ndjson")}).code, 2)
      << "--profile is required";
}

TEST_F(Import, IsoTimesForProfilesThatSaySo) {
  auto input =
      write("iso.ndjson",
            R"({"id":1,"topic":"all","type":"t","time":"2023-11-14T22:13:20.5Z","payload":1})"
            "\n"
            R"({"id":2,"topic":"all","type":"t","time":"2023-11-14 23:13:20+01:00","payload":1})"
            "\n");
  auto r = import(input, "builtin.json");
  EXPECT_EQ(r.code, 0) << r.out;
  auto rows = read({"all"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]->created_ms(), 1700000000500u);
  EXPECT_EQ(rows[1]->created_ms(), 1700000000000u);
}

}  // namespace
}  // namespace cutover
