// soak: proves delivery under faults (issue 7). Starts one redis-server (AOF, fsync
// always) and two `cutover serve` instances on it (separate SQLite files); publishers XADD
// numbered notifications per topic at a steady rate; clients read them on both transports
// while a fault schedule kills, stops and restarts things; then every client's ledger is
// checked: everything of its topics received, in order, at most once.
//
//   soak [--duration 90s] [--rate 100] [--fault-every 5s] [--drain 60s] [--seed N] ...
//
// Exit 0: no client lost, duplicated or reordered anything and both stores hold every
// notification exactly once; 1: any of that failed; 2: usage or setup error.
//
// Threads: publishers (1), one per client, one for the fault schedule, and main (which
// watches the clock, then drains, checks and reports). Each thread owns its sockets.

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "child_process.hpp"
#include "core/cursor.hpp"
#include "core/duration.hpp"
#include "ledger.hpp"
#include "store/sqlite.hpp"
#include "subprocess.hpp"
#include "wire.hpp"

namespace cutover::soak {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

struct options {
  ms duration = 90s;        // publishing (and faults) for this long
  double rate = 100;        // notifications per second, all topics together
  double pubsub_rate = 20;  // PUBLISH per second on topic "pubsub" (0: none), bridged by --pubsub
  int users = 4;            // topics user:0..N-1, plus the shared topic "all"
  int ws_clients = 3;       // WebSocket clients that disconnect at random
  int pollers = 1;          // legacy pollers alternating between the instances
  int slow_clients = 1;     // WebSocket clients that stop reading for seconds
  ms fault_every = 5s;      // one fault per period, cycling through the kinds
  ms drain = 60s;           // after publishing stops, how long clients get to catch up
  std::uint32_t seed = 0;   // 0: random
  std::string cutover_bin = CUTOVER_BIN;
  std::string redis_bin = "redis-server";
  std::string dir;    // work dir (logs, stores, AOF); default a fresh temp dir
  bool keep = false;  // keep the work dir
};

double seconds_since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

clock::time_point g_t0 = clock::now();
std::mutex g_print_mu;

template <class... A>
void say(const char* fmt, A... args) {
  std::lock_guard lk(g_print_mu);
  std::printf("[%7.2fs] ", seconds_since(g_t0));
  std::printf(fmt, args...);
  std::printf("\n");
  std::fflush(stdout);
}

// ---- Redis commands from the soak itself ------------------------------------------

struct redis_free {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct reply_free {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using redis_ptr = std::unique_ptr<redisContext, redis_free>;
using reply_ptr = std::unique_ptr<redisReply, reply_free>;

redis_ptr redis_connect(int port) {
  timeval tv{2, 0};
  redis_ptr c(redisConnectWithTimeout("127.0.0.1", port, tv));
  if (!c || c->err) return nullptr;
  redisSetTimeout(c.get(), tv);
  return c;
}

reply_ptr redis_command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  return reply_ptr(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data())));
}

// ---- the cluster: redis-server and two Cutover instances ---------------------------

struct instance {
  std::string name;
  int port = 0;
  std::string db;
  std::unique_ptr<child_process> proc;
};

class cluster {
 public:
  explicit cluster(const options& o) : dir_(o.dir) {
    redis_port_ = testing::free_port();
    redis_ = std::make_unique<child_process>(
        "redis",
        std::vector<std::string>{o.redis_bin, "--port", std::to_string(redis_port_), "--bind",
                                 "127.0.0.1", "--dir", dir_, "--save", "", "--appendonly", "yes",
                                 "--appendfsync", "always", "--daemonize", "no", "--protected-mode",
                                 "no"},
        dir_ + "/redis.log");
    for (const char* name : {"a", "b"}) {
      instance in;
      in.name = std::string("cutover-") + name;
      in.port = testing::free_port();
      in.db = dir_ + "/" + in.name + ".db";
      // Retention off: a client away for a while must still find everything (a reset
      // would be a loss the checker cannot tell apart). Small queues: the slow consumer
      // must really go through catch-up.
      in.proc = std::make_unique<child_process>(
          in.name,
          std::vector<std::string>{o.cutover_bin,
                                   "serve",
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(in.port),
                                   "--db",
                                   in.db,
                                   "--redis",
                                   "redis://127.0.0.1:" + std::to_string(redis_port_),
                                   "--auth",
                                   "insecure-query",
                                   "--shared-topic",
                                   "all",
                                   "--poll-timeout",
                                   "2s",
                                   "--retain-age",
                                   "0",
                                   "--retain-per-topic",
                                   "0",
                                   "--ws-queue-bytes",
                                   "8192",
                                   "--stall-timeout",
                                   "20s",
                                   "--threads",
                                   "1",
                                   "--store-readers",
                                   "1",
                                   "--pubsub",
                                   "--pubsub-lock-ttl",
                                   "1s"},
          dir_ + "/" + in.name + ".log");
      instances_.push_back(std::move(in));
    }
  }

  bool start_redis() { return redis_->start("Ready to accept connections", 20s); }
  bool start_instance(std::size_t i) {
    return instances_[i].proc->start("cutover: listening on", 30s);
  }
  bool start_all() {
    if (!start_redis()) return false;
    for (std::size_t i = 0; i < instances_.size(); ++i)
      if (!start_instance(i)) return false;
    return true;
  }

  int redis_port() const { return redis_port_; }
  child_process& redis() { return *redis_; }
  std::vector<instance>& instances() { return instances_; }
  int port(std::size_t i) const { return instances_[i].port; }

 private:
  std::string dir_;
  int redis_port_ = 0;
  std::unique_ptr<child_process> redis_;
  std::vector<instance> instances_;
};

// ---- publishers ---------------------------------------------------------------------

// Publishes {"t":topic,"s":seq} with idempotency key topic#seq: a retry after a lost
// reply (Redis killed between applying and answering) is then stored once.
class publisher {
 public:
  publisher(int redis_port, std::vector<std::string> topics, double rate)
      : port_(redis_port), topics_(std::move(topics)), rate_(rate) {}

  void run(const std::atomic<bool>& stop) {
    auto period =
        std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate_));
    auto next = clock::now();
    std::size_t turn = 0;
    while (!stop.load()) {
      const std::string& topic = topics_[turn++ % topics_.size()];
      std::uint64_t seq;
      {
        std::lock_guard lk(mu_);
        seq = published_[topic] + 1;
      }
      // Padded so a paused reader overflows the kernel's socket buffers within seconds and
      // the server's own queue has to give way to catching up from the store.
      std::string data =
          R"({"t":")" + topic + R"(","s":)" + std::to_string(seq) + R"(,"p":")" + pad_ + "\"}";
      std::string key = topic + "#" + std::to_string(seq);
      // Until Redis acknowledges it, whatever the faults.
      while (true) {
        if (!conn_) conn_ = redis_connect(port_);
        if (conn_) {
          auto r = redis_command(conn_.get(), {"XADD", "cutover:notifications", "*", "topic", topic,
                                               "type", "soak", "data", data, "key", key});
          if (r && r->type == REDIS_REPLY_STRING) break;
          if (!r || conn_->err) conn_.reset();
          ++retries_;
        }
        std::this_thread::sleep_for(50ms);
      }
      {
        std::lock_guard lk(mu_);
        published_[topic] = seq;
      }
      next += period;
      auto now = clock::now();
      if (next < now) next = now;  // behind after a fault: carry on at the rate, no burst
      std::this_thread::sleep_until(next);
    }
  }

  published_counts published() const {
    std::lock_guard lk(mu_);
    return published_;
  }
  std::uint64_t retries() const { return retries_.load(); }

 private:
  int port_;
  std::vector<std::string> topics_;
  double rate_;
  std::string pad_ = std::string(384, '.');
  redis_ptr conn_;
  mutable std::mutex mu_;
  published_counts published_;
  std::atomic<std::uint64_t> retries_{0};
};

// PUBLISHes {"t":"pubsub","s":seq} on cutover:topic:pubsub, next to the stream
// publisher: the instances' bridge copies them into the stream. Pub/sub keeps nothing, so
// a message is sent once (no retry) and Redis's answer says whether a subscriber (a
// bridge) received it: the checker tells messages no bridge received, or a bridge received
// during a fault or handover and could not copy, from real losses and duplicates.
class pubsub_publisher {
 public:
  pubsub_publisher(int redis_port, double rate) : port_(redis_port), rate_(rate) {}

  void run(const std::atomic<bool>& stop) {
    if (rate_ <= 0) return;
    auto period =
        std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate_));
    auto next = clock::now();
    while (!stop.load()) {
      if (!conn_) conn_ = redis_connect(port_);
      std::uint64_t seq = receivers_.size() + 1;
      long long got = -1;  // -1: not sent (Redis down)
      if (conn_) {
        std::string data = R"({"t":"pubsub","s":)" + std::to_string(seq) + "}";
        auto r = redis_command(conn_.get(), {"PUBLISH", "cutover:topic:pubsub", data});
        if (r && r->type == REDIS_REPLY_INTEGER) got = r->integer;
        if (!r || conn_->err) conn_.reset();
      }
      {
        std::lock_guard lk(mu_);
        receivers_.push_back(got);
      }
      next += period;
      auto now = clock::now();
      if (next < now) next = now;
      std::this_thread::sleep_until(next);
    }
  }
  // Per seq (index + 1): how many subscribers Redis delivered it to (-1: not sent).
  std::vector<long long> receivers() const {
    std::lock_guard lk(mu_);
    return receivers_;
  }

 private:
  int port_;
  double rate_;
  redis_ptr conn_;
  mutable std::mutex mu_;
  std::vector<long long> receivers_;
};

// ---- clients ------------------------------------------------------------------------

// {"t":topic,"s":seq} -> (topic, seq)
bool read_payload(const boost::json::value& v, std::string& topic, std::uint64_t& seq) {
  if (!v.is_object()) return false;
  const auto* t = v.as_object().if_contains("t");
  const auto* s = v.as_object().if_contains("s");
  if (!t || !s || !t->is_string() || !(s->is_int64() || s->is_uint64())) return false;
  topic = std::string(t->as_string());
  seq = s->is_uint64() ? s->as_uint64() : static_cast<std::uint64_t>(s->as_int64());
  return true;
}

class ws_reader {
 public:
  enum class kind { random_disconnects, slow };
  ws_reader(ledger& l, std::string user, const std::vector<int>& ports, kind k, std::uint32_t seed)
      : ledger_(l), user_(std::move(user)), ports_(ports), kind_(k), rng_(seed) {}

  void run(const std::atomic<bool>& stop) {
    std::optional<stream_id> cursor;
    while (!stop.load()) {
      int port = ports_[rng_() % ports_.size()];
      // Resume by cursor: mostly the stream id, sometimes the legacyId of the same
      // position (exact unless it is a tail value, which would skip the rest of a tail).
      std::string since = "0";
      if (cursor) {
        bool legacy = rng_() % 3 == 0 && cursor->seq < stream_id::kLegacyTail;
        since = legacy ? std::to_string(cursor->legacy_id()) : cursor->str();
      }
      ws_client ws;
      int rcvbuf = kind_ == kind::slow ? 4096 : 0;
      if (!ws.open(port, "/v1/ws?user=" + user_ + "&since=" + since, 3s, rcvbuf)) {
        std::this_thread::sleep_for(100ms);  // that instance is down or stopped: try again
        continue;
      }
      session(ws, cursor, stop);
      ledger_.count_reconnect();
    }
  }

 private:
  void session(ws_client& ws, std::optional<stream_id>& cursor, const std::atomic<bool>& stop) {
    std::exponential_distribution<double> life(1.0 / 4.0);  // mean 4 s per connection
    auto until = clock::now() + std::chrono::duration_cast<clock::duration>(
                                    std::chrono::duration<double>(life(rng_)));
    auto next_pause = clock::now() + std::chrono::seconds(2 + rng_() % 6);
    auto last_rx = clock::now();
    while (!stop.load()) {
      if (kind_ == kind::random_disconnects && clock::now() >= until)
        return;  // drop it, mid-stream
      if (kind_ == kind::slow && clock::now() >= next_pause) {
        // Stop reading for seconds: the server's queue fills and it must catch up from
        // the store instead of dropping anything.
        std::this_thread::sleep_for(std::chrono::seconds(4 + rng_() % 6));
        next_pause = clock::now() + std::chrono::seconds(2 + rng_() % 6);
      }
      auto f = ws.next(clock::now() + 100ms);
      if (f.opcode == -2 || f.opcode == 8) return;  // gone (killed instance) or closed
      if (f.opcode == -1) {
        if (clock::now() - last_rx > 30s) return;  // silent far too long: go elsewhere
        continue;
      }
      last_rx = clock::now();
      if (f.opcode != 1) continue;
      boost::json::error_code ec;
      auto v = boost::json::parse(f.payload, ec);
      if (ec || !v.is_object()) {
        ledger_.count_error();
        continue;
      }
      const auto* type = v.as_object().if_contains("type");
      std::string_view t = type && type->is_string() ? std::string_view(type->as_string()) : "";
      if (t == "notification") {
        const auto* id = v.as_object().if_contains("id");
        const auto* data = v.as_object().if_contains("data");
        std::string topic;
        std::uint64_t seq = 0;
        auto sid = id && id->is_string() ? parse_stream_id(std::string_view(id->as_string()))
                                         : std::nullopt;
        if (!sid || !data || !read_payload(*data, topic, seq)) {
          ledger_.count_error();
          continue;
        }
        ledger_.record(topic, seq, *sid, false);
        cursor = *sid;
      } else if (t == "reset") {
        ledger_.count_reset();
      } else if (t == "error") {
        ledger_.count_error();
      }
    }
  }

  ledger& ledger_;
  std::string user_;
  std::vector<int> ports_;
  kind kind_;
  std::mt19937 rng_;
};

// The legacy client: follows lastId, and asks the other instance every time.
class poller {
 public:
  poller(ledger& l, std::string user, const std::vector<int>& ports)
      : ledger_(l), user_(std::move(user)), ports_(ports) {}

  void run(const std::atomic<bool>& stop) {
    std::uint64_t since = 0;
    std::size_t turn = 0;
    while (!stop.load()) {
      int port = ports_[turn++ % ports_.size()];
      auto a = http_get(
          port, "/api/notifications/poll?user=" + user_ + "&since=" + std::to_string(since), 15s);
      if (a.status == 0) {
        ledger_.count_reconnect();
        std::this_thread::sleep_for(50ms);
        continue;
      }
      if (a.status == 503) {
        std::this_thread::sleep_for(200ms);
        continue;
      }
      boost::json::error_code ec;
      auto v = boost::json::parse(a.body, ec);
      if (a.status != 200 || ec || !v.is_object()) {
        ledger_.count_error();
        continue;
      }
      const auto& body = v.as_object();
      if (const auto* r = body.if_contains("reset"); r && r->is_bool() && r->as_bool())
        ledger_.count_reset();
      const auto* list = body.if_contains("notifications");
      if (list && list->is_array()) {
        for (const auto& n : list->as_array()) {
          const auto* id = n.is_object() ? n.as_object().if_contains("id") : nullptr;
          const auto* payload = n.is_object() ? n.as_object().if_contains("payload") : nullptr;
          std::string topic;
          std::uint64_t seq = 0;
          if (!id || !id->is_number() || !payload || !read_payload(*payload, topic, seq)) {
            ledger_.count_error();
            continue;
          }
          auto legacy = id->to_number<std::uint64_t>();
          ledger_.record(topic, seq, {legacy / 1024, legacy % 1024},
                         legacy % 1024 == stream_id::kLegacyTail);
        }
      }
      if (const auto* last = body.if_contains("lastId"); last && last->is_number())
        since = last->to_number<std::uint64_t>();
    }
  }

 private:
  ledger& ledger_;
  std::string user_;
  std::vector<int> ports_;
};

// ---- faults -------------------------------------------------------------------------

struct fault_counts {
  int instance_kills = 0, instance_stops = 0, redis_restarts = 0, client_kills = 0, bad_bursts = 0;
  int held_commit_kills = 0;   // SIGKILL while the store's write lock was held elsewhere
  double held_deliveries = 0;  // WebSocket and poll deliveries meanwhile (the proof it delivered)
  double held_commits = 0;     // entries committed meanwhile (0: the lock held)
  std::uint64_t connections_killed = 0;
  std::uint64_t bad_entries =
      0;                // acknowledged bad XADDs: each must be a dead letter in each store
  bool broken = false;  // something could not be restarted
};

std::optional<double> scrape(int port, const std::string& sample);  // below

class fault_schedule {
 public:
  fault_schedule(cluster& c, const options& o, std::uint32_t seed) : c_(c), o_(o), rng_(seed) {}

  void run(const std::atomic<bool>& stop) {
    int turn = 0;
    auto next = clock::now() + o_.fault_every;
    while (!stop.load() && !counts_.broken) {
      if (clock::now() < next) {
        std::this_thread::sleep_for(50ms);
        continue;
      }
      next += o_.fault_every;
      switch (turn++ % 6) {
        case 0:
          kill_instance();
          break;
        case 5:
          kill_with_commit_held();
          break;
        case 1:
          stop_instance();
          break;
        case 2:
          restart_redis();
          break;
        case 3:
          client_kill();
          break;
        default:
          bad_burst();
          break;
      }
    }
  }
  const fault_counts& counts() const { return counts_; }

 private:
  ms between(int lo, int hi) {
    return ms(lo + static_cast<int>(rng_() % static_cast<unsigned>(hi - lo + 1)));
  }

  // Starts a killed instance again; false (and the run marked broken) when it does not listen.
  template <class Instance>
  bool restart(Instance& in) {
    if (in.proc->start("cutover: listening on", 30s)) return true;
    say("fault: %s could not be restarted (see %s)", in.name.c_str(), in.proc->log_path().c_str());
    counts_.broken = true;
    return false;
  }

  void kill_instance() {
    auto& in = c_.instances()[rng_() % c_.instances().size()];
    in.proc->kill();
    auto down = between(200, 1500);
    std::this_thread::sleep_for(down);
    auto t = clock::now();
    if (!restart(in)) return;
    ++counts_.instance_kills;
    say("fault: SIGKILL %s, down %lld ms, listening again %.0f ms after restart", in.name.c_str(),
        static_cast<long long>(down.count()),
        std::chrono::duration<double, std::milli>(clock::now() - t).count());
  }

  // Issue 18: entries are delivered before their commit. Another connection holds the store's
  // write lock (BEGIN IMMEDIATE), so the instance delivers what it reads but cannot commit it;
  // then it is killed. Its restart re-reads those entries with the same ids from Redis, and
  // clients that were given them come back with cursors ahead of its store.
  void kill_with_commit_held() {
    auto& in = c_.instances()[rng_() % c_.instances().size()];
    auto h = store::sql::open(in.db, store::sql::open_mode::existing);
    if (!h || !store::sql::exec(h->get(), "BEGIN IMMEDIATE", "hold the write lock")) {
      say("fault: could not take the write lock of %s; skipped", in.db.c_str());
      return;
    }
    auto delivered = [&] {
      auto ws = scrape(in.port, "cutover_deliveries_total{transport=\"websocket\"}");
      auto lp = scrape(in.port, "cutover_deliveries_total{transport=\"longpoll\"}");
      return ws && lp ? std::optional<double>(*ws + *lp) : std::nullopt;
    };
    auto d0 = delivered();
    auto e0 = scrape(in.port, "cutover_ingest_entries_total");
    auto held = between(500, 2500);
    std::this_thread::sleep_for(held);
    auto d1 = delivered();
    auto e1 = scrape(in.port, "cutover_ingest_entries_total");
    double n_delivered = d0 && d1 ? *d1 - *d0 : 0, n_committed = e0 && e1 ? *e1 - *e0 : 0;
    in.proc->kill();
    (void)store::sql::exec(h->get(), "ROLLBACK", "release the write lock");
    h->reset();
    auto t = clock::now();
    if (!restart(in)) return;
    ++counts_.held_commit_kills;
    counts_.held_deliveries += n_delivered;
    counts_.held_commits += n_committed;
    say("fault: write lock of %s held %lld ms: %.0f deliveries, %.0f commits meanwhile; SIGKILL, "
        "listening again %.0f ms after restart",
        in.name.c_str(), static_cast<long long>(held.count()), n_delivered, n_committed,
        std::chrono::duration<double, std::milli>(clock::now() - t).count());
  }

  void stop_instance() {
    auto& in = c_.instances()[rng_() % c_.instances().size()];
    auto held = between(1000, 4000);
    in.proc->signal(SIGSTOP);
    std::this_thread::sleep_for(held);
    in.proc->signal(SIGCONT);
    ++counts_.instance_stops;
    say("fault: SIGSTOP %s for %lld ms, then SIGCONT", in.name.c_str(),
        static_cast<long long>(held.count()));
  }

  void restart_redis() {
    // Alternately a clean shutdown and a crash: with appendfsync always, neither may lose
    // an acknowledged XADD.
    bool crash = counts_.redis_restarts % 2 == 0;
    if (crash) {
      c_.redis().kill();
    } else {
      c_.redis().terminate(10s);
    }
    auto down = between(300, 2000);
    std::this_thread::sleep_for(down);
    if (!c_.start_redis()) {
      say("fault: redis-server could not be restarted (see %s)", c_.redis().log_path().c_str());
      counts_.broken = true;
      return;
    }
    ++counts_.redis_restarts;
    say("fault: redis-server %s, down %lld ms, restarted", crash ? "SIGKILL" : "SIGTERM",
        static_cast<long long>(down.count()));
  }

  void client_kill() {
    // The ingest connections are the ones reading the stream (XREAD, XINFO): kill those,
    // not the publishers.
    auto c = redis_connect(c_.redis_port());
    if (!c) return;
    auto list = redis_command(c.get(), {"CLIENT", "LIST"});
    if (!list || list->type != REDIS_REPLY_STRING) return;
    std::string text(list->str, list->len);
    std::uint64_t killed = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto end = text.find('\n', pos);
      std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? text.size() : end + 1;
      bool ingest = line.find(" cmd=xread") != std::string::npos ||
                    line.find(" cmd=xinfo") != std::string::npos;
      auto id_at = line.find("id=");
      if (!ingest || id_at != 0) continue;
      std::string id = line.substr(3, line.find(' ') - 3);
      auto r = redis_command(c.get(), {"CLIENT", "KILL", "ID", id});
      if (r && r->type == REDIS_REPLY_INTEGER) killed += static_cast<std::uint64_t>(r->integer);
    }
    ++counts_.client_kills;
    counts_.connections_killed += killed;
    say("fault: CLIENT KILL of %llu ingest connection(s)", static_cast<unsigned long long>(killed));
  }

  void bad_burst() {
    auto c = redis_connect(c_.redis_port());
    if (!c) return;
    std::uint64_t n = 20 + rng_() % 80, ok = 0;
    std::string big(70 * 1024, 'x');  // over the default --max-payload of 64 KiB
    for (std::uint64_t i = 0; i < n; ++i) {
      std::vector<std::string> argv = {"XADD", "cutover:notifications", "*"};
      switch (i % 6) {
        case 0:
          argv.insert(argv.end(), {"data", "1"});
          break;  // no topic
        case 1:
          argv.insert(argv.end(), {"topic", "user:0"});
          break;  // no data
        case 2:
          argv.insert(argv.end(), {"topic", "user:0", "data", "{not json"});
          break;  // bad JSON
        case 3:
          argv.insert(argv.end(), {"topic", "user:\xff", "data", "1"});
          break;  // not UTF-8
        case 4:
          argv.insert(argv.end(), {"topic", "user:0", "data", "\"" + big + "\""});
          break;  // too big
        default:
          argv.insert(argv.end(), {"topic", "user:0", "key", "", "data", "1"});
          break;  // empty key
      }
      auto r = redis_command(c.get(), argv);
      if (r && r->type == REDIS_REPLY_STRING) ++ok;
    }
    ++counts_.bad_bursts;
    counts_.bad_entries += ok;
    say("fault: burst of %llu bad entries", static_cast<unsigned long long>(ok));
  }

  cluster& c_;
  const options& o_;
  std::mt19937 rng_;
  fault_counts counts_;
};

// ---- the stores afterwards ----------------------------------------------------------

struct store_check {
  std::uint64_t notifications = 0, dead_letters = 0, missing = 0, extra = 0;
  // Pub/sub messages: stored, stored twice (a failure), and missing although a bridge
  // received them (lost in a fault or a bridge handover, counted apart).
  std::uint64_t pubsub_stored = 0, pubsub_dup = 0, pubsub_missed = 0;
  std::vector<int> pubsub_seen;
  bool ok = false;
  std::string error;
};

// Each store must hold every acknowledged notification exactly once, and every bad entry
// as one dead letter.
store_check check_store(const std::string& path, const published_counts& published,
                        std::uint64_t bad_entries, const std::vector<long long>& pubsub) {
  store_check out;
  auto db = store::sql::open(path, store::sql::open_mode::existing);
  if (!db) {
    out.error = db.err().message;
    return out;
  }
  std::map<std::string, std::vector<int>> seen;
  for (const auto& [t, n] : published) seen[t].assign(n + 1, 0);
  out.pubsub_seen.assign(pubsub.size() + 1, 0);
  auto s = store::sql::statement::prepare(db->get(), "SELECT data FROM notifications");
  while (s && s->step() == SQLITE_ROW) {
    ++out.notifications;
    boost::json::error_code ec;
    auto v = boost::json::parse(s->text(0), ec);
    std::string topic;
    std::uint64_t seq = 0;
    if (!ec && read_payload(v, topic, seq) && topic == "pubsub" && seq >= 1 &&
        seq < out.pubsub_seen.size()) {
      if (++out.pubsub_seen[seq] > 1)
        ++out.pubsub_dup;
      else
        ++out.pubsub_stored;
      continue;
    }
    if (ec || !read_payload(v, topic, seq) || !seen.count(topic) || seq >= seen[topic].size()) {
      ++out.extra;
      continue;
    }
    if (++seen[topic][seq] > 1) ++out.extra;
  }
  for (const auto& [t, v] : seen)
    for (std::size_t i = 1; i < v.size(); ++i) out.missing += v[i] == 0;
  auto d = store::sql::statement::prepare(db->get(), "SELECT count(*) FROM dead_letters");
  if (d && d->step() == SQLITE_ROW) out.dead_letters = static_cast<std::uint64_t>(d->int64(0));
  for (std::size_t i = 1; i < out.pubsub_seen.size(); ++i)
    out.pubsub_missed += out.pubsub_seen[i] == 0 && pubsub[i - 1] > 0;
  out.ok =
      out.missing == 0 && out.extra == 0 && out.dead_letters == bad_entries && out.pubsub_dup == 0;
  return out;
}

// The checker must be able to fail: run it on sequences with a known verdict first.
bool ledger_self_test() {
  published_counts pub{{"user:0", 3}, {"all", 1}};
  auto run = [&](bool tail,
                 std::initializer_list<std::pair<std::uint64_t, std::uint64_t>> arrivals) {
    ledger l("self-test", "test", {"user:0", "all"});
    for (auto [seq, at] : arrivals)
      l.record(seq == 9 ? "all" : "user:0", seq == 9 ? 1 : seq, {at, 0}, tail);
    return l.summarise(pub);
  };
  auto good = run(false, {{1, 1}, {9, 2}, {2, 3}, {3, 4}});
  auto lost = run(false, {{1, 1}, {9, 2}, {3, 4}});
  auto dup = run(false, {{1, 1}, {9, 2}, {2, 3}, {2, 3}, {3, 4}});
  auto reordered = run(false, {{1, 1}, {9, 2}, {3, 3}, {2, 4}});
  auto tail = run(true, {{1, 1}, {9, 2}, {2, 3}, {2, 3}, {3, 3}});
  return good.clean() && good.received == 4 && lost.lost == 1 && !lost.clean() &&
         dup.duplicated == 1 && !dup.clean() && reordered.reordered == 1 && !reordered.clean() &&
         tail.tail_duplicated == 1 && tail.clean();
}

// One counter of an instance's /metrics, or nullopt when it does not answer (down, stopped).
std::optional<double> scrape(int port, const std::string& sample) {
  auto a = http_get(port, "/metrics", 1s);
  if (a.status != 200) return std::nullopt;
  auto at = a.body.find("\n" + sample + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(a.body.c_str() + at + sample.size() + 2, nullptr);
}

// Sums a counter over a run in which instances restart (and start counting from zero).
class counter_total {
 public:
  explicit counter_total(std::string sample) : sample_(std::move(sample)) {}
  void sample(std::size_t instance, int port) {
    auto v = scrape(port, sample_);
    if (!v) return;
    double& last = last_[instance];
    total_ += *v >= last ? *v - last : *v;  // lower: the instance restarted
    last = *v;
  }
  double total() const { return total_; }

 private:
  std::string sample_;
  std::map<std::size_t, double> last_;
  double total_ = 0;
};

// A few counters of an instance, to show which paths a run went through (they restart
// from zero when the instance does).
std::string instance_counters(int port) {
  auto a = http_get(port, "/metrics", 5s);
  if (a.status != 200) return "metrics unavailable";
  auto value = [&](const std::string& sample) {
    auto at = a.body.find("\n" + sample + " ");
    return at == std::string::npos
               ? std::string("?")
               : a.body.substr(at + sample.size() + 2,
                               a.body.find('\n', at + 1) - at - sample.size() - 2);
  };
  return "slow-consumer catch-ups " + value("cutover_ws_slow_consumer_total") +
         ", ingest reconnects " + value("cutover_ingest_reconnects_total") + ", commit failures " +
         value("cutover_ingest_commit_failures_total") + ", websocket deliveries " +
         value("cutover_deliveries_total{transport=\"websocket\"}") + ", poll deliveries " +
         value("cutover_deliveries_total{transport=\"longpoll\"}") + " (since its last restart)";
}

// ---- main ---------------------------------------------------------------------------

int run(options o) {
  if (!ledger_self_test()) {
    std::fprintf(stderr, "soak: the checker's self-test failed: it would not notice losses\n");
    return 2;
  }
  std::uint32_t seed = o.seed ? o.seed : std::random_device{}();
  bool made_dir = o.dir.empty();
  if (made_dir) {
    char tmpl[] = "/tmp/cutover-soak-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      std::fprintf(stderr, "soak: cannot create a work dir\n");
      return 2;
    }
    o.dir = tmpl;
  }
  std::filesystem::create_directories(o.dir);
  say("soak: seed %u, work dir %s, %.0f notifications/s for %.0f s, a fault every %.1f s", seed,
      o.dir.c_str(), o.rate, std::chrono::duration<double>(o.duration).count(),
      std::chrono::duration<double>(o.fault_every).count());

  // Ports are picked free a moment before use; another program may take one meanwhile,
  // so a failed first start is tried again on fresh ports.
  std::unique_ptr<cluster> started_cluster;
  for (int attempt = 0; attempt < 3 && !started_cluster; ++attempt) {
    auto candidate = std::make_unique<cluster>(o);
    if (candidate->start_all()) started_cluster = std::move(candidate);
  }
  if (!started_cluster) {
    std::fprintf(stderr,
                 "soak: could not start redis-server and two cutover instances; logs in %s\n",
                 o.dir.c_str());
    return 2;
  }
  cluster& c = *started_cluster;
  std::vector<int> ports = {c.port(0), c.port(1)};

  std::vector<std::string> topics;
  for (int u = 0; u < o.users; ++u) topics.push_back("user:" + std::to_string(u));
  topics.push_back("all");
  publisher pub(c.redis_port(), topics, o.rate);
  pubsub_publisher pubsub(c.redis_port(), o.pubsub_rate);

  // Clients: users are shared round robin, so a user's tabs may be on both transports.
  std::vector<std::unique_ptr<ledger>> ledgers;
  std::vector<std::unique_ptr<ws_reader>> ws_readers;
  std::vector<std::unique_ptr<poller>> pollers;
  int next_user = 0;
  auto make_ledger = [&](const std::string& name,
                         const std::string& transport) -> std::pair<ledger*, std::string> {
    std::string user = std::to_string(next_user++ % o.users);
    ledgers.push_back(
        std::make_unique<ledger>(name, transport, std::vector<std::string>{"user:" + user, "all"}));
    return {ledgers.back().get(), user};
  };
  for (int i = 0; i < o.ws_clients; ++i) {
    auto [l, user] = make_ledger("ws-" + std::to_string(i), "websocket");
    ws_readers.push_back(std::make_unique<ws_reader>(
        *l, user, ports, ws_reader::kind::random_disconnects, seed + 100 + i));
  }
  for (int i = 0; i < o.slow_clients; ++i) {
    auto [l, user] = make_ledger("slow-" + std::to_string(i), "websocket");
    ws_readers.push_back(
        std::make_unique<ws_reader>(*l, user, ports, ws_reader::kind::slow, seed + 200 + i));
  }
  for (int i = 0; i < o.pollers; ++i) {
    auto [l, user] = make_ledger("poll-" + std::to_string(i), "longpoll");
    pollers.push_back(std::make_unique<poller>(*l, user, ports));
  }

  std::atomic<bool> stop_clients{false}, stop_publishing{false}, stop_faults{false};
  std::vector<std::thread> client_threads;
  for (auto& r : ws_readers)
    client_threads.emplace_back([&r, &stop_clients] { r->run(stop_clients); });
  for (auto& p : pollers)
    client_threads.emplace_back([&p, &stop_clients] { p->run(stop_clients); });
  std::thread publishing([&] { pub.run(stop_publishing); });
  std::thread pubsub_publishing([&] { pubsub.run(stop_publishing); });
  fault_schedule faults(c, o, seed);
  std::thread fault_thread([&] { faults.run(stop_faults); });

  // Once a second: how often sessions fell back to catching up from the store, so the
  // report shows the slow consumer really took that path.
  counter_total catch_ups("cutover_ws_slow_consumer_total");
  auto started = clock::now();
  auto next_scrape = started;
  while (clock::now() - started < o.duration && !faults.counts().broken) {
    if (clock::now() >= next_scrape) {
      for (std::size_t i = 0; i < c.instances().size(); ++i) catch_ups.sample(i, c.port(i));
      next_scrape += 1s;
    }
    std::this_thread::sleep_for(100ms);
  }
  stop_faults = true;
  fault_thread.join();  // the fault in progress finishes: everything is up again
  stop_publishing = true;
  publishing.join();
  pubsub_publishing.join();
  auto published = pub.published();
  auto pubsub_sent = pubsub.receivers();
  std::uint64_t total = 0;
  for (const auto& [t, n] : published) total += n;
  say("soak: publishing stopped: %llu notifications acknowledged by Redis (%llu publisher "
      "retries); draining",
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(pub.retries()));

  auto drain_start = clock::now();
  auto all_complete = [&] {
    for (const auto& l : ledgers)
      if (!l->complete(published)) return false;
    return true;
  };
  while (!all_complete() && clock::now() - drain_start < o.drain)
    std::this_thread::sleep_for(100ms);
  for (std::size_t i = 0; i < c.instances().size(); ++i) catch_ups.sample(i, c.port(i));
  double drained = seconds_since(drain_start);
  stop_clients = true;
  for (auto& t : client_threads) t.join();

  std::vector<std::string> counters;
  for (std::size_t i = 0; i < c.instances().size(); ++i)
    counters.push_back(instance_counters(c.port(i)));
  // Clean shutdown of both instances (exit 0 expected), then look inside their stores.
  std::vector<std::optional<int>> exits;
  for (auto& in : c.instances()) exits.push_back(in.proc->terminate(10s));
  const auto& fc = faults.counts();

  bool ok = !fc.broken;
  std::printf("\n%-8s %-10s %-7s %9s %6s %6s %9s %9s %7s %7s %10s\n", "client", "transport", "user",
              "received", "lost", "dup", "tail-dup", "reordered", "resets", "errors", "reconnects");
  for (const auto& l : ledgers) {
    auto s = l->summarise(published);
    ok = ok && s.clean();
    std::printf(
        "%-8s %-10s %-7s %9llu %6llu %6llu %9llu %9llu %7llu %7llu %10llu%s\n", l->client().c_str(),
        l->transport().c_str(), l->topics()[0].c_str(), static_cast<unsigned long long>(s.received),
        static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.duplicated),
        static_cast<unsigned long long>(s.tail_duplicated),
        static_cast<unsigned long long>(s.reordered), static_cast<unsigned long long>(s.resets),
        static_cast<unsigned long long>(s.errors), static_cast<unsigned long long>(s.reconnects),
        s.clean() ? "" : "   <-- FAILED");
  }
  std::printf("\npublished: %llu notifications in %zu topics over %.0f s (drain took %.1f s)\n",
              static_cast<unsigned long long>(total), published.size(),
              std::chrono::duration<double>(o.duration).count(), drained);
  std::printf(
      "faults: %d instance SIGKILL+restart, %d SIGKILL with the commit held (%.0f deliveries, %.0f "
      "commits while held), %d SIGSTOP/SIGCONT, %d redis restarts, %d CLIENT KILL (%llu "
      "connections), %d bad-entry bursts (%llu entries)\n",
      fc.instance_kills, fc.held_commit_kills, fc.held_deliveries, fc.held_commits,
      fc.instance_stops, fc.redis_restarts, fc.client_kills,
      static_cast<unsigned long long>(fc.connections_killed), fc.bad_bursts,
      static_cast<unsigned long long>(fc.bad_entries));
  std::printf(
      "slow consumer: sessions switched to catching up from the store %.0f times (both instances, "
      "sampled once a second)\n",
      catch_ups.total());
  std::uint64_t ps_unreceived = 0;
  for (long long r : pubsub_sent) ps_unreceived += r <= 0;
  std::printf(
      "pub/sub: %zu PUBLISH next to the streams, %llu received by no bridge (none subscribed: "
      "a fault or a handover)\n",
      pubsub_sent.size(), static_cast<unsigned long long>(ps_unreceived));
  std::vector<std::vector<int>> ps_sets;
  for (std::size_t i = 0; i < c.instances().size(); ++i) {
    const auto& in = c.instances()[i];
    auto sc = check_store(in.db, published, fc.bad_entries, pubsub_sent);
    ps_sets.push_back(sc.pubsub_seen);
    std::printf(
        "store %s: pub/sub %llu stored once, %llu duplicated, %llu received by a bridge but not "
        "stored (fault or handover)%s\n",
        in.name.c_str(), static_cast<unsigned long long>(sc.pubsub_stored),
        static_cast<unsigned long long>(sc.pubsub_dup),
        static_cast<unsigned long long>(sc.pubsub_missed), sc.pubsub_dup ? "   <-- FAILED" : "");
    bool clean_exit = exits[i] && *exits[i] == 0;
    ok = ok && sc.ok && clean_exit;
    std::printf(
        "store %s: %llu notifications (%llu missing, %llu extra), %llu dead letters (expected "
        "%llu), "
        "SIGTERM exit %s%s\n",
        in.name.c_str(), static_cast<unsigned long long>(sc.notifications),
        static_cast<unsigned long long>(sc.missing), static_cast<unsigned long long>(sc.extra),
        static_cast<unsigned long long>(sc.dead_letters),
        static_cast<unsigned long long>(fc.bad_entries),
        exits[i] ? std::to_string(*exits[i]).c_str() : "none (killed)",
        sc.ok && clean_exit
            ? ""
            : (sc.error.empty() ? "   <-- FAILED" : ("   <-- " + sc.error).c_str()));
    std::printf("  %s: %s\n", in.name.c_str(), counters[i].c_str());
  }
  // Every instance ingests the bridge's copies from the stream: the stores agree.
  bool ps_agree = ps_sets.size() < 2 || ps_sets[0] == ps_sets[1];
  if (!ps_agree) std::printf("pub/sub: the stores hold different messages   <-- FAILED\n");
  ok = ok && ps_agree;
  std::printf("soak: %s\n",
              ok ? "PASS: every client got every notification of its topics, in order, at most once"
                 : "FAIL (see the rows marked above; logs kept)");
  if (!ok || o.keep) {
    std::printf("soak: work dir kept: %s\n", o.dir.c_str());
  } else if (made_dir) {
    c.redis().kill();
    std::filesystem::remove_all(o.dir);
  }
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace cutover::soak

int main(int argc, char** argv) {
  using cutover::soak::options;
  options o;
  CLI::App app{"soak: delivery under faults, checked per client (lost / duplicated / reordered)"};
  auto duration_opt = [&](const char* name, std::chrono::milliseconds& into, const char* help) {
    app.add_option_function<std::string>(
           name,
           [&into, name](const std::string& s) {
             auto d = cutover::parse_duration(s);
             if (!d) throw CLI::ValidationError(name, "expected a duration like 500ms, 30s, 2m");
             into = *d;
           },
           help)
        ->type_name("DURATION");
  };
  duration_opt("--duration", o.duration, "How long to publish and inject faults (default 90s)");
  duration_opt("--fault-every", o.fault_every,
               "One fault per period, cycling through the kinds (default 5s)");
  duration_opt("--drain", o.drain,
               "How long clients get to catch up after publishing stops (default 60s)");
  app.add_option("--rate", o.rate, "Notifications per second, all topics together")
      ->check(CLI::Range(1.0, 5000.0));
  app.add_option("--pubsub-rate", o.pubsub_rate,
                 "PUBLISH per second on cutover:topic:pubsub next to the streams (0: none)")
      ->check(CLI::Range(0.0, 5000.0));
  app.add_option("--users", o.users, "Users (topics user:N), plus the shared topic all")
      ->check(CLI::Range(1, 1000));
  app.add_option("--ws-clients", o.ws_clients, "WebSocket clients that disconnect at random")
      ->check(CLI::Range(0, 100));
  app.add_option("--pollers", o.pollers, "Legacy pollers alternating between the instances")
      ->check(CLI::Range(0, 100));
  app.add_option("--slow-clients", o.slow_clients,
                 "WebSocket clients that stop reading for seconds")
      ->check(CLI::Range(0, 100));
  app.add_option("--seed", o.seed, "Seed for the schedule and the clients (0: random)");
  app.add_option("--cutover", o.cutover_bin, "The cutover binary")->capture_default_str();
  app.add_option("--redis-server", o.redis_bin, "The redis-server binary")->capture_default_str();
  app.add_option("--dir", o.dir,
                 "Work dir for logs, stores and the AOF (default: a fresh one under /tmp)");
  app.add_flag("--keep", o.keep, "Keep the work dir even when the run passes");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  return cutover::soak::run(o);
}
