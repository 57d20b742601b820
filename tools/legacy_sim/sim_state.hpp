#pragma once
// What every worker thread of the old app shares: configuration, login sessions,
// request counters (read by tests through GET /stats) and the stop signal.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "options.hpp"
#include "sessions.hpp"

namespace cutover::legacy_sim {

// Set once at SIGTERM/SIGINT. Sleeping handlers wait on it so shutdown does not have to
// sit out a 30 s poll; it is never used to signal arrivals (the old app had no such thing).
class stop_signal {
 public:
  void request() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }
  // Sleeps for `d`; returns true (early) when a stop was requested.
  bool sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, d, [this] { return stopping_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

struct sim_state {
  explicit sim_state(sim_options o) : options(std::move(o)) {}

  const sim_options options;
  session_table sessions;
  stop_signal stop;
  std::atomic<std::uint64_t> me_requests{0};  // who-am-I calls (Cutover's --auth upstream)
  std::atomic<std::uint64_t> poll_requests{0};
  std::atomic<std::uint64_t> waiting_polls{0};  // polls currently holding a worker thread
};

}  // namespace cutover::legacy_sim
