#pragma once
// How stop() reaches threads that may be blocked: an atomic flag for loops, an eventfd that
// becomes readable for threads waiting in poll() (connects, Redis replies), and a condition
// variable for backoff waits. Set once, from any thread; never cleared.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace cutover::ingest {

class stop_signal {
 public:
  stop_signal();
  ~stop_signal();
  stop_signal(const stop_signal&) = delete;
  stop_signal& operator=(const stop_signal&) = delete;

  void request() noexcept;
  bool requested() const noexcept { return flag_.load(std::memory_order_acquire); }
  int fd() const noexcept { return fd_; }
  // Waits `d` unless stop is requested first; true when stop was requested.
  bool wait_for(std::chrono::milliseconds d);

 private:
  std::atomic<bool> flag_{false};
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace cutover::ingest
