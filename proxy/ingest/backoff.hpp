#pragma once
// Reconnect pacing shared by the ingest readers and the publisher: exponential growth from
// `base` to `cap`, with jitter so many proxies restarting together do not retry in step.
// Used by one thread at a time.

#include <algorithm>
#include <chrono>
#include <random>

namespace cutover::ingest {

class backoff {
 public:
  backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
      : base_(std::max<std::chrono::milliseconds>(base, std::chrono::milliseconds(1))),
        cap_(std::max(cap, base_)),
        rng_(std::random_device{}()) {}

  // The next delay: uniform in [d/2, d] where d doubles per attempt up to the cap.
  std::chrono::milliseconds next() {
    auto d = base_;
    for (unsigned i = 0; i < attempts_ && d < cap_; ++i) d *= 2;
    d = std::min(d, cap_);
    ++attempts_;
    std::uniform_int_distribution<long long> pick(d.count() / 2, d.count());
    return std::chrono::milliseconds(pick(rng_));
  }
  void reset() noexcept { attempts_ = 0; }
  unsigned attempts() const noexcept { return attempts_; }

 private:
  std::chrono::milliseconds base_, cap_;
  unsigned attempts_ = 0;
  std::minstd_rand rng_;
};

}  // namespace cutover::ingest
