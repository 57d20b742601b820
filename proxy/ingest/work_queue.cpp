#include "ingest/work_queue.hpp"

#include <algorithm>
#include <iterator>

namespace cutover::ingest {

void work_batch::account() noexcept {
  // Strings plus a rough per-entry overhead; close enough to bound memory, cheap to compute.
  std::size_t n = 0;
  for (const auto& p : batch.entries)
    n += 96 + p.entry.topic.size() + p.entry.type.size() + p.entry.data.size() +
         (p.entry.key ? p.entry.key->size() : 0);
  for (const auto& d : batch.dead)
    n += 128 + d.source.size() + d.entry_id.size() + d.raw.size() + d.reason.size();
  bytes = n + 64 * batch.offsets.size() + delivered_bytes;
}

bool work_queue::push(work_batch&& b) {
  std::unique_lock lk(mu_);
  not_full_.wait(lk, [&] {
    return closed_ || q_.empty() || bytes_ + b.bytes <= capacity_ ||
           (b.from != work_batch::origin::pubsub && b.epoch != epoch_);
  });
  if (closed_) return false;
  // A stream batch or a loss finding made before a commit failed is stale: dropped.
  if (b.from != work_batch::origin::pubsub && b.epoch != epoch_) return false;
  bytes_ += b.bytes;
  entries_ += b.batch.entries.size();
  if (b.from != work_batch::origin::stream) ++others_;
  q_.push_back(std::move(b));
  // A lingering writer waits on its own condition and hears only of what ends the wait.
  const bool wake_lingering = lingering_ && linger_done_locked();
  lk.unlock();
  if (wake_lingering)
    lingered_.notify_one();
  else
    not_empty_.notify_one();
  return true;
}

bool work_queue::linger_done_locked() const {
  return closed_ || others_ > 0 || entries_ >= linger_entries_ || bytes_ >= linger_bytes_;
}

void work_queue::linger(std::chrono::steady_clock::time_point until, std::size_t entries,
                        std::size_t bytes) {
  std::unique_lock lk(mu_);
  linger_entries_ = entries;
  linger_bytes_ = bytes;
  lingering_ = true;
  lingered_.wait_until(lk, until, [&] { return linger_done_locked(); });
  lingering_ = false;
}

work_queue::pop_result work_queue::pop(work_batch& out,
                                       std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lk(mu_);
  if (!not_empty_.wait_until(lk, deadline, [&] { return !q_.empty() || closed_; }))
    return pop_result::timeout;
  if (q_.empty()) return pop_result::closed;
  out = std::move(q_.front());
  q_.pop_front();
  bytes_ -= out.bytes;
  entries_ -= out.batch.entries.size();
  if (out.from != work_batch::origin::stream) --others_;
  lk.unlock();
  not_full_.notify_all();
  return pop_result::batch;
}

std::size_t work_queue::pop_more(work_batch& into, std::size_t max_entries, std::size_t max_bytes) {
  std::size_t merged = 0;
  {
    std::lock_guard lk(mu_);
    while (!q_.empty()) {
      work_batch& next = q_.front();
      if (next.from != into.from || next.epoch != into.epoch || into.loss) break;
      auto& a = into.batch;
      auto& b = next.batch;
      // The transaction's size is what it writes, not what the hub holds meanwhile.
      if (a.entries.size() + b.entries.size() > max_entries ||
          into.bytes - into.delivered_bytes + next.bytes - next.delivered_bytes > max_bytes)
        break;
      entries_ -= b.entries.size();
      if (next.from != work_batch::origin::stream) --others_;
      a.entries.insert(a.entries.end(), std::make_move_iterator(b.entries.begin()),
                       std::make_move_iterator(b.entries.end()));
      a.dead.insert(a.dead.end(), std::make_move_iterator(b.dead.begin()),
                    std::make_move_iterator(b.dead.end()));
      // A later batch's offset for the same stream supersedes the earlier one.
      for (auto& o : b.offsets) {
        auto it = std::find_if(a.offsets.begin(), a.offsets.end(),
                               [&](const store::stream_offset& x) { return x.stream == o.stream; });
        if (it != a.offsets.end())
          it->id = o.id;
        else
          a.offsets.push_back(std::move(o));
      }
      a.skipped_duplicate_ids += b.skipped_duplicate_ids;
      a.skipped_duplicate_keys += b.skipped_duplicate_keys;
      into.bytes += next.bytes;
      into.delivered_bytes += next.delivered_bytes;
      bytes_ -= next.bytes;
      q_.pop_front();
      ++merged;
    }
  }
  if (merged) not_full_.notify_all();
  return merged;
}

void work_queue::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  lingered_.notify_all();
  not_empty_.notify_all();
  not_full_.notify_all();
}

bool work_queue::closed() const {
  std::lock_guard lk(mu_);
  return closed_;
}

std::uint64_t work_queue::epoch() const {
  std::lock_guard lk(mu_);
  return epoch_;
}

void work_queue::wait_epoch_past(std::uint64_t seen, stop_signal& stop,
                                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lk(mu_);
  while (epoch_ == seen && !stop.requested() && std::chrono::steady_clock::now() < deadline)
    not_full_.wait_for(lk, std::chrono::milliseconds(50));
}

std::size_t work_queue::invalidate_streams() {
  std::size_t dropped = 0;
  {
    std::lock_guard lk(mu_);
    ++epoch_;
    auto it = std::remove_if(q_.begin(), q_.end(), [](const work_batch& b) {
      return b.from == work_batch::origin::stream;
    });
    dropped = static_cast<std::size_t>(q_.end() - it);
    q_.erase(it, q_.end());
    bytes_ = entries_ = 0;
    for (const auto& b : q_) {
      bytes_ += b.bytes;
      entries_ += b.batch.entries.size();
    }
  }
  not_full_.notify_all();
  return dropped;
}

}  // namespace cutover::ingest
