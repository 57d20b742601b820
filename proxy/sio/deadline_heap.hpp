#pragma once
// The deadlines of every Engine.IO session on one I/O thread in one binary min-heap, so the
// thread needs one timer (armed at the earliest deadline) instead of one per session: an idle
// session pays a heap slot and its position (about 24 bytes) rather than a timer object and
// its pending wait (about 0.2 KiB). Each session has at most one deadline, the earliest thing
// eio_session::next_deadline() (or its owner) has to do; changing it is O(log n) and happens
// a few times per ping interval. Not thread-safe: one thread (the owner shard's) uses it.
//
// `T` holds a `deadline_hook` (named by `Hook`) that records where it is in the heap, so
// moving or dropping a session's deadline needs no search. A session must be cancelled (or
// popped) before it is destroyed; clear() lets go of every session at once.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace cutover::sio {

struct deadline_hook {
  static constexpr std::uint32_t npos = UINT32_MAX;
  std::uint32_t pos = npos;  // index in the heap, npos when not scheduled
  bool scheduled() const noexcept { return pos != npos; }
};

template <class T, deadline_hook T::*Hook, class Clock = std::chrono::steady_clock>
class deadline_heap {
 public:
  using time_point = typename Clock::time_point;

  std::size_t size() const noexcept { return heap_.size(); }
  bool empty() const noexcept { return heap_.empty(); }
  // The earliest deadline (nullopt: none).
  std::optional<time_point> next() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().at;
  }
  // When `x` is due (nullopt: not scheduled).
  std::optional<time_point> due(const T& x) const {
    auto p = (x.*Hook).pos;
    if (p == deadline_hook::npos) return std::nullopt;
    return heap_[p].at;
  }

  // Schedules `x` at `at`, or moves its deadline there. True when the earliest deadline of
  // the heap became earlier (the caller re-arms its timer).
  bool schedule(T& x, time_point at) {
    auto before = next();
    auto& h = x.*Hook;
    if (h.pos == deadline_hook::npos) {
      h.pos = static_cast<std::uint32_t>(heap_.size());
      heap_.push_back({at, &x});
      up(h.pos);
    } else {
      auto old = heap_[h.pos].at;
      heap_[h.pos].at = at;
      if (at < old)
        up(h.pos);
      else
        down(h.pos);
    }
    return !before || heap_.front().at < *before;
  }

  void cancel(T& x) {
    auto& h = x.*Hook;
    if (h.pos == deadline_hook::npos) return;
    remove_at(h.pos);
  }

  // One session whose deadline is at or before `now`, taken out of the heap; nullptr when none.
  T* pop_due(time_point now) {
    if (heap_.empty() || now < heap_.front().at) return nullptr;
    T* x = heap_.front().item;
    remove_at(0);
    return x;
  }

  // Lets go of every session (their hooks say "not scheduled").
  void clear() noexcept {
    for (auto& e : heap_) (e.item->*Hook).pos = deadline_hook::npos;
    std::vector<entry>().swap(heap_);
  }

 private:
  struct entry {
    time_point at;
    T* item;
  };

  void place(std::size_t i, entry e) {
    heap_[i] = e;
    (e.item->*Hook).pos = static_cast<std::uint32_t>(i);
  }
  void up(std::size_t i) {
    entry e = heap_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!(e.at < heap_[parent].at)) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }
  void down(std::size_t i) {
    entry e = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap_[child + 1].at < heap_[child].at) ++child;
      if (!(heap_[child].at < e.at)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, e);
  }
  void remove_at(std::size_t i) {
    (heap_[i].item->*Hook).pos = deadline_hook::npos;
    entry last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    place(i, last);
    if (i > 0 && last.at < heap_[(i - 1) / 2].at)
      up(i);
    else
      down(i);
    // A heap that shrank a lot gives memory back (sessions come and go in waves).
    if (heap_.capacity() > 64 && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
  }

  std::vector<entry> heap_;
};

}  // namespace cutover::sio
