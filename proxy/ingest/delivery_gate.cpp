#include "ingest/delivery_gate.hpp"

namespace cutover::ingest {
namespace {

bool same_content(const notification& n, const decoded_entry& e) {
  return n.topic == e.topic && n.type == e.type && n.data == e.data;
}

}  // namespace

delivery_gate::delivery_gate(store::reader store, std::optional<stream_id> head)
    : store_(std::move(store)), start_head_(head) {}

std::string delivery_gate::key_of(const decoded_entry& e) {
  if (!e.key) return {};
  std::string k;
  k.reserve(e.topic.size() + 1 + e.key->size());
  k.append(e.topic).push_back('\0');
  k.append(*e.key);
  return k;
}

delivery_gate::decision delivery_gate::admit(const store::pending_entry& p) {
  const auto& e = p.entry;
  std::string key = key_of(e);
  {
    // Pending first, then the store: an entry leaves the pending set only after its commit,
    // so whatever is not pending any more is visible to the store look-up that follows.
    std::lock_guard lk(mu_);
    if (auto it = pending_.find(p.id); it != pending_.end()) {
      if (!same_content(*it->second.entry, e)) return {verdict::changed, it->second.entry, {}};
      return {it->second.delivered ? verdict::recommit : verdict::undecided, it->second.entry, {}};
    }
    if (!key.empty() && keys_.count(key)) return {verdict::duplicate_key, nullptr, {}};
  }
  auto make = [&] { return std::make_shared<const notification>(p.id, e.topic, e.type, e.data); };
  auto hold = [&](bool delivered, notification_ptr n) {
    std::lock_guard lk(mu_);
    auto [it, fresh] = pending_.emplace(p.id, slot{n, key, delivered});
    if (fresh && !key.empty()) keys_.emplace(std::move(key), p.id);
    return n;
  };
  // Only an id at or below the store's head at start can be stored without this gate.
  if (start_head_ && !(*start_head_ < p.id)) {
    auto found = store_.find(p.id);
    if (!found) return {verdict::undecided, hold(false, make()), found.err().message};
    if (*found) {
      if (same_content(**found, e)) return {verdict::duplicate_id, nullptr, {}};
      return {verdict::collision, nullptr, {}};
    }
  }
  if (e.key) {
    auto has = store_.has_key(e.topic, *e.key);
    if (!has) return {verdict::undecided, hold(false, make()), has.err().message};
    if (*has) return {verdict::duplicate_key, nullptr, {}};
  }
  return {verdict::deliver, hold(true, make()), {}};
}

void delivery_gate::drop_locked(std::map<stream_id, slot>::iterator it) {
  if (!it->second.key.empty()) {
    auto k = keys_.find(it->second.key);
    if (k != keys_.end() && k->second == it->first) keys_.erase(k);
  }
  pending_.erase(it);
}

void delivery_gate::settle(std::span<const store::pending_entry> entries) {
  std::lock_guard lk(mu_);
  for (const auto& p : entries)
    if (auto it = pending_.find(p.id); it != pending_.end()) drop_locked(it);
}

std::optional<stream_id> delivery_gate::forget_after(stream_id after, std::uint64_t modulus,
                                                     std::uint64_t rest) {
  std::lock_guard lk(mu_);
  std::optional<stream_id> newest;
  for (auto it = pending_.upper_bound(after); it != pending_.end();) {
    auto next = std::next(it);
    if (modulus <= 1 || it->first.seq % modulus == rest) {
      newest = it->first;
      drop_locked(it);
    }
    it = next;
  }
  return newest;
}

notification_batch delivery_gate::pending_back(std::uint64_t modulus, std::uint64_t rest,
                                               std::optional<stream_id> at,
                                               std::size_t limit) const {
  std::lock_guard lk(mu_);
  notification_batch out;
  auto it = at ? pending_.upper_bound(*at) : pending_.end();
  while (it != pending_.begin() && out.size() < limit) {
    --it;
    if (modulus <= 1 || it->first.seq % modulus == rest) out.push_back(it->second.entry);
  }
  return out;
}

bool delivery_gate::is_pending(stream_id id) const {
  std::lock_guard lk(mu_);
  return pending_.count(id) > 0;
}

std::size_t delivery_gate::pending() const {
  std::lock_guard lk(mu_);
  return pending_.size();
}

}  // namespace cutover::ingest
