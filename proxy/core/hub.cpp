#include "core/hub.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>

namespace cutover {

hub::hub(std::optional<stream_id> head, std::map<std::string, stream_id> marks, hub_limits limits)
    : limits_(limits),
      floor_(head.value_or(stream_id{})),
      head_(head),
      marks_(marks.begin(), marks.end()) {}

void hub::add_target(fanout_target* t) {
  targets_.push_back(t);
}

void hub::on_committed(const notification_batch& added) {
  if (added.empty()) return;
  {
    std::unique_lock lk(mu_);
    for (const auto& n : added) {
      auto& q = by_topic_[n->topic];
      // Ids normally arrive in order; pub/sub or several streams may interleave.
      if (q.empty() || q.back()->id < n->id)
        q.push_back(n);
      else
        q.insert(std::upper_bound(
                     q.begin(), q.end(), n->id,
                     [](const stream_id& id, const notification_ptr& x) { return id < x->id; }),
                 n);
      fifo_.push_back(n);
      bytes_ += n->footprint();
      if (!head_ || *head_ < n->id) head_ = n->id;
    }
    evict_locked();
    head_ingested_ms_.store(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()));
  }
  // Fan out outside the lock: one shared batch for every I/O thread.
  auto batch = std::make_shared<const notification_batch>(added);
  for (auto* t : targets_) t->deliver(batch);
}

void hub::evict_locked() {
  while (!fifo_.empty() && (fifo_.size() > limits_.max_entries || bytes_ > limits_.max_bytes)) {
    notification_ptr victim = std::move(fifo_.front());
    fifo_.pop_front();
    bytes_ -= std::min(bytes_, victim->footprint());
    auto it = by_topic_.find(victim->topic);
    if (it != by_topic_.end()) {
      auto& q = it->second;
      auto pos = std::find(q.begin(), q.end(), victim);  // almost always q.begin()
      if (pos != q.end()) q.erase(pos);
      if (q.empty()) by_topic_.erase(it);
    }
    // Everything at or before the newest evicted id may now be missing from memory.
    if (floor_ < victim->id) floor_ = victim->id;
  }
}

void hub::on_pruned(const std::map<std::string, stream_id>& marks) {
  std::unique_lock lk(mu_);
  for (const auto& [topic, id] : marks) {
    auto [it, fresh] = marks_.emplace(topic, id);
    if (!fresh && it->second < id) it->second = id;
  }
}

void hub::on_prune_floor(stream_id floor) {
  std::unique_lock lk(mu_);
  if (!prune_floor_ || *prune_floor_ < floor) prune_floor_ = floor;
  std::erase_if(marks_, [&](const auto& m) { return !(*prune_floor_ < m.second); });
}

std::vector<std::optional<stream_id>> hub::marks_for(std::span<const std::string> topics) const {
  std::shared_lock lk(mu_);
  std::vector<std::optional<stream_id>> out;
  out.reserve(topics.size());
  for (const auto& t : topics) {
    std::optional<stream_id> m = prune_floor_;
    if (auto it = marks_.find(t); it != marks_.end() && (!m || *m < it->second)) m = it->second;
    out.push_back(m);
  }
  return out;
}

std::size_t hub::mark_count() const {
  std::shared_lock lk(mu_);
  return marks_.size();
}

std::optional<notification_batch> hub::fetch(std::span<const std::string> topics, stream_id after,
                                             std::size_t limit) const {
  if (lost_resume(after)) return std::nullopt;  // expired: the store path says so
  std::shared_lock lk(mu_);
  if (after < floor_) return std::nullopt;
  if (!after.is_zero() && prune_floor_ && after < *prune_floor_) return std::nullopt;
  for (const auto& t : topics) {
    auto m = marks_.find(t);
    if (m != marks_.end() && after < m->second) return std::nullopt;  // expired: the store says so
  }
  notification_batch out;
  // Cursor into each topic's queue, then a k-way merge (topics are few).
  std::vector<std::pair<std::deque<notification_ptr>::const_iterator,
                        std::deque<notification_ptr>::const_iterator>>
      runs;
  for (const auto& t : topics) {
    auto it = by_topic_.find(t);
    if (it == by_topic_.end()) continue;
    const auto& q = it->second;
    auto first =
        std::upper_bound(q.begin(), q.end(), after,
                         [](const stream_id& id, const notification_ptr& x) { return id < x->id; });
    if (first != q.end()) runs.emplace_back(first, q.end());
  }
  while (out.size() < limit) {
    std::size_t best = runs.size();
    for (std::size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].first == runs[i].second) continue;
      if (best == runs.size() || (*runs[i].first)->id < (*runs[best].first)->id) best = i;
    }
    if (best == runs.size()) break;
    out.push_back(*runs[best].first++);
  }
  return out;
}

std::optional<stream_id> hub::head() const {
  std::shared_lock lk(mu_);
  return head_;
}

bool hub::expired(std::span<const std::string> topics, stream_id after) const {
  if (after.is_zero()) return false;  // "from the oldest retained" is never expired
  if (lost_resume(after)) return true;
  std::shared_lock lk(mu_);
  if (prune_floor_ && after < *prune_floor_) return true;
  for (const auto& t : topics) {
    auto m = marks_.find(t);
    if (m != marks_.end() && after < m->second) return true;
  }
  return false;
}

// ---- losses by Redis (DESIGN §3) ---------------------------------------------

void hub::on_lost(const notification_batch& removed, stream_id after, stream_id through) {
  std::unique_lock lk(mu_);
  for (const auto& n : removed) {
    auto it = by_topic_.find(n->topic);
    if (it == by_topic_.end()) continue;
    auto& q = it->second;
    auto pos =
        std::find_if(q.begin(), q.end(), [&](const notification_ptr& x) { return x->id == n->id; });
    if (pos == q.end()) continue;
    bytes_ -= std::min(bytes_, (*pos)->footprint());
    auto f = std::find(fifo_.begin(), fifo_.end(), *pos);
    if (f != fifo_.end()) fifo_.erase(f);
    q.erase(pos);
    if (q.empty()) by_topic_.erase(it);
  }
  if (after < through) lost_.emplace_back(after, through);
  lk.unlock();
  for (auto* t : targets_) t->lost(after, through);
}

std::optional<stream_id> hub::lost_resume(stream_id after) const {
  if (after.is_zero()) return std::nullopt;
  std::shared_lock lk(mu_);
  std::optional<stream_id> resume;
  for (const auto& [from, through] : lost_)
    if (from < after && !(through < after) && (!resume || from.next() < *resume))
      resume = from.next();
  return resume;
}

hub_stats hub::stats() const {
  std::shared_lock lk(mu_);
  return {fifo_.size(), bytes_, by_topic_.size(), floor_, head_};
}

}  // namespace cutover
