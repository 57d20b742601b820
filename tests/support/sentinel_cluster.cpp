#include "sentinel_cluster.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <fstream>
#include <stdexcept>

namespace cutover::testing {
namespace {

std::vector<std::string> limits(const sentinel_options& o) {
  return {"--min-replicas-to-write",    std::to_string(o.min_replicas_to_write),
          "--min-replicas-max-lag",     std::to_string(o.min_replicas_max_lag),
          "--repl-ping-replica-period", "1"};
}

}  // namespace

sentinel_cluster::sentinel_cluster(sentinel_options opt) : opt_(opt) {
  redis_options ma;
  ma.appendonly = opt_.appendonly;
  ma.appendfsync = opt_.appendfsync;
  ma.extra_args = limits(opt_);
  a_ = std::make_unique<redis_server>(ma);
  redis_options rb = ma;
  rb.extra_args.insert(rb.extra_args.end(),
                       {"--replicaof", "127.0.0.1", std::to_string(a_->port())});
  b_ = std::make_unique<redis_server>(rb);
  if (!b_->process().wait_for_line("sync: Finished with success", std::chrono::seconds(20)))
    throw std::runtime_error("replica did not sync:\n" + b_->process().output());
  for (int i = 0; i < 3; ++i) {
    int port = free_port();
    std::string conf = dir_.file("sentinel" + std::to_string(i) + ".conf");
    std::ofstream f(conf);
    f << "port " << port << "\nbind 127.0.0.1\nprotected-mode no\ndir " << dir_.path() << "\n"
      << "sentinel monitor cutover 127.0.0.1 " << a_->port() << " 2\n"
      << "sentinel down-after-milliseconds cutover 1000\n"
      << "sentinel failover-timeout cutover 5000\n"
      << "sentinel parallel-syncs cutover 1\n";
    f.close();
    sentinels_.push_back(subprocess::spawn({"redis-server", conf, "--sentinel"}));
    ports_.push_back(port);
  }
  for (auto& s : sentinels_)
    if (!s->wait_for_line("+slave slave 127.0.0.1:" + std::to_string(b_->port()),
                          std::chrono::seconds(30)))
      throw std::runtime_error("a Sentinel did not find the replica:\n" + s->output());
  // Every Sentinel's link to the replica is up once it publishes its hello there.
  timeval tv{30, 0};
  hello_.reset(redisConnectWithTimeout("127.0.0.1", b_->port(), tv));
  if (!hello_ || hello_->err) throw std::runtime_error("cannot connect to the replica");
  redisSetTimeout(hello_.get(), tv);
  redisReply* sub =
      static_cast<redisReply*>(redisCommand(hello_.get(), "SUBSCRIBE %s", "__sentinel__:hello"));
  if (!sub) throw std::runtime_error("cannot subscribe to the replica's hellos");
  freeReplyObject(sub);
  for (int port : ports_)
    if (!wait_hello(port))
      throw std::runtime_error("no hello from Sentinel " + std::to_string(port));
}

bool sentinel_cluster::wait_hello(int port, std::chrono::seconds within) {
  // "ip,port,runid,epoch,master,..." from each Sentinel every 2 s; read until this one's.
  const std::string prefix = "127.0.0.1," + std::to_string(port) + ",";
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    void* raw = nullptr;
    if (redisGetReply(hello_.get(), &raw) != REDIS_OK || !raw) return false;
    std::unique_ptr<redisReply, decltype(&freeReplyObject)> m(static_cast<redisReply*>(raw),
                                                              &freeReplyObject);
    if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 && m->element[2]->str &&
        std::string(m->element[2]->str, m->element[2]->len).starts_with(prefix))
      return true;
  }
  return false;
}

sentinel_cluster::~sentinel_cluster() = default;

std::string sentinel_cluster::url() const {
  std::string out = "redis+sentinel://";
  for (std::size_t i = 0; i < ports_.size(); ++i)
    out += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(ports_[i]);
  return out + "/cutover";
}

int sentinel_cluster::master_port() {
  redis_client c(ports_[0]);
  auto r = c.command({"SENTINEL", "get-master-addr-by-name", "cutover"});
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
    throw std::runtime_error("Sentinel names no master");
  return std::stoi(std::string(r->element[1]->str, r->element[1]->len));
}

redis_server& sentinel_cluster::server(int port) {
  return port == a_->port() ? *a_ : *b_;
}

int sentinel_cluster::failover() {
  int old = master_port();
  std::size_t from = sentinels_[0]->line_count();
  redis_client c(ports_[0]);
  // The constructor waited for every Sentinel's hello on the replica (its link and INFO are
  // up). Should the Sentinel still find no good replica (it read the INFO reply a moment after
  // publishing its hello), its next hello is the event to ask again on; a few at most.
  auto r = c.command({"SENTINEL", "FAILOVER", "cutover"});
  for (int i = 0; i < 3 && r && r->type == REDIS_REPLY_ERROR &&
                  std::string(r->str, r->len).starts_with("NOGOODSLAVE") && wait_hello(ports_[0]);
       ++i)
    r = c.command({"SENTINEL", "FAILOVER", "cutover"});
  if (!r || r->type == REDIS_REPLY_ERROR)
    throw std::runtime_error("SENTINEL FAILOVER failed: " +
                             (r ? std::string(r->str, r->len) : std::string("no reply")));
  if (!sentinels_[0]->wait_for_line("+switch-master cutover", std::chrono::seconds(30), from))
    throw std::runtime_error("no +switch-master:\n" + sentinels_[0]->output());
  ++switches_seen_;
  int now = master_port();
  if (now == old) throw std::runtime_error("failover kept the old master");
  return now;
}

}  // namespace cutover::testing
