#pragma once
// A Sentinel announced a new master (DESIGN §3): raised by the switch_watcher's thread, taken
// by the stream reader's. An eventfd, so the reader's waits (poll) end at once.

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cutover::ingest {

// Raised from the watcher thread, taken by the stream reader's thread.
class switch_signal {
 public:
  switch_signal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~switch_signal() {
    if (fd_ >= 0) ::close(fd_);
  }
  switch_signal(const switch_signal&) = delete;
  switch_signal& operator=(const switch_signal&) = delete;

  // Sentinel `sentinel` (an index into the endpoint's list) announced a new master.
  void announce(std::size_t sentinel) noexcept {
    preferred_.store(sentinel, std::memory_order_release);
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }
  // Readable while an announcement is not yet taken (connection_settings::cut_fd).
  int fd() const noexcept { return fd_; }
  // Takes a pending announcement (the fd is no longer readable); true when there was one.
  bool take() noexcept {
    std::uint64_t v = 0;
    return ::read(fd_, &v, sizeof v) == static_cast<ssize_t>(sizeof v) && v > 0;
  }
  // The Sentinel to ask first: the last one that announced a switch (0 before any).
  std::size_t preferred() const noexcept { return preferred_.load(std::memory_order_acquire); }

 private:
  int fd_ = -1;
  std::atomic<std::size_t> preferred_{0};
};

}  // namespace cutover::ingest
