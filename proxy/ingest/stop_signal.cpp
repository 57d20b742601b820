#include "ingest/stop_signal.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace cutover::ingest {

stop_signal::stop_signal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

stop_signal::~stop_signal() {
  if (fd_ >= 0) ::close(fd_);
}

void stop_signal::request() noexcept {
  {
    std::lock_guard lk(mu_);
    flag_.store(true, std::memory_order_release);
  }
  if (fd_ >= 0) {
    std::uint64_t one = 1;
    // Left unread on purpose: the fd stays readable, so every later wait ends at once too.
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }
  cv_.notify_all();
}

bool stop_signal::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, d, [&] { return flag_.load(std::memory_order_acquire); });
}

}  // namespace cutover::ingest
