// ingest_bench: how fast ingest moves a stream backlog into a fresh store.
//
//   ingest_bench [--entries N] [--redis URL] [--batch N] [--payload BYTES] [--topics N]
//                [--json PATH] [--db PATH]
//
// Starts its own redis-server on a free port (unless --redis), pre-loads N entries
// (default 500,000) with pipelined XADD, then starts ingest into a fresh store and times
// from start() until the listener has seen every entry committed. Prints entries/s and
// writes the figures as JSON with --json.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ingest/ingest.hpp"
#include "redis_server.hpp"

namespace {

using namespace cutover;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "ingest_bench: %s\n", why.c_str());
  std::exit(1);
}

struct bench_opts {
  std::size_t entries = 500'000;
  std::string redis;  // empty: start our own
  std::size_t batch = 1000;
  std::size_t payload = 100;
  std::size_t topics = 1000;
  std::string json_path;
  std::string db;
  // 0: ingest's defaults. For measuring the memory/throughput trade-off.
  std::size_t queue_mb = 0, commit_mb = 0, commit_entries = 0, cache_mb = 0;
};

bench_opts parse_args(int argc, char** argv) {
  bench_opts o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    auto number = [&]() -> std::size_t {
      std::string v = value();
      char* end = nullptr;
      unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0') die(a + ": '" + v + "' is not a number");
      return static_cast<std::size_t>(n);
    };
    if (a == "--entries")
      o.entries = number();
    else if (a == "--redis")
      o.redis = value();
    else if (a == "--batch")
      o.batch = number();
    else if (a == "--payload")
      o.payload = number();
    else if (a == "--topics")
      o.topics = number();
    else if (a == "--json")
      o.json_path = value();
    else if (a == "--db")
      o.db = value();
    else if (a == "--queue-mb")
      o.queue_mb = number();
    else if (a == "--commit-mb")
      o.commit_mb = number();
    else if (a == "--commit-entries")
      o.commit_entries = number();
    else if (a == "--cache-mb")
      o.cache_mb = number();
    else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: ingest_bench [--entries N] [--redis URL] [--batch N] [--payload BYTES] [--topics "
          "N] "
          "[--json PATH] [--db PATH] [--queue-mb N] [--commit-mb N] [--commit-entries N] "
          "[--cache-mb N]\n");
      std::exit(0);
    } else {
      die("unknown argument '" + a + "' (see --help)");
    }
  }
  if (o.entries == 0 || o.batch == 0 || o.topics == 0)
    die("--entries, --batch and --topics must be positive");
  return o;
}

// Counts committed notifications; the main thread waits on it (no polling).
class counting_listener : public commit_listener {
 public:
  void on_committed(const notification_batch& added) override {
    std::lock_guard lk(mu_);
    count_ += added.size();
    cv_.notify_all();
  }
  void on_pruned(const std::map<std::string, stream_id>&) override {}
  bool wait_for_count(std::size_t n, std::chrono::seconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return count_ >= n; });
  }
  std::size_t count() {
    std::lock_guard lk(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t count_ = 0;
};

// CPU time of this process (all threads): the ingest's cost, whatever else the machine runs.
double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// The machine is shared: the figures mean more next to the load they were taken under.
std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one, five, fifteen;
  f >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  bench_opts o = parse_args(argc, argv);
  auto tmp =
      std::filesystem::temp_directory_path() / ("cutover-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);

  // A redis-server of our own unless one is given: the tests' (tests/support), on a free port.
  std::unique_ptr<testing::redis_server> server;
  std::string url = o.redis;
  if (url.empty()) {
    try {
      server = std::make_unique<testing::redis_server>();
    } catch (const std::exception& e) {
      die(e.what());
    }
    url = server->url();
  }
  const std::string stream = "cutover:bench:" + std::to_string(::getpid());

  // ---- pre-load ---------------------------------------------------------------
  auto conn = ingest::redis_connection::connect(
      url, {std::chrono::seconds(5), std::chrono::seconds(30), -1});
  if (!conn) die(conn.err().message);
  {
    auto r = conn->command({"DEL", stream});
    if (!r) die(r.err().message);
  }
  // data is {"n":<i>,"text":"xxx..."}: about --payload bytes in all.
  std::string filler(o.payload > 24 ? o.payload - 24 : 1, 'x');
  std::size_t data_bytes = 0;
  auto t_load = clock_type::now();
  const std::size_t chunk = 1000;
  for (std::size_t base = 0; base < o.entries; base += chunk) {
    std::size_t n = std::min(chunk, o.entries - base);
    std::vector<std::string> topics(n), datas(n);
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t i = base + k;
      topics[k] = "user:" + std::to_string(i % o.topics);
      datas[k] = "{\"n\":" + std::to_string(i) + ",\"text\":\"" + filler + "\"}";
      data_bytes += datas[k].size();
      conn->append(std::initializer_list<std::string_view>{
          "XADD", stream, "*", "topic", topics[k], "type", "bench.event", "data", datas[k]});
    }
    if (auto f = conn->flush(); !f) die(f.err().message);
    for (std::size_t k = 0; k < n; ++k) {
      auto r = conn->receive(std::chrono::seconds(30));
      if (!r) die(r.err().message);
      if (ingest::is_error_reply(r->get()))
        die("XADD: " + std::string(ingest::reply_text(r->get())));
    }
  }
  double load_s = seconds_since(t_load);
  const double avg_data = static_cast<double>(data_bytes) / static_cast<double>(o.entries);
  std::printf(
      "pre-loaded %zu entries (%zu topics, %.0f-byte data on average) in %.2f s (%.0f XADD/s, "
      "pipelined)\n",
      o.entries, o.topics, avg_data, load_s, o.entries / load_s);

  // ---- ingest -----------------------------------------------------------------
  std::string db = o.db.empty() ? (tmp / "bench.db").string() : o.db;
  counting_listener listener;
  ingest::options opt;
  opt.db_path = db;
  opt.redis_url = url;
  opt.streams = {stream};
  opt.batch = o.batch;
  if (o.queue_mb) opt.queue_bytes = o.queue_mb << 20;
  if (o.commit_mb) opt.max_commit_bytes = o.commit_mb << 20;
  if (o.commit_entries) opt.max_commit_entries = o.commit_entries;
  if (o.cache_mb) opt.store_cache_kib = o.cache_mb * 1024;
  opt.log = [](std::string_view) {};  // keep the figures readable
  ingest::ingest ing(opt, listener);
  auto t0 = clock_type::now();
  double cpu0 = process_cpu_seconds();
  if (auto st = ing.start(); !st) die(st.err().message);
  if (!listener.wait_for_count(o.entries, std::chrono::seconds(600)))
    die("timed out: only " + std::to_string(listener.count()) + " of " + std::to_string(o.entries) +
        " committed");
  double ingest_s = seconds_since(t0);
  double cpu_s = process_cpu_seconds() - cpu0;
  auto s = ing.snapshot();
  ing.stop();
  double rate = o.entries / ingest_s;

  std::printf(
      "ingested %zu entries in %.3f s: %.0f notifications/s (batch %zu, %llu transactions, "
      "last commit %.2f ms, dead letters %llu)\n",
      o.entries, ingest_s, rate, o.batch, static_cast<unsigned long long>(s.batches),
      s.last_commit_seconds * 1000, static_cast<unsigned long long>(s.dead_letters));
  std::printf(
      "ingest CPU (reader, writer, checkpointer threads): %.2f s = %.1f us/notification; "
      "load average at the end %s\n",
      cpu_s, cpu_s * 1e6 / static_cast<double>(o.entries), load_average().c_str());
  std::printf("goal >= 100000 notifications/s: %s\n", rate >= 100000 ? "met" : "NOT met");

  if (!o.json_path.empty()) {
    boost::json::object j;
    j["benchmark"] = "ingest";
    j["entries"] = o.entries;
    j["batch"] = o.batch;
    j["data_bytes_avg"] = avg_data;
    j["topics"] = o.topics;
    j["preload_seconds"] = load_s;
    j["ingest_seconds"] = ingest_s;
    j["notifications_per_second"] = rate;
    j["transactions"] = s.batches;
    j["last_commit_seconds"] = s.last_commit_seconds;
    j["cpus"] = std::thread::hardware_concurrency();
    j["ingest_cpu_seconds"] = cpu_s;
    j["load_average"] = load_average();
    std::ofstream f(o.json_path);
    f << boost::json::serialize(j) << "\n";
    if (!f) die("cannot write " + o.json_path);
  }

  if (server == nullptr) (void)conn->command({"DEL", stream});
  server.reset();
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  return 0;
}
