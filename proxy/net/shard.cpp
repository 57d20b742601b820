#include "net/shard.hpp"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>

#include "net/push_carrier.hpp"

namespace cutover::net {

shard::shard(server_context& ctx, unsigned index)
    : ctx_(ctx), index_(index), io_(std::make_unique<boost::asio::io_context>(1)) {
  sweep_timer_.emplace(*io_);
  park_timer_.emplace(*io_);
  host_ = std::make_unique<shard_host>(*this);
}

shard::~shard() {
  join();
  sweep_timer_.reset();
  park_timer_.reset();
  io_.reset();  // destroys pending handlers while the lists they touch still exist
}

void shard::start() {
  arm_sweep();
  thread_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(*io_);
    try {
      io_->run();
    } catch (const std::exception& e) {
      // A handler threw: a bug. Say where, then let the process die loudly.
      std::fprintf(stderr, "cutover: io thread %u: unexpected exception: %s\n", index_, e.what());
      std::abort();
    }
  });
}

void shard::join() {
  if (thread_.joinable()) thread_.join();
}

void shard::deliver(shared_batch batch) {
  boost::asio::post(*io_, [this, b = std::move(batch)] { on_batch(b); });
}

void shard::lost(stream_id after, stream_id through) {
  boost::asio::post(*io_, [this, after, through] {
    ++epoch_;
    wake_.clear();
    for (auto& [topic, subs] : registry_)
      for (subscriber* s : subs) {
        if (s->epoch_ == epoch_) continue;
        s->epoch_ = epoch_;
        wake_.push_back(s);
      }
    for (subscriber* s : wake_) s->on_lost(after, through);
  });
}

void shard::on_batch(const shared_batch& batch) {
  if (registry_.empty()) return;
  ++epoch_;
  groups_.clear();
  wake_.clear();
  for (const auto& n : *batch) {
    if (registry_.find(n->topic) == registry_.end()) continue;
    groups_[n->topic].push_back(n);
  }
  for (const auto& [topic, entries] : groups_) {
    auto it = registry_.find(topic);
    for (subscriber* s : it->second) {
      if (s->epoch_ == epoch_) continue;
      s->epoch_ = epoch_;
      wake_.push_back(s);
    }
  }
  if (groups_.size() == 1) {
    // One topic in this batch (the fan-out case): every woken subscriber reads that topic.
    const auto& only = groups_.begin()->second;
    for (subscriber* s : wake_) s->on_entries(only);
    return;
  }
  for (subscriber* s : wake_) {
    // The subscriber's own topics only, merged in id order (one slice needs no merge).
    const std::vector<notification_ptr>* only = nullptr;
    std::size_t slices = 0;
    for (const auto& t : *s->topics_) {
      auto g = groups_.find(t);
      if (g == groups_.end()) continue;
      only = &g->second;
      ++slices;
    }
    if (slices == 1) {
      s->on_entries(*only);
      continue;
    }
    merged_.clear();
    for (const auto& t : *s->topics_) {
      auto g = groups_.find(t);
      if (g != groups_.end()) merged_.insert(merged_.end(), g->second.begin(), g->second.end());
    }
    std::sort(merged_.begin(), merged_.end(),
              [](const notification_ptr& a, const notification_ptr& b) { return a->id < b->id; });
    s->on_entries(merged_);
  }
}

void shard::subscribe(subscriber& s, topic_list topics) {
  unsubscribe(s);
  s.topics_ = std::move(topics);
  s.slots_.reserve(s.topics_->size());
  for (const auto& t : *s.topics_) {
    auto& list = registry_[t];
    s.slots_.push_back({&list, list.size()});
    list.push_back(&s);
  }
}

void shard::unsubscribe(subscriber& s) {
  for (const auto& slot : s.slots_) {
    auto& list = *slot.list;
    subscriber* last = list.back();
    if (last != &s) {
      // Swap-remove: the last subscriber takes this index.
      list[slot.index] = last;
      for (auto& ls : last->slots_)
        if (ls.list == &list) ls.index = slot.index;
    }
    list.pop_back();
  }
  // Empty topic lists stay until the sweep: a poller that re-polls at once reuses them.
  s.slots_.clear();
  s.slots_.shrink_to_fit();
}

void shard::park(parked_poll& p, clock::time_point deadline) {
  p.park_deadline = deadline;
  parked_.push_back(p);
  if (!park_timer_armed_) arm_park_timer();
}

void shard::arm_park_timer() {
  parked_poll* first = parked_.front();
  if (!first) return;
  park_timer_armed_ = true;
  park_timer_->expires_at(first->park_deadline);
  park_timer_->async_wait([this](boost::system::error_code ec) {
    park_timer_armed_ = false;
    if (!ec) on_park_timer();
  });
}

void shard::on_park_timer() {
  auto now = clock::now();
  // Every poll has the same timeout, so the list is in deadline order.
  while (parked_poll* p = parked_.front()) {
    if (p->park_deadline > now) break;
    parked_.erase(*p);
    p->on_deadline();
  }
  arm_park_timer();
}

void shard::arm_sweep() {
  sweep_timer_->expires_after(std::chrono::seconds(1));
  sweep_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    auto now = clock::now();
    for (auto it = registry_.begin(); it != registry_.end();)
      it = it->second.empty() ? registry_.erase(it) : std::next(it);
    for (connection_base* c = connections_.front(); c;) {
      connection_base* next = connections_.next(*c);
      c->on_tick(now);
      c = next;
    }
    arm_sweep();
  });
}

void shard::shutdown_connections() {
  for (connection_base* c = connections_.front(); c;) {
    connection_base* next = connections_.next(*c);
    c->on_shutdown();
    c = next;
  }
}

}  // namespace cutover::net
