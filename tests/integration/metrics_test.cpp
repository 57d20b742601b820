// /metrics against the real binary: the histograms move exactly as the test's traffic says,
// follow Prometheus' conventions, and the operators' files (docs/grafana/cutover.json,
// docs/prometheus/alerts.yml) name only metrics a running server exports.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cutover_proc.hpp"
#include "store_fixtures.hpp"

namespace cutover {
namespace {
using testing::cutover_server;
using testing::http_get;
using testing::redis_client;
using testing::redis_server;

// The text format, read back: TYPE per family, and every sample by its printed name+labels.
struct scrape {
  std::map<std::string, std::string> types;  // family -> counter|gauge|histogram
  std::map<std::string, double> samples;     // `name{labels}` -> value
  std::vector<std::pair<std::string, double>> buckets(const std::string& family) const {
    std::vector<std::pair<std::string, double>> out;
    const std::string prefix = family + "_bucket{le=\"";
    for (const auto& [k, v] : samples)
      if (k.rfind(prefix, 0) == 0)
        out.emplace_back(k.substr(prefix.size(), k.size() - prefix.size() - 2), v);
    return out;
  }
};

scrape parse_metrics(const std::string& body);
scrape read_metrics(int port) {
  auto r = http_get(port, "/metrics");
  EXPECT_EQ(r.status, 200);
  return parse_metrics(r.body);
}

scrape parse_metrics(const std::string& body) {
  scrape s;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      s.types[rest.substr(0, sp)] = rest.substr(sp + 1);
    } else if (!line.empty() && line[0] != '#') {
      auto sp = line.rfind(' ');
      s.samples[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
    }
  }
  return s;
}

// Every series of every histogram (one per label set besides `le`): cumulative buckets never
// decrease, +Inf last and equal to its _count.
void expect_well_formed_histograms(const scrape& s) {
  int seen = 0;
  for (const auto& [family, type] : s.types) {
    if (type != "histogram") continue;
    ++seen;
    // labels without le -> (le, value)
    std::map<std::string, std::vector<std::pair<std::string, double>>> series;
    const std::string prefix = family + "_bucket{";
    for (const auto& [k, v] : s.samples) {
      if (k.rfind(prefix, 0) != 0) continue;
      auto labels = k.substr(prefix.size(), k.size() - prefix.size() - 1);
      auto at = labels.find("le=\"");
      ASSERT_NE(at, std::string::npos) << k;
      auto le = labels.substr(at + 4, labels.find('"', at + 4) - at - 4);
      auto rest = labels.substr(0, at);
      if (!rest.empty() && rest.back() == ',') rest.pop_back();
      series[rest].emplace_back(le, v);
    }
    ASSERT_FALSE(series.empty()) << family;
    for (const auto& [labels, b] : series) {
      const std::string sel = labels.empty() ? "" : "{" + labels + "}";
      // std::map orders "+Inf" first; put it last, the rest by numeric bound.
      std::vector<std::pair<double, double>> finite;
      double inf = -1;
      for (auto& [le, v] : b) {
        if (le == "+Inf")
          inf = v;
        else
          finite.emplace_back(std::strtod(le.c_str(), nullptr), v);
      }
      std::sort(finite.begin(), finite.end());
      for (std::size_t i = 1; i < finite.size(); ++i)
        EXPECT_LE(finite[i - 1].second, finite[i].second)
            << family << sel << " le=" << finite[i].first;
      ASSERT_TRUE(s.samples.count(family + "_count" + sel)) << family << sel;
      ASSERT_TRUE(s.samples.count(family + "_sum" + sel)) << family << sel;
      EXPECT_EQ(inf, s.samples.at(family + "_count" + sel)) << family << sel;
      if (!finite.empty()) {
        EXPECT_LE(finite.back().second, inf) << family << sel;
      }
    }
  }
  EXPECT_GE(seen, 4);
}

// A metric name used in a query resolves to an exported family (histogram series by suffix).
bool exported(const scrape& s, const std::string& name) {
  if (s.types.count(name)) return true;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string sfx(suffix);
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      auto base = name.substr(0, name.size() - sfx.size());
      if (s.types.count(base) && s.types.at(base) == "histogram") return true;
    }
  }
  return false;
}

std::set<std::string> metric_names_in(const std::string& text) {
  std::set<std::string> out;
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
  for (std::size_t at = text.find("cutover_"); at != std::string::npos;
       at = text.find("cutover_", at)) {
    std::size_t end = at;
    while (end < text.size() && word(text[end])) ++end;
    if (at == 0 || !word(text[at - 1])) out.insert(text.substr(at, end - at));
    at = end;
  }
  return out;
}

class Metrics : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    // --upstream to a closed port: its metric families exist without traffic.
    srv_ = std::make_unique<cutover_server>(
        redis_,
        std::vector<std::string>{"--auth", "insecure-query", "--upstream", "http://127.0.0.1:9"});
  }
  redis_server redis_;
  std::unique_ptr<cutover_server> srv_;
};

TEST_F(Metrics, IngestHistogramsCountEveryCommitAndEntry) {
  auto before = read_metrics(srv_->port());
  ASSERT_EQ(before.types["cutover_store_commit_seconds"], "histogram");
  ASSERT_EQ(before.types["cutover_ingest_batch_entries"], "histogram");
  EXPECT_EQ(before.samples["cutover_ingest_batch_entries_sum"], 0);

  constexpr int kEntries = 250;
  redis_client rc(redis_.port());
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < kEntries; ++i)
    cmds.push_back({"XADD", "cutover:notifications", "*", "topic", "user:" + std::to_string(i % 7),
                    "type", "t", "data", "{\"i\":" + std::to_string(i) + "}"});
  rc.pipeline(cmds);
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", kEntries));

  auto s = read_metrics(srv_->port());
  expect_well_formed_histograms(s);
  // Every committed notification is in exactly one batch; every commit is timed once.
  EXPECT_EQ(s.samples["cutover_ingest_batch_entries_sum"], kEntries);
  EXPECT_EQ(s.samples["cutover_store_commit_seconds_count"],
            s.samples["cutover_ingest_batches_total"]);
  EXPECT_EQ(s.samples["cutover_ingest_batch_entries_count"],
            s.samples["cutover_ingest_batches_total"]);
  EXPECT_GE(s.samples["cutover_store_commit_seconds_count"], 1);
  EXPECT_GT(s.samples["cutover_store_commit_seconds_sum"], 0);
  // No batch holds more than was published: the le="1000" bucket holds them all.
  EXPECT_EQ(s.samples["cutover_ingest_batch_entries_bucket{le=\"1000\"}"],
            s.samples["cutover_ingest_batch_entries_count"]);
}

TEST_F(Metrics, ReadyGaugeFollowsReadyz) {
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ready", 1));
  EXPECT_EQ(http_get(srv_->port(), "/readyz").status, 200);
  redis_.kill();
  // Ingest notices the lost link (the server's own event, read from /metrics); then the
  // gauge and /readyz agree.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (srv_->metric("cutover_ingest_connected") != 0.0 &&
         std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_EQ(srv_->metric("cutover_ingest_connected"), 0);
  EXPECT_EQ(srv_->metric("cutover_ready"), 0);
  EXPECT_EQ(http_get(srv_->port(), "/readyz").status, 503);
}

TEST_F(Metrics, GrafanaDashboardAndAlertRulesNameOnlyExportedMetrics) {
  auto s = read_metrics(srv_->port());
  const std::string root = CUTOVER_SOURCE_DIR;
  auto dashboard = unit::slurp(root + "/docs/grafana/cutover.json");
  auto doc = boost::json::parse(dashboard).as_object();  // import-ready JSON parses
  ASSERT_TRUE(doc.contains("panels"));
  std::string exprs;
  for (const auto& p : doc.at("panels").as_array())
    for (const auto& t : p.as_object().at("targets").as_array())
      exprs += boost::json::value_to<std::string>(t.as_object().at("expr")) + "\n";
  auto used = metric_names_in(exprs + boost::json::serialize(doc.at("templating")));
  EXPECT_GE(used.size(), 15u);
  for (const auto& n : used) EXPECT_TRUE(exported(s, n)) << "dashboard uses " << n;

  auto rules = unit::slurp(root + "/docs/prometheus/alerts.yml");
  auto in_rules = metric_names_in(rules);
  for (const char* must : {"cutover_ready", "cutover_ingest_lag_milliseconds",
                           "cutover_dead_letters_total", "cutover_store_commit_seconds_bucket"})
    EXPECT_TRUE(in_rules.count(must)) << must;
  for (const auto& n : in_rules) EXPECT_TRUE(exported(s, n)) << "alerts.yml uses " << n;
  // promtool (Debian's prometheus package) checks the rule file's syntax and PromQL.
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    auto cmd = "promtool check rules '" + root + "/docs/prometheus/alerts.yml' >/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
}

// The delivery-latency histogram (issue 18's definition) and the long-poll hold move exactly
// as the traffic says: a WebSocket live delivery, a WebSocket replay (since=0), a long-poll
// woken by an arrival, a long-poll answered from the backlog, and a poll that times out.
TEST(MetricsLatency, DeliveryLatencyAndPollHoldCountEachDeliveryUnderItsLabel) {
  redis_server redis;
  redis.start();
  cutover_server srv(redis, {"--auth", "insecure-query", "--poll-timeout", "300ms"});
  const int port = srv.port();
  auto count = [&](const char* tr, const char* kind) {
    return srv
        .metric(std::string("cutover_delivery_latency_seconds_count{transport=\"") + tr +
                "\",delivery=\"" + kind + "\"}")
        .value_or(-1);
  };
  for (const char* tr : {"websocket", "sse", "longpoll"})
    for (const char* k : {"live", "replay"}) EXPECT_EQ(count(tr, k), 0) << tr << " " << k;
  redis_client rc(redis.port());
  auto publish = [&](const std::string& topic, int i) {
    rc.command({"XADD", "cutover:notifications", "*", "topic", topic, "type", "t", "data",
                "{\"i\":" + std::to_string(i) + "}"});
  };

  // WebSocket, live: the hello first (subscribed), then an arrival.
  {
    testing::raw_ws ws(port, "/v1/ws?user=1");
    ASSERT_EQ(ws.handshake_status(), 101);
    ASSERT_TRUE(ws.next_text());  // hello
    publish("user:1", 1);
    auto n = ws.next_text();
    ASSERT_TRUE(n);
    EXPECT_EQ(testing::json_field(*n, "type"), "notification");
  }
  ASSERT_TRUE(srv.wait_metric_at_least(
      R"(cutover_delivery_latency_seconds_count{transport="websocket",delivery="live"})", 1));
  EXPECT_EQ(count("websocket", "replay"), 0);
  // Measured from the id's time on this machine's clock: well under the 10 s bucket.
  EXPECT_EQ(
      *srv.metric(
          R"(cutover_delivery_latency_seconds_bucket{transport="websocket",delivery="live",le="10"})"),
      1);

  // WebSocket, replay of the stored entry.
  {
    testing::raw_ws ws(port, "/v1/ws?user=1&since=0");
    ASSERT_EQ(ws.handshake_status(), 101);
    ASSERT_TRUE(ws.next_text());  // hello
    ASSERT_TRUE(ws.next_text());  // the notification, read from memory or the store
  }
  ASSERT_TRUE(srv.wait_metric_at_least(
      R"(cutover_delivery_latency_seconds_count{transport="websocket",delivery="replay"})", 1));
  EXPECT_EQ(count("websocket", "live"), 1);

  // Long-poll parked, then woken by an arrival: live, and one hold that ended by arrival.
  testing::http_reply parked;
  std::thread poller([&] { parked = http_get(port, "/api/notifications/poll?user=2"); });
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_waiting_polls", 1));
  publish("user:2", 2);
  poller.join();
  ASSERT_EQ(parked.status, 200);
  ASSERT_NE(parked.body.find("\"i\":2"), std::string::npos) << parked.body;
  ASSERT_TRUE(srv.wait_metric_at_least(
      R"(cutover_delivery_latency_seconds_count{transport="longpoll",delivery="live"})", 1));
  EXPECT_EQ(*srv.metric(R"(cutover_longpoll_hold_seconds_count{outcome="arrival"})"), 1);

  // Long-poll from the backlog: replay; no hold.
  auto backlog = http_get(port, "/api/notifications/poll?user=2&since=0");
  ASSERT_EQ(backlog.status, 200);
  ASSERT_TRUE(srv.wait_metric_at_least(
      R"(cutover_delivery_latency_seconds_count{transport="longpoll",delivery="replay"})", 1));
  EXPECT_EQ(count("longpoll", "live"), 1);
  EXPECT_EQ(*srv.metric(R"(cutover_longpoll_hold_seconds_count{outcome="arrival"})"), 1);

  // A poll with nothing to say parks for --poll-timeout (300 ms) and ends by timeout.
  auto empty = http_get(port, "/api/notifications/poll?user=3");
  EXPECT_EQ(empty.status, 200);
  ASSERT_TRUE(
      srv.wait_metric_at_least(R"(cutover_longpoll_hold_seconds_count{outcome="timeout"})", 1));
  EXPECT_GE(*srv.metric(R"(cutover_longpoll_hold_seconds_sum{outcome="timeout"})"), 0.25);
  EXPECT_EQ(count("sse", "live"), 0);  // nothing went over SSE
  expect_well_formed_histograms(read_metrics(port));
}

}  // namespace
}  // namespace cutover
