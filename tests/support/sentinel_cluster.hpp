#pragma once
// Test support: a real Redis deployment as DESIGN §3 "High availability" and docs/deploy.md
// describe it, on free loopback ports: a master, one replica, and three Sentinels monitoring
// master "cutover". Waits on the servers' own log lines (sync finished, +slave, +switch-master),
// never sleeps.

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "redis_server.hpp"
#include "subprocess.hpp"

namespace cutover::testing {

struct sentinel_options {
  int min_replicas_to_write = 1;  // on both servers (the replica uses it once promoted)
  int min_replicas_max_lag = 2;
  bool appendonly = false;  // both servers (the soak restarts them and must keep their data)
  std::string appendfsync = "everysec";
};

class sentinel_cluster {
 public:
  explicit sentinel_cluster(sentinel_options opt = {});
  ~sentinel_cluster();

  // redis+sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/cutover
  std::string url() const;
  // The port the Sentinels name as master now.
  int master_port();
  redis_server& server(int port);  // the master or the replica, by port
  int other_port(int port) const { return port == a_->port() ? b_->port() : a_->port(); }
  // SENTINEL FAILOVER, then waits until the first Sentinel announces +switch-master and the
  // new master says ROLE master. Returns the new master's port.
  int failover();
  // Waits for the next hello (__sentinel__:hello, every 2 s once its link is up) that Sentinel
  // `port` publishes on the replica: that Sentinel then has a link to the replica and has sent
  // it INFO, the conditions SENTINEL FAILOVER needs to pick it (else NOGOODSLAVE).
  bool wait_hello(int port, std::chrono::seconds within = std::chrono::seconds(30));
  subprocess& sentinel(int i) { return *sentinels_[static_cast<std::size_t>(i)]; }
  int sentinel_port(int i) const { return ports_[static_cast<std::size_t>(i)]; }

 private:
  sentinel_options opt_;
  std::unique_ptr<redis_server> a_, b_;
  temp_dir dir_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<subprocess>> sentinels_;
  std::size_t switches_seen_ = 0;
  struct context_free {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  std::unique_ptr<redisContext, context_free> hello_;  // SUBSCRIBE __sentinel__:hello, replica
};

}  // namespace cutover::testing
