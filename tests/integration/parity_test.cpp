// The proof of "drop-in" (DESIGN §4), in two parts.
//
// BuiltinGolden: the real `cutover serve` with its built-in profile (docs/profiles/
// builtin.json), on entries with fixed ids, answers a scripted session byte for byte as
// tests/integration/golden/builtin_session.txt says (status, the headers that matter,
// body): data and paging, stream-id and tail cursors, timeout, no cursor, a cursor ahead,
// reset, malformed cursors, no identity.
//
// LegacySimParity: the old app (tools/legacy_sim, its own database and format) and Cutover
// running its profile (docs/profiles/legacy_sim.json) on an import of that database get
// the same scripted requests with the same session cookie: status codes, the headers that
// matter and bodies compared field by field and byte for byte.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cutover_proc.hpp"
#include "legacy_sim_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::http_reply;
using testing::redis_client;
using testing::redis_server;
using testing::subprocess;
namespace json = boost::json;

const std::string kGolden =
    std::string(CUTOVER_SOURCE_DIR) + "/tests/integration/golden/builtin_session.txt";

// One request and its answer as the transcript shows it.
std::string show(const std::string& target, const http_reply& r) {
  std::string out = "> GET " + target + "\n< " + std::to_string(r.status) + "\n";
  for (const char* h : {"content-type", "cache-control", "retry-after", "x-cutover-reset"})
    if (auto it = r.headers.find(h); it != r.headers.end())
      out += std::string("< ") + h + ": " + it->second + "\n";
  return out + r.body + "\n\n";
}

class BuiltinGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    // Old fixed ids, so every byte is known: no age retention, 20 kept per topic.
    srv_ = std::make_unique<cutover_server>(
        redis_,
        std::vector<std::string>{"--auth", "insecure-query", "--shared-topic", "all",
                                 "--poll-timeout", "1s", "--poll-batch", "3", "--retain-age", "0",
                                 "--retain-per-topic", "20", "--prune-interval", "100ms"});
  }
  void xadd(const std::string& id, const std::string& topic, const std::string& data,
            const std::string& type = "task.completed") {
    pub_.command({"XADD", "cutover:notifications", id, "topic", topic, "type", type, "data", data});
    ++published_;
  }
  std::string get(const std::string& target) {
    auto r = http_get(srv_->port(), target);
    EXPECT_NE(r.status, 0) << target;
    return show(target, r);
  }

  redis_server redis_;
  redis_client pub_{redis_.port()};
  std::unique_ptr<cutover_server> srv_;
  double published_ = 0;
};

TEST_F(BuiltinGolden, ScriptedSessionMatchesTheGoldenTranscript) {
  xadd("1700000000000-0", "user:1", R"({"task":1,"ok":true})");
  xadd("1700000000000-1", "all", R"("maintenance at 5")", "notice");
  xadd("1700000000001-0", "user:2", R"({"task":2})");
  for (int i = 0; i < 4; ++i)
    xadd("1700000000002-" + std::to_string(i), "user:1",
         R"({"n":)" + std::to_string(i) + R"(,"x":1.50,"s":"\u00e9\n"})");
  // A bulk publish: seq 1022, 1023 and 1024 of one millisecond share the tail legacyId.
  for (int seq : {1022, 1023, 1024})
    xadd("1700000000003-" + std::to_string(seq), "user:1", std::to_string(seq), "bulk");
  // 25 for user 9: retention keeps the newest 20.
  for (int i = 0; i < 25; ++i)
    xadd("1700000000010-" + std::to_string(i), "user:9", std::to_string(i), "n");
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", published_));

  std::string t;
  // Paging user 1 three at a time, following lastId (the tail group is never cut).
  std::string since = "0";
  for (int page = 0; page < 6; ++page) {
    std::string target = "/api/notifications/poll?user=1&since=" + since;
    auto r = http_get(srv_->port(), target);
    t += show(target, r);
    auto body = json::parse(r.body).as_object();
    if (body["notifications"].as_array().empty()) break;
    since = json::serialize(body["lastId"]);
  }
  t += get("/api/notifications/poll?user=1&since=1700000000000-1");    // a stream id cursor
  t += get("/api/notifications/poll?user=1&since=1740800000002047");   // after the whole ms
  t += get("/api/notifications/poll?user=2");                          // no cursor: waits
  t += get("/api/notifications/poll?user=2&since=99999999999999999");  // ahead: waits
  // Retention ran for user 9 (the oldest five are gone): an old cursor is a reset.
  std::string reset_target = "/api/notifications/poll?user=9&since=1740800000010240";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  http_reply reset;
  do {
    reset = http_get(srv_->port(), reset_target);
  } while (reset.headers["x-cutover-reset"] != "1" && std::chrono::steady_clock::now() < deadline);
  t += show(reset_target, reset);
  t += get("/api/notifications/poll?user=9&since=0");  // from the oldest kept: no reset
  for (std::string bad : {"abc", "1.5", "-1", "1-", "%20", "1-2-3", "99999999999999999999999", ""})
    t += get("/api/notifications/poll?user=1&since=" + bad);
  t += get("/api/notifications/poll?since=0");  // no identity
  t += get("/api/notifications/poll");

  if (std::getenv("CUTOVER_UPDATE_GOLDEN")) {
    std::ofstream(kGolden, std::ios::binary) << t;
    return;
  }
  std::ifstream in(kGolden, std::ios::binary);
  ASSERT_TRUE(in) << "missing " << kGolden << "; got:\n" << t;
  std::ostringstream want;
  want << in.rdbuf();
  // Compared request by request, so a failure names the one that differs.
  std::istringstream got_s(t), want_s(want.str());
  std::string got_line, want_line;
  int line = 0;
  while (true) {
    bool g = static_cast<bool>(std::getline(got_s, got_line));
    bool w = static_cast<bool>(std::getline(want_s, want_line));
    ++line;
    if (!g && !w) break;
    ASSERT_EQ(got_line, want_line) << "golden line " << line;
  }
}

// ---------------------------------------------------------------------------------------

class LegacySimParity : public ::testing::Test {
 protected:
  void SetUp() override {
    // The old app's history, added the way its own services added it.
    old_.add("user:42", R"({"task":1,"ok":true,"price":1.50})", "task.completed", 1700000000);
    old_.add("all", R"("maintenance at 5")", "notice", 1700000001);
    old_.add("user:7", R"({"task":2})", "task.completed", 1700000002);
    old_.add("user:42", R"({"s":"\u00e9\n\"q\"","nested":{"a":[1,null,true]}})", "x\"y",
             1700000003);
    old_.add("user:42", R"({"eventId":"mine","kind":"k","via":"?","keep":1})", "clash", 1700000004);
    old_.add("user:42", "[1,2,3]", "list", 1700000005);
    old_.add("user:42", "null", "nothing", 1700000006);
    old_.add("user:7", "7", "n", 1700000007);
    old_.add("all", "{}", "empty", 1700000008);
    for (int i = 0; i < 4; ++i) old_.add("user:42", R"({"i":)" + std::to_string(i) + "}", "i");

    // Cutover day: export, import, and Cutover in front with the old app's profile.
    temp_dir_ = std::make_unique<testing::temp_dir>();
    std::string input = temp_dir_->file("export.ndjson");
    old_.export_ndjson(input);
    db_ = temp_dir_->file("cutover.db");
    auto imp = subprocess::spawn(
        {CUTOVER_BIN, "import", "--db", db_, "--profile", testing::legacy_sim_profile(), input});
    ASSERT_EQ(imp->wait_exit(60s), 0) << imp->output();
    srv_ = std::make_unique<cutover_server>(
        redis_,
        std::vector<std::string>{"--legacy-profile", testing::legacy_sim_profile(), "--upstream",
                                 old_.url(), "--auth", "upstream", "--shared-topic", "all",
                                 "--poll-timeout", "1s", "--poll-batch", "3",
                                 // The old app keeps everything; its 2023 events would be
                                 // past the default 7 days (age retention uses their time).
                                 "--retain-age", "0"},
        db_);
    cookie_ = old_.login("42");
  }

  // One request against both; returns the old app's answer after checking they agree.
  http_reply both(std::optional<std::string> after, const std::string& cookie) {
    auto old_reply = testing::legacy_sim::updates(old_.port(), cookie, after);
    auto new_reply = testing::legacy_sim::updates(srv_->port(), cookie, after);
    std::string what = "after=" + after.value_or("(none)") + "\nold: " + old_reply.body +
                       "\nnew: " + new_reply.body;
    EXPECT_EQ(new_reply.status, old_reply.status) << what;
    for (const char* h : {"content-type", "cache-control", "x-inbox-cursor", "retry-after"}) {
      EXPECT_EQ(new_reply.headers.count(h), old_reply.headers.count(h)) << h << "\n" << what;
      EXPECT_EQ(new_reply.headers[h], old_reply.headers[h]) << h << "\n" << what;
    }
    if (!old_reply.body.empty() || !new_reply.body.empty()) {
      // Field by field first (a clearer message), then byte for byte.
      boost::system::error_code e1, e2;
      auto a = json::parse(old_reply.body, e1);
      auto b = json::parse(new_reply.body, e2);
      EXPECT_FALSE(e1) << what;
      EXPECT_FALSE(e2) << what;
      EXPECT_EQ(a, b) << what;
    }
    EXPECT_EQ(new_reply.body, old_reply.body) << what;
    return old_reply;
  }

  testing::legacy_sim old_{{"--channel", "all", "--wait", "1s", "--page-size", "3"}};
  redis_server redis_;
  std::unique_ptr<testing::temp_dir> temp_dir_;
  std::string db_;
  std::unique_ptr<cutover_server> srv_;
  std::string cookie_;
};

TEST_F(LegacySimParity, DataAndPagingFollowingTheCursorHeader) {
  std::optional<std::string> after = "evt_0";
  int pages = 0, events = 0;
  while (true) {
    auto r = both(after, cookie_);
    if (r.status == 204) break;
    ASSERT_EQ(r.status, 200) << r.body;
    auto n = json::parse(r.body).at("events").as_array().size();
    EXPECT_LE(n, 3u);
    events += static_cast<int>(n);
    ++pages;
    after = r.headers["x-inbox-cursor"];
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(events, 11);  // user 42's nine and the two broadcasts
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(after, "evt_13");
}

// The event ids of an answer's page, in order.
std::vector<std::string> event_ids(const http_reply& r) {
  std::vector<std::string> ids;
  auto body = json::parse(r.body);  // kept: the loop below walks into it
  for (const auto& e : body.at("events").as_array())
    ids.emplace_back(e.as_object().at("eventId").as_string());
  return ids;
}

// The error code of an error answer ({"ok":false,"error":{"code":...}}), or "".
std::string error_code(const http_reply& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("error")) return "";
  return std::string(v.at("error").at("code").as_string());
}

// Ids as the old app numbered the history of SetUp: 1 user 42, 2 all, 3 user 7, 4-7 user 42,
// 8 user 7, 9 all, 10-13 user 42.
TEST_F(LegacySimParity, NoCursorMeansEverythingAndOtherUsersSeeTheirOwn) {
  auto first = both(std::nullopt, cookie_);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(event_ids(first), (std::vector<std::string>{"evt_1", "evt_2", "evt_4"}));
  EXPECT_EQ(first.headers["x-inbox-cursor"], "evt_4");
  auto seven = both(std::nullopt, old_.login("7"));
  ASSERT_EQ(seven.status, 200) << seven.body;
  EXPECT_EQ(event_ids(seven), (std::vector<std::string>{"evt_2", "evt_3", "evt_8"}));
  auto seven_after = both("evt_3", old_.login("7"));
  ASSERT_EQ(seven_after.status, 200) << seven_after.body;
  EXPECT_EQ(event_ids(seven_after), (std::vector<std::string>{"evt_8", "evt_9"}));
  EXPECT_EQ(seven_after.headers["x-inbox-cursor"], "evt_9");
}

TEST_F(LegacySimParity, NothingNewIs204WithTheCursorEchoed) {
  // {cursor sent, cursor echoed}: the 204 carries no body and the cursor to come back with.
  const std::pair<std::string, std::string> cases[] = {
      {"evt_13", "evt_13"}, {"evt_999999", "evt_999999"},  // ahead of both: waits, then says so
  };
  for (const auto& [sent, echoed] : cases) {
    auto r = both(sent, cookie_);
    EXPECT_EQ(r.status, 204) << sent << ": " << r.body;
    EXPECT_EQ(r.body, "") << sent;
    EXPECT_EQ(r.headers["x-inbox-cursor"], echoed) << sent;
  }
  // Leading zeros are the same id: evt_007 is evt_7, answered with what follows it.
  auto zeros = both("evt_007", cookie_);
  EXPECT_EQ(zeros.status, 200) << zeros.body;
  EXPECT_EQ(event_ids(zeros), (std::vector<std::string>{"evt_9", "evt_10", "evt_11"}));
  auto nobody = both("evt_1023", old_.login("nobody"));
  EXPECT_EQ(nobody.status, 204) << nobody.body;
  EXPECT_EQ(nobody.body, "");
  EXPECT_EQ(nobody.headers["x-inbox-cursor"], "evt_1023");
}

TEST_F(LegacySimParity, MalformedCursorIs400WithTheSameBody) {
  for (std::string bad : {"", "1", "evt_", "evt_-1", "evt_1.5", "EVT_1", "evt_1x", "evt_%20",
                          "evt_99999999999999999999", "x%2Fy"}) {
    auto r = both(bad, cookie_);
    EXPECT_EQ(r.status, 400) << "after=" << bad << ": " << r.body;
    EXPECT_EQ(error_code(r), "BAD_CURSOR") << "after=" << bad << ": " << r.body;
  }
}

TEST_F(LegacySimParity, NoIdentityIs401WithTheSameBody) {
  const std::pair<std::optional<std::string>, std::string> cases[] = {
      {"evt_0", ""},
      {std::nullopt, ""},
      {"junk", ""},                           // identity is checked first on both
      {"evt_0", "LSESSION=forged"},           // a session the old app does not know
      {"evt_0", "sid=" + cookie_.substr(9)},  // the right value under another name
  };
  for (const auto& [after, cookie] : cases) {
    auto r = both(after, cookie);
    EXPECT_EQ(r.status, 401) << "cookie '" << cookie << "': " << r.body;
    EXPECT_EQ(error_code(r), "NO_SESSION") << "cookie '" << cookie << "': " << r.body;
  }
}

}  // namespace
}  // namespace cutover

namespace cutover {
namespace {

TEST(LegacyProfileFlag, ABadProfileExits2NamingFileLineAndFieldBeforeTheStore) {
  testing::temp_dir dir;
  std::string text =
      "{\n  \"profile\": 1,\n  \"request\": {\"path\": \"/p\", \"cursor\": {\"name\": "
      "\"c\"}},\n  \"item\": {\"id\": \"$idd\"}\n}\n";
  std::string path = dir.file("bad.json");
  std::ofstream(path) << text;
  auto db = dir.file("never.db");
  auto p = subprocess::spawn(
      {CUTOVER_BIN, "serve", "--auth", "insecure-query", "--db", db, "--legacy-profile", path});
  EXPECT_EQ(p->wait_exit(10s), 2);
  EXPECT_NE(p->output().find("cutover: --legacy-profile " + path +
                             ":4: item.id: unknown placeholder $idd here"),
            std::string::npos)
      << p->output();
  EXPECT_FALSE(std::filesystem::exists(db));
  auto missing = subprocess::spawn({CUTOVER_BIN, "serve", "--auth", "insecure-query", "--db", db,
                                    "--legacy-profile", dir.file("none.json")});
  EXPECT_EQ(missing->wait_exit(10s), 2);
  EXPECT_NE(missing->output().find("none.json: cannot read the file"), std::string::npos)
      << missing->output();
}

TEST(LegacyProfileFlag, AStoreImportedWithAnotherOffsetIsRefused) {
  testing::temp_dir dir;
  std::ifstream in(testing::legacy_sim_profile());
  std::string profile((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  profile.replace(profile.find("\"batch\""), 0, "\"id_offset\": 5,\n  ");
  std::ofstream(dir.file("offset.json")) << profile;
  std::ofstream(dir.file("e.ndjson"))
      << R"({"id":6,"user":"1","type":"t","time":1700000000,"payload":1})"
      << "\n";
  auto db = dir.file("c.db");
  auto imp = subprocess::spawn({CUTOVER_BIN, "import", "--db", db, "--profile",
                                dir.file("offset.json"), dir.file("e.ndjson")});
  ASSERT_EQ(imp->wait_exit(20s), 0) << imp->output();
  redis_server redis;
  auto p =
      subprocess::spawn({CUTOVER_BIN, "serve", "--auth", "insecure-query", "--db", db, "--redis",
                         redis.url(), "--legacy-profile", testing::legacy_sim_profile()});
  EXPECT_EQ(p->wait_exit(20s), 1);
  EXPECT_NE(p->output().find("was imported with id_offset 5, the legacy profile"),
            std::string::npos)
      << p->output();
}

}  // namespace
}  // namespace cutover
