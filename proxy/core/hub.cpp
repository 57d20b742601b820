#include "core/hub.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>

namespace cutover {
namespace {

std::uint64_t wall_ms_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

hub::hub(std::optional<stream_id> head, std::map<std::string, stream_id> marks, hub_limits limits)
    : limits_(limits),
      floor_(head.value_or(stream_id{})),
      head_(head),
      committed_head_(head),
      marks_(marks.begin(), marks.end()) {}

void hub::add_target(fanout_target* t) {
  targets_.push_back(t);
}

void hub::cache_locked(const notification_ptr& n) {
  auto& q = by_topic_[n->topic];
  // Ids normally arrive in order; pub/sub or several streams may interleave.
  if (q.empty() || q.back()->id < n->id)
    q.push_back(n);
  else
    q.insert(
        std::upper_bound(q.begin(), q.end(), n->id,
                         [](const stream_id& id, const notification_ptr& x) { return id < x->id; }),
        n);
  fifo_.push_back(n);
  bytes_ += n->footprint();
  if (!head_ || *head_ < n->id) head_ = n->id;
}

void hub::uncache_locked(const notification_ptr& n) {
  auto it = by_topic_.find(n->topic);
  if (it == by_topic_.end()) return;
  auto& q = it->second;
  auto pos =
      std::find_if(q.begin(), q.end(), [&](const notification_ptr& x) { return x->id == n->id; });
  if (pos == q.end()) return;
  bytes_ -= std::min(bytes_, (*pos)->footprint());
  auto f = std::find(fifo_.begin(), fifo_.end(), *pos);
  if (f != fifo_.end()) fifo_.erase(f);
  q.erase(pos);
  if (q.empty()) by_topic_.erase(it);
}

// After entries left (a loss, a withdrawal): the delivered head is the newest entry still
// held, so a session starting "from now" does not start past ids that are delivered again.
void hub::recede_head_locked() {
  std::optional<stream_id> h = committed_head_;
  if (!uncommitted_.empty() && (!h || *h < uncommitted_.rbegin()->first))
    h = uncommitted_.rbegin()->first;
  head_ = h;
}

void hub::on_committed(const notification_batch& added) {
  if (added.empty()) return;
  notification_batch fresh;  // not delivered before their commit: fanned out now
  {
    std::unique_lock lk(mu_);
    for (const auto& n : added) {
      if (!committed_head_ || *committed_head_ < n->id) committed_head_ = n->id;
      if (uncommitted_.erase(n->id)) continue;  // cached and fanned out when delivered
      cache_locked(n);
      fresh.push_back(n);
    }
    evict_locked();
    if (!fresh.empty()) head_ingested_ms_.store(wall_ms_now());
  }
  if (fresh.empty()) return;
  // Fan out outside the lock: one shared batch for every I/O thread.
  auto batch = fresh.size() == added.size()
                   ? std::make_shared<const notification_batch>(added)
                   : std::make_shared<const notification_batch>(std::move(fresh));
  for (auto* t : targets_) t->deliver(batch);
}

void hub::on_delivered(const notification_batch& early) {
  if (early.empty()) return;
  notification_batch fresh;
  {
    std::unique_lock lk(mu_);
    for (const auto& n : early) {
      if (!uncommitted_.emplace(n->id, n).second) continue;  // delivered already
      cache_locked(n);
      fresh.push_back(n);
    }
    evict_locked();
    head_ingested_ms_.store(wall_ms_now());
  }
  if (fresh.empty()) return;
  auto batch = std::make_shared<const notification_batch>(std::move(fresh));
  for (auto* t : targets_) t->deliver(batch);
}

void hub::on_withdrawn(stream_id after, stream_id through, std::uint64_t modulus,
                       std::uint64_t rest) {
  std::unique_lock lk(mu_);
  // Every cursor up to what was delivered may have seen a withdrawn entry.
  if (head_ && through < *head_) through = *head_;
  for (auto it = uncommitted_.upper_bound(after); it != uncommitted_.end();) {
    if (modulus <= 1 || it->first.seq % modulus == rest) {
      uncache_locked(it->second);
      it = uncommitted_.erase(it);
    } else {
      ++it;
    }
  }
  recede_head_locked();
  if (!(after < through)) return;
  lost_.emplace_back(after, through);
  lk.unlock();
  for (auto* t : targets_) t->lost(after, through);
}

void hub::on_settled(std::span<const stream_id> declined) {
  std::unique_lock lk(mu_);
  for (const auto& id : declined) {
    auto it = uncommitted_.find(id);
    if (it == uncommitted_.end()) continue;
    uncache_locked(it->second);
    uncommitted_.erase(it);
  }
  recede_head_locked();
}

notification_batch hub::merge(notification_batch stored, const notification_batch& early,
                              std::size_t limit) {
  notification_batch out;
  out.reserve(std::min(limit, stored.size() + early.size()));
  std::size_t i = 0, j = 0;
  while (out.size() < limit && (i < stored.size() || j < early.size())) {
    if (j == early.size() || (i < stored.size() && stored[i]->id < early[j]->id)) {
      out.push_back(std::move(stored[i++]));
    } else if (i == stored.size() || early[j]->id < stored[i]->id) {
      out.push_back(early[j++]);
    } else {
      out.push_back(std::move(stored[i++]));  // committed meanwhile: one copy
      ++j;
    }
  }
  return out;
}

notification_batch hub::uncommitted_after(std::span<const std::string> topics, stream_id after,
                                          std::size_t limit) const {
  notification_batch out;
  std::shared_lock lk(mu_);
  for (auto it = uncommitted_.upper_bound(after); it != uncommitted_.end() && out.size() < limit;
       ++it)
    if (std::find(topics.begin(), topics.end(), it->second->topic) != topics.end())
      out.push_back(it->second);
  return out;
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

std::optional<stream_id> hub::committed_head() const {
  std::shared_lock lk(mu_);
  return committed_head_;
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
  bool gone = false;
  for (const auto& n : removed) {
    uncache_locked(n);
    if (committed_head_ && !(*committed_head_ < n->id)) gone = true;
  }
  // The store's newest id after the loss: the last agreed entry, unless something of another
  // stream stays above it in memory (an under-estimate only makes a session that starts
  // "from now" read a little more).
  if (gone && committed_head_ && after < *committed_head_) {
    std::optional<stream_id> h = after.is_zero() ? std::nullopt : std::optional(after);
    for (const auto& [topic, q] : by_topic_)
      if (!q.empty() && (!h || *h < q.back()->id) && !uncommitted_.count(q.back()->id))
        h = q.back()->id;
    committed_head_ = h;
    recede_head_locked();
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
  return {fifo_.size(), bytes_, by_topic_.size(), floor_, head_, uncommitted_.size()};
}

}  // namespace cutover
