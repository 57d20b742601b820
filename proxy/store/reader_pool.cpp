#include "store/reader_pool.hpp"

namespace cutover::store {

reader_pool::~reader_pool() {
  stop();
}

status reader_pool::start(const std::string& path, std::size_t threads, std::size_t queue_limit) {
  limit_ = queue_limit;
  readers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    auto r = reader::open(path);
    if (!r) return r.err();
    readers_.push_back(std::move(*r));
  }
  for (auto& r : readers_) threads_.emplace_back([this, &r] { run(r); });
  return ok_status();
}

void reader_pool::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool reader_pool::submit(job j) {
  {
    std::lock_guard lk(mu_);
    if (stopping_ || jobs_.size() >= limit_) return false;
    jobs_.push_back(std::move(j));
  }
  cv_.notify_one();
  return true;
}

std::size_t reader_pool::queued() const {
  std::lock_guard lk(mu_);
  return jobs_.size();
}

void reader_pool::run(reader& r) {
  while (true) {
    job j;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      j = std::move(jobs_.front());
      jobs_.pop_front();
    }
    j(r);
  }
}

}  // namespace cutover::store
