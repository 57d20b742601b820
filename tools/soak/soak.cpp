// soak: proves delivery under faults (issues 7 and 16). Starts one redis-server (AOF, fsync
// always), or with --sentinel a master, a replica and three Sentinels, and two `cutover serve`
// instances on it (separate SQLite files); publishers XADD numbered notifications per topic at
// a steady rate (some topics with WAIT 1); clients read them on both transports while a fault
// schedule kills, stops and restarts things and fails over; then every client's ledger is
// checked against what Redis ended with: everything Redis kept received, in order, at most
// once; everything it lost reported (orphaned, a recorded range, a reset to a client that had
// it) or acknowledged by a demoted master after the switch (which no instance can see).
//
//   soak [--duration 90s] [--rate 100] [--fault-every 5s] [--drain 60s] [--seed N]
//        [--faults kill,failover,lossy-failover,...] [--sentinel] [--wait-users N] ...
//
// Exit 0: no client lost (unreported), duplicated or reordered anything, no WAIT-confirmed
// entry was lost, and both stores hold exactly the final stream; 1: any of that failed;
// 2: usage or setup error.
//
// Threads: publishers (2: with and without WAIT), one per client, one for the fault schedule,
// and main (which watches the clock, then drains, checks and reports). Each thread owns its
// sockets.

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "child_process.hpp"
#include "core/cursor.hpp"
#include "core/duration.hpp"
#include "ingest/redis_connection.hpp"
#include "ledger.hpp"
#include "sentinel_cluster.hpp"
#include "store/sqlite.hpp"
#include "subprocess.hpp"
#include "wire.hpp"

namespace cutover::soak {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

// The faults a schedule cycles through, in the order given (--faults; a kind may repeat).
enum class fault_kind {
  kill,            // SIGKILL an instance, restart it
  held_commit,     // SIGKILL an instance while its store's write lock is held elsewhere
  stop,            // SIGSTOP an instance for seconds, then SIGCONT
  redis_restart,   // the (master) redis-server killed or stopped, restarted on its data
  client_kill,     // CLIENT KILL of the ingest connections
  bad_burst,       // entries no instance can store: each a dead letter
  failover,        // SENTINEL FAILOVER with min-replicas-to-write 1 (coordinated)
  lossy_failover,  // the replica cut off and behind, min-replicas-to-write 0, then promoted
};
struct fault_name {
  const char* name;
  fault_kind kind;
};
constexpr fault_name kFaultNames[] = {
    {"kill", fault_kind::kill},
    {"held-commit", fault_kind::held_commit},
    {"stop", fault_kind::stop},
    {"redis-restart", fault_kind::redis_restart},
    {"client-kill", fault_kind::client_kill},
    {"bad-burst", fault_kind::bad_burst},
    {"failover", fault_kind::failover},
    {"lossy-failover", fault_kind::lossy_failover},
};
bool is_failover(fault_kind k) {
  return k == fault_kind::failover || k == fault_kind::lossy_failover;
}

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
  // The issue-7 cycle; failovers are added by name.
  std::vector<fault_kind> faults = {fault_kind::kill,          fault_kind::stop,
                                    fault_kind::redis_restart, fault_kind::client_kill,
                                    fault_kind::bad_burst,     fault_kind::held_commit};
  bool sentinel = false;  // master + replica + 3 Sentinels (implied by a failover fault)
  int wait_users = -1;    // topics user:0..N-1 published with WAIT 1 (-1: half with --sentinel)
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

// ---- the cluster: Redis and two Cutover instances -----------------------------------

struct instance {
  std::string name;
  int port = 0;
  std::string db;
  std::unique_ptr<child_process> proc;
};

// One redis-server (AOF, fsync always), or with --sentinel the deployment of DESIGN §3 and
// docs/deploy.md: a master, a replica and three Sentinels (tests/support/sentinel_cluster,
// both servers with AOF) that the instances and publishers reach through the
// redis+sentinel:// URL. Then two `cutover serve` instances.
class cluster {
 public:
  explicit cluster(const options& o) : o_(o), dir_(o.dir) {}

  bool start_all() {
    if (!start_redis()) return false;
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
          std::vector<std::string>{o_.cutover_bin,
                                   "serve",
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(in.port),
                                   "--db",
                                   in.db,
                                   "--redis",
                                   url(),
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
    for (std::size_t i = 0; i < instances_.size(); ++i)
      if (!start_instance(i)) return false;
    return true;
  }

  bool start_instance(std::size_t i) {
    return instances_[i].proc->start("cutover: listening on", 30s);
  }
  // The single redis-server (not with --sentinel).
  bool start_redis() {
    if (o_.sentinel) {
      try {
        testing::sentinel_options so;  // min-replicas-to-write 1, min-replicas-max-lag 2
        so.appendonly = true;
        so.appendfsync = "always";
        sentinels_ = std::make_unique<testing::sentinel_cluster>(so);
        first_master_ = sentinels_->master_port();
        return true;
      } catch (const std::exception& e) {
        say("soak: the Sentinel deployment did not start: %s", e.what());
        return false;
      }
    }
    if (!redis_) {
      redis_port_ = testing::free_port();
      redis_ = std::make_unique<child_process>(
          "redis",
          std::vector<std::string>{o_.redis_bin, "--port", std::to_string(redis_port_), "--bind",
                                   "127.0.0.1", "--dir", dir_, "--save", "", "--appendonly", "yes",
                                   "--appendfsync", "always", "--daemonize", "no",
                                   "--protected-mode", "no"},
          dir_ + "/redis.log");
    }
    return redis_->start("Ready to accept connections", 20s);
  }

  // What instances and publishers are given.
  std::string url() const {
    return sentinels_ ? sentinels_->url() : "redis://127.0.0.1:" + std::to_string(redis_port_);
  }
  // The server that takes writes now (the Sentinels' answer); 0 when none answers.
  int master_port() {
    if (!sentinels_) return redis_port_;
    try {
      return sentinels_->master_port();
    } catch (const std::exception&) {
      return 0;
    }
  }
  testing::sentinel_cluster* sentinels() { return sentinels_.get(); }
  int first_master_port() const { return first_master_; }
  child_process& redis() { return *redis_; }
  std::vector<instance>& instances() { return instances_; }
  int port(std::size_t i) const { return instances_[i].port; }

 private:
  const options& o_;
  std::string dir_;
  int redis_port_ = 0;
  std::unique_ptr<child_process> redis_;
  std::unique_ptr<testing::sentinel_cluster> sentinels_;
  int first_master_ = 0;
  std::vector<instance> instances_;
};

// ---- publishers ---------------------------------------------------------------------

// One acknowledged notification: the id Redis answered for the attempt that was
// acknowledged, and when.
struct ack {
  stream_id id;
  clock::time_point at;
};
using acks_by_topic = std::map<std::string, std::vector<ack>>;  // index seq - 1

// Publishes {"t":topic,"s":seq} with idempotency key topic#seq through the cluster's URL
// (Sentinel URLs resolve the master on every connect, with the product's own client). An
// attempt is acknowledged when XADD answers an id and, with `wait`, `WAIT 1` confirms a
// replica has it; an attempt without an answer (the reply was lost, or WAIT did not
// confirm) is "unknown" and retried with the same key, so the stores keep one copy of it
// whatever Redis kept; an error reply (NOREPLICAS, READONLY, LOADING) stored nothing.
class publisher {
 public:
  publisher(std::string url, std::vector<std::string> topics, double rate, bool wait)
      : url_(std::move(url)), topics_(std::move(topics)), rate_(rate), wait_(wait) {}

  void run(const std::atomic<bool>& stop) {
    if (topics_.empty() || rate_ <= 0) return;
    auto period =
        std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate_));
    auto next = clock::now();
    std::size_t turn = 0;
    while (!stop.load()) {
      const std::string& topic = topics_[turn++ % topics_.size()];
      std::uint64_t seq;
      {
        std::lock_guard lk(mu_);
        seq = acks_[topic].size() + 1;
      }
      // Padded so a paused reader overflows the kernel's socket buffers within seconds and
      // the server's own queue has to give way to catching up from the store.
      std::string data =
          R"({"t":")" + topic + R"(","s":)" + std::to_string(seq) + R"(,"p":")" + pad_ + "\"}";
      std::string key = topic + "#" + std::to_string(seq);
      // Until Redis acknowledges it, whatever the faults.
      std::optional<ack> got;
      for (bool first = true; !got; first = false) {
        if (!first) std::this_thread::sleep_for(50ms);
        if (!conn_) {
          auto c = ingest::redis_connection::connect(url_, {1000ms, 2000ms, -1});
          if (!c) continue;
          conn_.emplace(std::move(*c));
        }
        auto r = conn_->command({"XADD", "cutover:notifications", "*", "topic", topic, "type",
                                 "soak", "data", data, "key", key});
        if (!r) {
          ++unknown_;
          conn_.reset();
          continue;
        }
        if (ingest::is_error_reply(r->get())) {
          ++refused_;
          conn_.reset();  // a demoted master says READONLY: resolve again
          continue;
        }
        auto id = parse_stream_id(ingest::reply_text(r->get()));
        if (!id) {
          ++refused_;
          continue;
        }
        if (wait_) {
          auto w = conn_->command({"WAIT", "1", "1000"});
          if (!w || ingest::is_error_reply(w->get()) || (*w)->type != REDIS_REPLY_INTEGER ||
              (*w)->integer < 1) {
            ++unknown_;
            conn_.reset();
            continue;
          }
        }
        got = ack{*id, clock::now()};
      }
      {
        std::lock_guard lk(mu_);
        acks_[topic].push_back(*got);
      }
      next += period;
      auto now = clock::now();
      if (next < now) next = now;  // behind after a fault: carry on at the rate, no burst
      std::this_thread::sleep_until(next);
    }
  }

  published_counts published() const {
    std::lock_guard lk(mu_);
    published_counts out;
    for (const auto& t : topics_) out[t] = 0;
    for (const auto& [t, v] : acks_) out[t] = v.size();
    return out;
  }
  acks_by_topic acks() const {
    std::lock_guard lk(mu_);
    return acks_;
  }
  std::uint64_t unknown() const { return unknown_.load(); }
  std::uint64_t refused() const { return refused_.load(); }
  bool waits() const { return wait_; }
  const std::vector<std::string>& topics() const { return topics_; }

 private:
  std::string url_;
  std::vector<std::string> topics_;
  double rate_;
  bool wait_;
  std::string pad_ = std::string(384, '.');
  std::optional<ingest::redis_connection> conn_;
  mutable std::mutex mu_;
  acks_by_topic acks_;
  std::atomic<std::uint64_t> unknown_{0}, refused_{0};
};

// PUBLISHes {"t":"pubsub","s":seq} on cutover:topic:pubsub, next to the stream
// publisher: the instances' bridge copies them into the stream. Pub/sub keeps nothing, so
// a message is sent once (no retry) and Redis's answer says whether a subscriber (a
// bridge) received it: the checker tells messages no bridge received, or a bridge received
// during a fault or handover and could not copy, from real losses and duplicates.
class pubsub_publisher {
 public:
  pubsub_publisher(std::string url, double rate) : url_(std::move(url)), rate_(rate) {}

  void run(const std::atomic<bool>& stop) {
    if (rate_ <= 0) return;
    auto period =
        std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate_));
    auto next = clock::now();
    while (!stop.load()) {
      if (!conn_) {
        auto c = ingest::redis_connection::connect(url_, {500ms, 2000ms, -1});
        if (c) conn_.emplace(std::move(*c));
      }
      std::uint64_t seq = receivers_.size() + 1;
      long long got = -1;  // -1: not sent (Redis down)
      if (conn_) {
        std::string data = R"({"t":"pubsub","s":)" + std::to_string(seq) + "}";
        auto r = conn_->command({"PUBLISH", "cutover:topic:pubsub", data});
        if (r && (*r)->type == REDIS_REPLY_INTEGER) got = (*r)->integer;
        // No bridge heard it: the master may have moved (a demoted master still takes
        // PUBLISH), so resolve again for the next one.
        if (!r || got <= 0) conn_.reset();
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
  std::string url_;
  double rate_;
  std::optional<ingest::redis_connection> conn_;
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
        const auto* oldest = v.as_object().if_contains("oldest");
        ledger_.count_reset(oldest && oldest->is_string()
                                ? parse_stream_id(std::string_view(oldest->as_string()))
                                : std::nullopt);
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
      const auto* list = body.if_contains("notifications");
      if (const auto* r = body.if_contains("reset"); r && r->is_bool() && r->as_bool()) {
        // Delivery goes on from the batch's first entry; an empty batch says nothing.
        std::optional<stream_id> oldest;
        if (list && list->is_array() && !list->as_array().empty()) {
          const auto& first = list->as_array().front();
          const auto* id = first.is_object() ? first.as_object().if_contains("id") : nullptr;
          if (id && id->is_number()) {
            auto legacy = id->to_number<std::uint64_t>();
            oldest = stream_id{legacy / 1024, legacy % 1024};
          }
        }
        ledger_.count_reset(oldest);
      }
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
  int held_commit_kills = 0;    // SIGKILL while the store's write lock was held elsewhere
  double held_deliveries = 0;   // WebSocket and poll deliveries meanwhile (the proof it delivered)
  double held_commits = 0;      // entries committed meanwhile (0: the lock held)
  int failovers = 0;            // coordinated SENTINEL FAILOVERs survived
  int lossy_failovers = 0;      // promotions of a cut-off replica survived
  int failovers_refused = 0;    // SENTINEL FAILOVER refused (skipped, tried at the next turn)
  int unplanned_failovers = 0;  // Sentinel promoted the replica during a redis restart
  std::uint64_t entries_cut_off = 0;  // master minus replica stream length when promoted
  std::vector<double> demote_ms;      // per failover: switch seen -> the old master a replica
  std::vector<double> resync_ms;      // per failover: switch seen -> the old master in sync
  std::vector<double> follow_ms;      // per instance and failover: switch seen -> new master read
  std::uint64_t connections_killed = 0;
  std::uint64_t bad_entries =
      0;  // acknowledged bad XADDs: each must be a dead letter in each store
  // While Redis may lose acknowledged entries that no instance read (from just before the
  // fault until the old master is a replica again): a loss no instance can report.
  std::vector<std::pair<clock::time_point, clock::time_point>> loss_windows;
  bool broken = false;  // something could not be restarted
};

std::optional<double> scrape(int port, const std::string& sample);  // below

// INFO/ROLE/SENTINEL answers, as text or as a flat list of strings.
std::string reply_string(const redisReply* r) {
  return r && r->str ? std::string(r->str, r->len) : std::string();
}

class fault_schedule {
 public:
  fault_schedule(cluster& c, const options& o, std::uint32_t seed) : c_(c), o_(o), rng_(seed) {}

  void run(const std::atomic<bool>& stop) {
    std::size_t turn = 0;
    auto next = clock::now() + o_.fault_every;
    while (!stop.load() && !counts_.broken) {
      if (clock::now() < next) {
        std::this_thread::sleep_for(50ms);
        continue;
      }
      next += o_.fault_every;
      switch (o_.faults[turn++ % o_.faults.size()]) {
        case fault_kind::kill:
          kill_instance();
          break;
        case fault_kind::held_commit:
          kill_with_commit_held();
          break;
        case fault_kind::stop:
          stop_instance();
          break;
        case fault_kind::redis_restart:
          restart_redis();
          break;
        case fault_kind::client_kill:
          client_kill();
          break;
        case fault_kind::bad_burst:
          bad_burst();
          break;
        case fault_kind::failover:
          failover(false);
          break;
        case fault_kind::lossy_failover:
          failover(true);
          break;
      }
      // The next fault starts from a whole deployment: a master with its replica in sync,
      // every Sentinel naming it and seeing the replica as one it could promote.
      if (c_.sentinels() && !counts_.broken && !settle(60s)) {
        say("fault: the Sentinel deployment did not settle within 60 s");
        counts_.broken = true;
      }
    }
  }
  const fault_counts& counts() const { return counts_; }
  // Once faults stopped: the deployment is whole again (see run()).
  bool settle(ms within) {
    auto* sc = c_.sentinels();
    if (!sc) return true;
    auto deadline = clock::now() + within;
    for (; clock::now() < deadline; std::this_thread::sleep_for(100ms))
      if (settled()) return true;
    return false;
  }

 private:
  ms between(int lo, int hi) {
    return ms(lo + static_cast<int>(rng_() % static_cast<unsigned>(hi - lo + 1)));
  }

  bool settled() {
    auto* sc = c_.sentinels();
    int m = c_.master_port();
    if (m == 0) return false;
    auto master = redis_connect(m);
    auto replica = redis_connect(sc->other_port(m));
    if (!master || !replica) return false;
    auto mi = reply_string(redis_command(master.get(), {"INFO", "replication"}).get());
    auto ri = reply_string(redis_command(replica.get(), {"INFO", "replication"}).get());
    if (mi.find("role:master") == std::string::npos ||
        mi.find("connected_slaves:1") == std::string::npos ||
        mi.find("state=online") == std::string::npos ||
        ri.find("master_port:" + std::to_string(m)) == std::string::npos ||
        ri.find("master_link_status:up") == std::string::npos)
      return false;
    for (int i = 0; i < 3; ++i) {
      auto s = redis_connect(sc->sentinel_port(i));
      if (!s) return false;
      auto r = redis_command(s.get(), {"SENTINEL", "get-master-addr-by-name", "cutover"});
      if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
          reply_string(r->element[1]) != std::to_string(m))
        return false;
      // The replica as this Sentinel sees it: a plain "slave" with its link to the master up.
      auto reps = redis_command(s.get(), {"SENTINEL", "REPLICAS", "cutover"});
      if (!reps || reps->type != REDIS_REPLY_ARRAY || reps->elements != 1) return false;
      const redisReply* fields = reps->element[0];
      std::map<std::string, std::string> f;
      for (std::size_t k = 0; fields->type == REDIS_REPLY_ARRAY && k + 1 < fields->elements; k += 2)
        f[reply_string(fields->element[k])] = reply_string(fields->element[k + 1]);
      if (f["flags"] != "slave" || f["master-link-status"] != "ok" ||
          f["port"] != std::to_string(sc->other_port(m)))
        return false;
    }
    return true;
  }

  // Sets a config value on both servers; false if either refuses.
  bool config_both(const std::string& name, const std::string& value) {
    auto* sc = c_.sentinels();
    int m = c_.master_port();
    bool ok = m != 0;
    for (int port : {m, sc->other_port(m)}) {
      auto c = ok ? redis_connect(port) : nullptr;
      auto r = c ? redis_command(c.get(), {"CONFIG", "SET", name, value}) : nullptr;
      ok = ok && r && r->type == REDIS_REPLY_STATUS;
    }
    return ok;
  }

  std::optional<long long> stream_length(int port) {
    auto c = redis_connect(port);
    auto r = c ? redis_command(c.get(), {"XLEN", "cutover:notifications"}) : nullptr;
    if (!r || r->type != REDIS_REPLY_INTEGER) return std::nullopt;
    return r->integer;
  }

  // A SENTINEL FAILOVER. Coordinated: min-replicas-to-write 1 as deploy.md says, so the old
  // master refuses writes as soon as its replica leaves it and WAIT-confirmed entries are on
  // the replica. Lossy: the replica is cut off first (a wrong masterauth keeps it from
  // syncing again, which no Sentinel notices), the master keeps acknowledging without it
  // (min-replicas-to-write 0) and the instances ingest those entries; then the replica is
  // promoted without them. Either way the soak then waits until the old master is a
  // replica of the new one again (what it acknowledged meanwhile is gone) and measures how
  // long each instance took to read the new master after the switch was announced.
  void failover(bool lossy) {
    auto* sc = c_.sentinels();
    int old_master = c_.master_port();
    if (!sc || old_master == 0) return;
    int replica = sc->other_port(old_master);
    auto window_start = clock::now() - 1s;  // replication in flight before the fault
    std::uint64_t cut_off = 0;
    auto restore = [&] {
      auto r = redis_connect(replica);
      if (r) redis_command(r.get(), {"CONFIG", "SET", "masterauth", ""});
      config_both("min-replicas-to-write", "1");
    };
    if (lossy) {
      auto r = redis_connect(replica);
      auto m = redis_connect(old_master);
      if (!r || !m || !config_both("min-replicas-to-write", "0") ||
          !redis_command(r.get(), {"CONFIG", "SET", "masterauth", "soak-cut-off"}) ||
          !redis_command(m.get(), {"CLIENT", "KILL", "TYPE", "replica"})) {
        restore();
        say("fault: could not cut the replica off; skipped");
        return;
      }
      std::this_thread::sleep_for(between(300, 1500));  // publishers and ingest go on
      auto ml = stream_length(old_master), rl = stream_length(replica);
      if (ml && rl && *ml > *rl) cut_off = static_cast<std::uint64_t>(*ml - *rl);
    }
    std::size_t old_lines = sc->server(old_master).process().line_count();
    std::vector<std::size_t> lines;
    for (auto& in : c_.instances()) lines.push_back(in.proc->line_count());
    int new_master = 0;
    auto asked = clock::now();
    try {
      new_master = sc->failover();
    } catch (const std::exception& e) {
      restore();
      ++counts_.failovers_refused;
      say("fault: %s refused: %s", lossy ? "lossy failover" : "failover", e.what());
      return;
    }
    auto switched = clock::now();
    // The new master needs no masterauth (the old one syncs with its own, empty). The old
    // master keeps min-replicas-to-write 0 until the Sentinels demote it, as a deployment
    // without the setting would: what it acknowledges meanwhile no instance reads.
    if (auto r = redis_connect(new_master))
      redis_command(r.get(), {"CONFIG", "SET", "masterauth", ""});
    // Each instance reads the new master (its connect line names it).
    std::vector<double> follow;
    for (std::size_t i = 0; i < c_.instances().size(); ++i) {
      auto& in = c_.instances()[i];
      if (in.proc->wait_for_line("(master redis://127.0.0.1:" + std::to_string(new_master) + ")",
                                 30s, lines[i])) {
        follow.push_back(
            std::chrono::duration<double, std::milli>(clock::now() - switched).count());
        counts_.follow_ms.push_back(follow.back());
      }
    }
    auto& old_proc = sc->server(old_master).process();
    bool demoted = old_proc.wait_for_line("Connecting to MASTER", 60s, old_lines).has_value();
    auto demoted_at = clock::now();
    bool synced = demoted && old_proc.wait_for_line(
                                 "MASTER <-> REPLICA sync: Finished with success", 60s, old_lines);
    auto synced_at = clock::now();
    if (lossy) config_both("min-replicas-to-write", "1");
    counts_.loss_windows.emplace_back(window_start, clock::now());
    if (!synced) {
      say("fault: the old master %d did not become a replica of %d", old_master, new_master);
      counts_.broken = true;
      return;
    }
    ++(lossy ? counts_.lossy_failovers : counts_.failovers);
    counts_.entries_cut_off += cut_off;
    std::string follows;
    for (double f : follow) follows += (follows.empty() ? "" : ", ") + std::to_string(int(f));
    auto ms_between = [](clock::time_point a, clock::time_point b) {
      return static_cast<long long>(std::chrono::duration_cast<ms>(b - a).count());
    };
    counts_.demote_ms.push_back(static_cast<double>(ms_between(switched, demoted_at)));
    counts_.resync_ms.push_back(static_cast<double>(ms_between(switched, synced_at)));
    say("fault: %s %d -> %d%s: switch announced %lld ms after SENTINEL FAILOVER, instances read "
        "the new master %s ms after it, old master demoted %lld ms and in sync %lld ms after it",
        lossy ? "lossy failover" : "failover", old_master, new_master,
        lossy ? (", replica " + std::to_string(cut_off) + " entries behind").c_str() : "",
        ms_between(asked, switched), follows.empty() ? "(none)" : follows.c_str(),
        ms_between(switched, demoted_at), ms_between(switched, synced_at));
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
    auto down = between(300, 2000);
    if (auto* sc = c_.sentinels()) {
      // The server first started as master (the other one is started with --replicaof, which
      // a restart would give it again whatever its role now). While it is the master, down
      // past down-after-milliseconds (1 s) the Sentinels may promote the replica and it
      // rejoins as a replica on its AOF; while it is the replica, it comes back claiming to be
      // a master until the Sentinels convert it.
      int m = c_.first_master_port();
      int master_before = c_.master_port();
      auto& server = sc->server(m);
      auto window_start = clock::now() - 1s;
      try {
        if (crash) {
          server.kill();
        } else {
          server.process().signal(SIGTERM);
          server.process().wait_exit(10s);
        }
        std::this_thread::sleep_for(down);
        server.restart();
      } catch (const std::exception& e) {
        say("fault: redis-server %d could not be restarted: %s", m, e.what());
        counts_.broken = true;
        return;
      }
      ++counts_.redis_restarts;
      bool moved = settle(60s) && c_.master_port() != master_before;
      counts_.unplanned_failovers += moved;
      counts_.loss_windows.emplace_back(window_start, clock::now());
      say("fault: %s redis-server %d %s, down %lld ms, restarted%s",
          m == master_before ? "master" : "replica", m, crash ? "SIGKILL" : "SIGTERM",
          static_cast<long long>(down.count()),
          moved ? "; the Sentinels promoted the replica meanwhile" : "");
      return;
    }
    if (crash) {
      c_.redis().kill();
    } else {
      c_.redis().terminate(10s);
    }
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
    auto c = redis_connect(c_.master_port());
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
    auto c = redis_connect(c_.master_port());
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

// ---- what Redis and the stores ended with ------------------------------------------

std::string soak_key(const std::string& topic, std::uint64_t seq) {
  return topic + "#" + std::to_string(seq);
}

// The final stream on the master, once faults and publishing stopped and the deployment is
// whole: every acknowledged notification it no longer holds was lost by Redis.
struct stream_truth {
  std::map<std::string, int> keys;  // soak idempotency keys (topic#seq) and how often
  std::uint64_t bad = 0;            // entries that are neither soak nor pub/sub notifications
  bool ok = false;
};

stream_truth read_stream(int port) {
  stream_truth out;
  auto c = redis_connect(port);
  if (!c) return out;
  std::string from = "-";
  while (true) {
    auto r =
        redis_command(c.get(), {"XRANGE", "cutover:notifications", from, "+", "COUNT", "5000"});
    if (!r || r->type != REDIS_REPLY_ARRAY) return out;
    if (r->elements == 0) break;
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* e = r->element[i];
      std::map<std::string, std::string> f;
      for (std::size_t k = 0; k + 1 < e->element[1]->elements; k += 2)
        f[reply_string(e->element[1]->element[k])] = reply_string(e->element[1]->element[k + 1]);
      if (f["type"] == "soak")
        ++out.keys[f["key"]];
      else if (f["topic"] != "pubsub")
        ++out.bad;
      from = "(" + reply_string(e->element[0]);
    }
  }
  out.ok = true;
  return out;
}

struct store_check {
  std::uint64_t notifications = 0, dead_letters = 0, missing = 0, extra = 0;
  // Pub/sub messages: stored, stored twice (a failure), and missing although a bridge
  // received them (lost in a fault or a bridge handover, counted apart).
  std::uint64_t pubsub_stored = 0, pubsub_dup = 0, pubsub_missed = 0;
  std::vector<int> pubsub_seen;
  // What the instance reported Redis lost: orphaned entries (by soak key) and the ranges it
  // recorded (rewinds, withdrawn deliveries, trims).
  std::set<std::string> orphaned;
  std::vector<std::pair<stream_id, stream_id>> lost_ranges;  // (after, through]
  bool ok = false;
  std::string error;
};

// Each store must hold every notification the final stream holds exactly once and nothing
// else (what Redis lost must be in its orphans, not among its notifications), and every bad
// entry it read as one dead letter: at least those still in the stream, at most every one
// acknowledged.
store_check check_store(const std::string& path, const stream_truth& truth, std::uint64_t bad_acked,
                        const std::vector<long long>& pubsub) {
  store_check out;
  auto db = store::sql::open(path, store::sql::open_mode::existing);
  if (!db) {
    out.error = db.err().message;
    return out;
  }
  std::map<std::string, int> seen;
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
    if (ec || !read_payload(v, topic, seq)) {
      ++out.extra;
      continue;
    }
    auto key = soak_key(topic, seq);
    if (++seen[key] > 1 || !truth.keys.count(key)) ++out.extra;
  }
  for (const auto& [k, n] : truth.keys) out.missing += seen.count(k) ? 0 : 1;
  auto d = store::sql::statement::prepare(db->get(), "SELECT count(*) FROM dead_letters");
  if (d && d->step() == SQLITE_ROW) out.dead_letters = static_cast<std::uint64_t>(d->int64(0));
  for (std::size_t i = 1; i < out.pubsub_seen.size(); ++i)
    out.pubsub_missed += out.pubsub_seen[i] == 0 && pubsub[i - 1] > 0;
  auto o = store::sql::statement::prepare(db->get(), "SELECT data FROM orphans");
  while (o && o->step() == SQLITE_ROW) {
    boost::json::error_code ec;
    auto v = boost::json::parse(o->text(0), ec);
    std::string topic;
    std::uint64_t seq = 0;
    if (!ec && read_payload(v, topic, seq)) out.orphaned.insert(soak_key(topic, seq));
  }
  auto l = store::sql::statement::prepare(
      db->get(), "SELECT after_ms, after_seq, through_ms, through_seq FROM lost_ranges");
  while (l && l->step() == SQLITE_ROW)
    out.lost_ranges.push_back(
        {{static_cast<std::uint64_t>(l->int64(0)), static_cast<std::uint64_t>(l->int64(1))},
         {static_cast<std::uint64_t>(l->int64(2)), static_cast<std::uint64_t>(l->int64(3))}});
  out.ok = out.missing == 0 && out.extra == 0 && out.dead_letters >= truth.bad &&
           out.dead_letters <= bad_acked && out.pubsub_dup == 0;
  return out;
}

// The checker must be able to fail: run it on sequences with a known verdict first.
bool ledger_self_test() {
  published_counts pub{{"user:0", 3}, {"all", 1}};
  struct arrival {
    std::uint64_t seq, at;
    bool reset = false;  // a reset from `at` instead of a delivery
  };
  auto run = [&](bool tail, std::initializer_list<arrival> arrivals, const fate_of& fates = {}) {
    ledger l("self-test", "test", {"user:0", "all"});
    for (auto a : arrivals) {
      if (a.reset)
        l.count_reset(stream_id{a.at, 0});
      else
        l.record(a.seq == 9 ? "all" : "user:0", a.seq == 9 ? 1 : a.seq, {a.at, 0}, tail);
    }
    return l.summarise(pub, fates);
  };
  // user:0 #2 was lost by Redis and reported; #3 lost unreported.
  fate_of lost2 = [](const std::string& t, std::uint64_t s) {
    return t == "user:0" && s == 2 ? fate::lost_reported : fate::held;
  };
  fate_of lost3 = [](const std::string& t, std::uint64_t s) {
    return t == "user:0" && s == 3 ? fate::lost_unreported : fate::held;
  };
  auto good = run(false, {{1, 1}, {9, 2}, {2, 3}, {3, 4}});
  auto lost = run(false, {{1, 1}, {9, 2}, {3, 4}});
  auto dup = run(false, {{1, 1}, {9, 2}, {2, 3}, {2, 3}, {3, 4}});
  auto reordered = run(false, {{1, 1}, {9, 2}, {3, 3}, {2, 4}});
  auto tail = run(true, {{1, 1}, {9, 2}, {2, 3}, {2, 3}, {3, 3}});
  // Re-added after a reset covering the first copy: allowed; a reset above it: a duplicate.
  auto readded = run(false, {{1, 1}, {9, 2}, {2, 3}, {0, 3, true}, {2, 5}, {3, 6}});
  auto not_covered = run(false, {{1, 1}, {9, 2}, {2, 3}, {0, 4, true}, {2, 5}, {3, 6}});
  // Lost by Redis and reported: never received is fine; received needs a reset after it.
  auto reported = run(false, {{1, 1}, {9, 2}, {3, 4}}, lost2);
  auto untold = run(false, {{1, 1}, {9, 2}, {2, 3}, {3, 4}}, lost2);
  auto told = run(false, {{1, 1}, {9, 2}, {2, 3}, {0, 3, true}, {3, 4}}, lost2);
  auto unreported = run(false, {{1, 1}, {9, 2}, {2, 3}}, lost3);
  return good.clean() && good.received == 4 && lost.lost == 1 && !lost.clean() &&
         dup.duplicated == 1 && !dup.clean() && reordered.reordered == 1 && !reordered.clean() &&
         tail.tail_duplicated == 1 && tail.clean() && readded.readded == 1 &&
         readded.duplicated == 0 && readded.resets_expected == false && !readded.clean() &&
         not_covered.duplicated == 1 && reported.lost_reported == 1 && reported.clean() &&
         untold.untold == 1 && !untold.clean() && told.untold == 0 && told.clean() &&
         unreported.lost == 1 && !unreported.clean();
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

  // With WAIT: user:0..wait_users-1, acknowledged once a replica has them; the other users
  // and "all" acknowledged on XADD's answer. Each publisher gets its share of the rate.
  std::vector<std::string> wait_topics, plain_topics;
  for (int u = 0; u < o.users; ++u)
    (u < o.wait_users ? wait_topics : plain_topics).push_back("user:" + std::to_string(u));
  plain_topics.push_back("all");
  double share = static_cast<double>(wait_topics.size()) /
                 static_cast<double>(wait_topics.size() + plain_topics.size());
  std::vector<std::unique_ptr<publisher>> pubs;
  pubs.push_back(std::make_unique<publisher>(c.url(), wait_topics, o.rate * share, true));
  pubs.push_back(std::make_unique<publisher>(c.url(), plain_topics, o.rate * (1 - share), false));
  pubsub_publisher pubsub(c.url(), o.pubsub_rate);

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
  std::vector<std::thread> publishing;
  for (auto& p : pubs) publishing.emplace_back([&p, &stop_publishing] { p->run(stop_publishing); });
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
  for (auto& t : publishing) t.join();
  pubsub_publishing.join();
  published_counts published;
  acks_by_topic acks;
  std::set<std::string> wait_topic_set(wait_topics.begin(), wait_topics.end());
  std::uint64_t unknown = 0, refused = 0;
  for (const auto& p : pubs) {
    for (const auto& [t, n] : p->published()) published[t] = n;
    for (auto& [t, v] : p->acks()) acks[t] = std::move(v);
    unknown += p->unknown();
    refused += p->refused();
  }
  auto pubsub_sent = pubsub.receivers();
  std::uint64_t total = 0;
  for (const auto& [t, n] : published) total += n;
  // What Redis holds in the end decides what every client must have.
  if (!faults.settle(60s)) say("soak: the Sentinel deployment is not whole after the faults");
  auto truth = read_stream(c.master_port());
  if (!truth.ok) {
    std::fprintf(stderr, "soak: cannot read the final stream from the master\n");
    return 2;
  }
  say("soak: publishing stopped: %llu notifications acknowledged by Redis (%llu attempts "
      "unknown, %llu refused, retried with the same key); the stream holds %zu of them; draining",
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(unknown),
      static_cast<unsigned long long>(refused), truth.keys.size());
  auto in_redis = [&](const std::string& topic, std::uint64_t seq) {
    return truth.keys.count(soak_key(topic, seq)) > 0;
  };

  auto drain_start = clock::now();
  auto all_complete = [&] {
    for (const auto& l : ledgers)
      if (!l->complete(published, in_redis)) return false;
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
  // The stores first: what they orphaned and recorded decides whether a loss was reported.
  std::vector<store_check> stores;
  for (const auto& in : c.instances())
    stores.push_back(check_store(in.db, truth, fc.bad_entries, pubsub_sent));
  auto fate_of_entry = [&](const std::string& topic, std::uint64_t seq) {
    auto key = soak_key(topic, seq);
    if (truth.keys.count(key)) return fate::held;
    const ack& a = acks[topic][seq - 1];
    for (const auto& sc : stores) {
      if (sc.orphaned.count(key)) return fate::lost_reported;
      for (const auto& [after, through] : sc.lost_ranges)
        if (after < a.id && !(through < a.id)) return fate::lost_reported;
    }
    for (const auto& [from, to] : fc.loss_windows)
      if (from <= a.at && a.at <= to) return fate::lost_unseen;
    return fate::lost_unreported;
  };
  // Per publisher kind: acknowledged, and what became of those Redis lost.
  struct kind_figures {
    std::uint64_t acked = 0, lost = 0, reported = 0, unseen = 0, unreported = 0;
  } with_wait, without_wait;
  for (const auto& [topic, v] : acks) {
    auto& k = wait_topic_set.count(topic) ? with_wait : without_wait;
    for (std::uint64_t seq = 1; seq <= v.size(); ++seq) {
      ++k.acked;
      switch (fate_of_entry(topic, seq)) {
        case fate::held:
          break;
        case fate::lost_reported:
          ++k.lost, ++k.reported;
          break;
        case fate::lost_unseen:
          ++k.lost, ++k.unseen;
          break;
        case fate::lost_unreported:
          ++k.lost, ++k.unreported;
          break;
      }
    }
  }

  // A reset is how an instance tells a client Redis lost what it had delivered (an entry
  // acknowledged, or an unknown attempt a publisher then retried): expected once an instance
  // recorded a lost range.
  bool resets_allowed = false;
  for (const auto& sc : stores) resets_allowed = resets_allowed || !sc.lost_ranges.empty();
  std::printf("\n%-8s %-10s %-7s %9s %6s %9s %7s %6s %7s %7s %7s %9s %9s %7s %7s %10s\n", "client",
              "transport", "user", "received", "lost", "reported", "unseen", "dup", "readded",
              "again", "untold", "tail-dup", "reordered", "resets", "errors", "reconnects");
  for (const auto& l : ledgers) {
    auto s = l->summarise(published, fate_of_entry, resets_allowed);
    ok = ok && s.clean();
    std::printf(
        "%-8s %-10s %-7s %9llu %6llu %9llu %7llu %6llu %7llu %7llu %7llu %9llu %9llu %7llu %7llu "
        "%10llu%s\n",
        l->client().c_str(), l->transport().c_str(), l->topics()[0].c_str(),
        static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.lost),
        static_cast<unsigned long long>(s.lost_reported),
        static_cast<unsigned long long>(s.lost_unseen),
        static_cast<unsigned long long>(s.duplicated), static_cast<unsigned long long>(s.readded),
        static_cast<unsigned long long>(s.redelivered), static_cast<unsigned long long>(s.untold),
        static_cast<unsigned long long>(s.tail_duplicated),
        static_cast<unsigned long long>(s.reordered), static_cast<unsigned long long>(s.resets),
        static_cast<unsigned long long>(s.errors), static_cast<unsigned long long>(s.reconnects),
        s.clean() ? "" : "   <-- FAILED");
    for (const auto& e : s.examples) std::printf("         %s\n", e.c_str());
    for (const auto& e : s.notes) std::printf("         (allowed) %s\n", e.c_str());
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
  if (c.sentinels()) {
    auto follow = fc.follow_ms;
    std::sort(follow.begin(), follow.end());
    std::printf(
        "failovers: %d coordinated, %d lossy (replica %llu entries behind in all), %d unplanned "
        "(a master restart), %d refused by the Sentinels; instances read the new master %s after "
        "the switch was seen (%zu follows)\n",
        fc.failovers, fc.lossy_failovers, static_cast<unsigned long long>(fc.entries_cut_off),
        fc.unplanned_failovers, fc.failovers_refused,
        follow.empty() ? "-"
                       : ("median " + std::to_string(static_cast<int>(follow[follow.size() / 2])) +
                          " ms, max " + std::to_string(static_cast<int>(follow.back())) + " ms")
                             .c_str(),
        follow.size());
    auto med = [](std::vector<double> v) {
      if (v.empty()) return std::string("-");
      std::sort(v.begin(), v.end());
      return std::to_string(static_cast<long long>(v[v.size() / 2])) + " ms (max " +
             std::to_string(static_cast<long long>(v.back())) + ")";
    };
    std::printf(
        "failovers: the Sentinels demoted the old master after a median %s, in sync after "
        "%s (writes with min-replicas-to-write 1 wait that long)\n",
        med(fc.demote_ms).c_str(), med(fc.resync_ms).c_str());
  }
  for (const auto* k : {&with_wait, &without_wait}) {
    bool wait = k == &with_wait;
    // WAIT-confirmed entries are on the replica a failover promotes: none may be lost. Any
    // acknowledged entry lost without a report is a failure either way.
    bool k_ok = k->unreported == 0 && (!wait || k->lost == 0);
    ok = ok && k_ok;
    std::printf(
        "acknowledged %s WAIT: %llu, lost by Redis %llu (reported by an instance %llu, "
        "acknowledged by a master after its replica was promoted, never ingested %llu, "
        "unreported %llu)%s\n",
        wait ? "with" : "without", static_cast<unsigned long long>(k->acked),
        static_cast<unsigned long long>(k->lost), static_cast<unsigned long long>(k->reported),
        static_cast<unsigned long long>(k->unseen), static_cast<unsigned long long>(k->unreported),
        k_ok ? "" : "   <-- FAILED");
  }
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
  for (std::size_t i = 0; i < c.instances().size(); ++i) {
    const auto& in = c.instances()[i];
    const auto& sc = stores[i];
    std::printf(
        "store %s: pub/sub %llu stored once, %llu duplicated, %llu received by a bridge but not "
        "stored (fault or handover)%s\n",
        in.name.c_str(), static_cast<unsigned long long>(sc.pubsub_stored),
        static_cast<unsigned long long>(sc.pubsub_dup),
        static_cast<unsigned long long>(sc.pubsub_missed), sc.pubsub_dup ? "   <-- FAILED" : "");
    bool clean_exit = exits[i] && *exits[i] == 0;
    ok = ok && sc.ok && clean_exit;
    std::printf(
        "store %s: %llu notifications (%llu of the stream missing, %llu extra), %llu orphaned, "
        "%zu lost ranges, %llu dead letters (expected %llu to %llu), SIGTERM exit %s%s\n",
        in.name.c_str(), static_cast<unsigned long long>(sc.notifications),
        static_cast<unsigned long long>(sc.missing), static_cast<unsigned long long>(sc.extra),
        static_cast<unsigned long long>(sc.orphaned.size()), sc.lost_ranges.size(),
        static_cast<unsigned long long>(sc.dead_letters),
        static_cast<unsigned long long>(truth.bad), static_cast<unsigned long long>(fc.bad_entries),
        exits[i] ? std::to_string(*exits[i]).c_str() : "none (killed)",
        sc.ok && clean_exit
            ? ""
            : (sc.error.empty() ? "   <-- FAILED" : ("   <-- " + sc.error).c_str()));
    std::printf("  %s: %s\n", in.name.c_str(), counters[i].c_str());
  }
  // Every instance ingests the bridge's copies from the stream: the stores agree.
  bool ps_agree = stores.size() < 2 || stores[0].pubsub_seen == stores[1].pubsub_seen;
  if (!ps_agree) std::printf("pub/sub: the stores hold different messages   <-- FAILED\n");
  ok = ok && ps_agree;
  std::printf("soak: %s\n",
              ok ? "PASS: every client got every notification Redis kept, in order, at most once; "
                   "every acknowledged one Redis lost was reported or never ingested"
                 : "FAIL (see the rows marked above; logs kept)");
  if (!ok || o.keep) {
    std::printf("soak: work dir kept: %s\n", o.dir.c_str());
  } else if (made_dir) {
    if (!c.sentinels()) c.redis().kill();
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
  std::string faults;
  app.add_option("--faults", faults,
                 "Fault kinds the schedule cycles through, in this order, comma-separated (a kind "
                 "may repeat): kill, held-commit, stop, redis-restart, client-kill, bad-burst, "
                 "failover, lossy-failover (default: kill,stop,redis-restart,client-kill,"
                 "bad-burst,held-commit)");
  app.add_flag("--sentinel", o.sentinel,
               "Run on a master, a replica and three Sentinels (redis+sentinel:// URLs); implied "
               "by failover and lossy-failover");
  app.add_option("--wait-users", o.wait_users,
                 "Users whose topics are published with WAIT 1 (default: half of --users with "
                 "--sentinel, else 0; the others and \"all\" without)")
      ->check(CLI::Range(0, 1000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!faults.empty()) {
    o.faults.clear();
    std::size_t at = 0;
    while (at <= faults.size()) {
      auto end = faults.find(',', at);
      std::string name = faults.substr(at, end == std::string::npos ? std::string::npos : end - at);
      at = end == std::string::npos ? faults.size() + 1 : end + 1;
      const cutover::soak::fault_name* found = nullptr;
      for (const auto& f : cutover::soak::kFaultNames)
        if (name == f.name) found = &f;
      if (!found) {
        std::fprintf(stderr, "soak: --faults: unknown kind '%s'\n", name.c_str());
        return 2;
      }
      o.faults.push_back(found->kind);
    }
  }
  for (auto k : o.faults) o.sentinel = o.sentinel || cutover::soak::is_failover(k);
  if (o.wait_users < 0) o.wait_users = o.sentinel ? o.users / 2 : 0;
  if (o.wait_users > 0 && !o.sentinel) {
    std::fprintf(stderr, "soak: --wait-users needs --sentinel (WAIT 1 needs a replica)\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  return cutover::soak::run(o);
}
