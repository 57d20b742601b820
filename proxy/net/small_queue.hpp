#pragma once
// A FIFO that owns no memory while empty (std::deque allocates ~600 bytes even when
// empty, paid by every idle connection). Grows by doubling; a drained queue gives its
// slots back, so an idle connection pays for none (one small allocation per burst).

#include <cstddef>
#include <utility>
#include <vector>

namespace cutover::net {

template <class T>
class small_queue {
 public:
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  T& front() noexcept { return buf_[head_]; }
  T& operator[](std::size_t i) noexcept { return buf_[(head_ + i) % buf_.size()]; }

  void push_back(T v) {
    if (count_ == buf_.size()) grow();
    buf_[(head_ + count_) % buf_.size()] = std::move(v);
    ++count_;
  }
  void pop_front() noexcept {
    // Move the element out rather than assign over it: std::string's move-assignment from
    // a short string keeps the slot's heap buffer, so each slot would hold its last frame.
    { T gone(std::move(buf_[head_])); }
    head_ = (head_ + 1) % buf_.size();
    if (--count_ == 0) release();
  }
  void clear() noexcept {
    count_ = 0;
    release();
  }

 private:
  void grow() {
    std::vector<T> next(buf_.empty() ? 4 : buf_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i) next[i] = std::move(buf_[(head_ + i) % buf_.size()]);
    buf_.swap(next);
    head_ = 0;
  }
  void release() noexcept {
    head_ = 0;
    std::vector<T>().swap(buf_);
  }

  std::vector<T> buf_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace cutover::net
