// docs/deploy.md end to end: two `cutover serve` instances on a master, a replica and three
// Sentinels (redis+sentinel://), behind haproxy with tools/deploy/haproxy.cfg. Every answer
// through haproxy holds every notification, across a SENTINEL FAILOVER and the loss of an
// instance.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "cutover_proc.hpp"
#include "ingest/redis_connection.hpp"
#include "sentinel_cluster.hpp"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void replace(std::string& text, const std::string& what, const std::string& with) {
  auto at = text.find(what);
  ASSERT_NE(at, std::string::npos) << what;
  text.replace(at, what.size(), with);
}

// XADD through the Sentinel URL, retried (with the same key) until a master takes it.
void publish(const std::string& url, const std::string& data) {
  auto deadline = std::chrono::steady_clock::now() + 40s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto c = ingest::redis_connection::connect(url, {1000ms, 2000ms, -1});
    if (c) {
      auto r = c->command(
          {"XADD", "cutover:notifications", "*", "topic", "user:1", "data", data, "key", data});
      if (r && !ingest::is_error_reply(r->get())) return;
    }
    std::this_thread::sleep_for(50ms);  // a publisher's retry pace, not a synchronisation
  }
  FAIL() << "no master took " << data;
}

// Polls through haproxy until an answer holds every one of `want` (bounded).
bool every_answer_has(int port, const std::vector<std::string>& want, int answers) {
  int good = 0;
  for (int attempt = 0; attempt < 400 && good < answers; ++attempt) {
    auto r = http_get(port, "/api/notifications/poll?user=1&since=0", {}, 5s);
    bool all = r.status == 200;
    for (const auto& w : want) all = all && r.body.find(w) != std::string::npos;
    if (all) {
      ++good;
    } else {
      good = 0;                           // every answer in a row, not one in a while
      std::this_thread::sleep_for(50ms);  // an instance still catching up, or marked down
    }
  }
  return good >= answers;
}

TEST(HaHaproxy, TwoInstancesBehindHaproxyFollowAFailoverAndLoseNothing) {
  sentinel_cluster cluster;
  std::vector<std::string> flags = {"--redis",        cluster.url(),    "--auth",
                                    "insecure-query", "--poll-timeout", "1s"};
  auto a = std::make_unique<cutover_server>(cluster.server(cluster.master_port()), flags);
  cutover_server b(cluster.server(cluster.master_port()), flags);

  temp_dir dir;
  int front = free_port();
  std::string cfg = slurp(std::string(CUTOVER_SOURCE_DIR) + "/tools/deploy/haproxy.cfg");
  replace(cfg, "@LISTEN@", "127.0.0.1:" + std::to_string(front));
  replace(cfg, "@SERVERS@",
          "  server a 127.0.0.1:" + std::to_string(a->port()) +
              " check\n  server b 127.0.0.1:" + std::to_string(b.port()) + " check\n");
  std::string path = dir.file("haproxy.cfg");
  std::ofstream(path) << cfg;
  auto haproxy = subprocess::spawn({"haproxy", "-db", "-f", path});

  publish(cluster.url(), "\"before\"");
  ASSERT_TRUE(every_answer_has(front, {"before"}, 6)) << haproxy->output() << "\n"
                                                      << a->process().output();

  cluster.failover();
  publish(cluster.url(), "\"after failover\"");
  ASSERT_TRUE(every_answer_has(front, {"before", "after failover"}, 6)) << haproxy->output();

  a.reset();  // one instance gone: haproxy's /readyz check takes it out
  publish(cluster.url(), "\"one instance left\"");
  EXPECT_TRUE(every_answer_has(front, {"before", "after failover", "one instance left"}, 6))
      << haproxy->output();
  EXPECT_EQ(b.metric("cutover_stream_rewinds_total"), 0);
}

}  // namespace
}  // namespace cutover::testing
