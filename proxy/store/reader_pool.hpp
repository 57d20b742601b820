#pragma once
// Store reads off the I/O threads: a few threads, each with its own reader connection,
// taking jobs from one bounded queue. A job runs on a pool thread and must post its
// result back to whoever asked (e.g. an I/O thread's io_context).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "store/store.hpp"

namespace cutover::store {

class reader_pool {
 public:
  using job = std::function<void(reader&)>;

  reader_pool() = default;
  ~reader_pool();
  reader_pool(const reader_pool&) = delete;
  reader_pool& operator=(const reader_pool&) = delete;

  // Opens `threads` reader connections and starts the threads.
  status start(const std::string& path, std::size_t threads, std::size_t queue_limit);
  // Finishes queued jobs, then joins.
  void stop();

  // Queues a job; false when the queue is full (the caller sheds load).
  bool submit(job j);
  std::size_t queued() const;

 private:
  void run(reader& r);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job> jobs_;
  std::size_t limit_ = 0;
  bool stopping_ = false;
  std::vector<reader> readers_;
  std::vector<std::thread> threads_;
};

}  // namespace cutover::store
