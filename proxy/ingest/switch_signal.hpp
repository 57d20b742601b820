#pragma once
// A Sentinel announced a new master (DESIGN §3): raised by the switch_watcher's thread, taken
// by the stream reader's and the pub/sub bridge's. Eventfds, so their waits (poll) end at once.

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cutover::ingest {

// Who waits on the signal; each has an fd of its own, so each takes its own announcement.
enum class switch_waiter : std::size_t { stream = 0, bridge = 1 };

// Raised from the watcher thread, taken by the stream reader's and the pub/sub bridge's.
class switch_signal {
 public:
  switch_signal() {
    for (auto& fd : fds_) fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~switch_signal() {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  switch_signal(const switch_signal&) = delete;
  switch_signal& operator=(const switch_signal&) = delete;

  // Sentinel `sentinel` (an index into the endpoint's list) announced a new master.
  void announce(std::size_t sentinel) noexcept {
    preferred_.store(sentinel, std::memory_order_release);
    std::uint64_t one = 1;
    for (int fd : fds_) {
      [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
    }
  }
  // Readable while an announcement is not yet taken by `who` (connection_settings::cut_fd).
  int fd(switch_waiter who) const noexcept { return fds_[static_cast<std::size_t>(who)]; }
  // Takes a pending announcement of `who` (its fd is no longer readable); true when there was.
  bool take(switch_waiter who) noexcept {
    std::uint64_t v = 0;
    return ::read(fd(who), &v, sizeof v) == static_cast<ssize_t>(sizeof v) && v > 0;
  }
  // The Sentinel to ask first: the last one that announced a switch (0 before any).
  std::size_t preferred() const noexcept { return preferred_.load(std::memory_order_acquire); }

 private:
  int fds_[2] = {-1, -1};
  std::atomic<std::size_t> preferred_{0};
};

}  // namespace cutover::ingest
