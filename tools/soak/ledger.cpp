#include "ledger.hpp"

namespace cutover::soak {

ledger::ledger(std::string client, std::string transport, std::vector<std::string> topics)
    : client_(std::move(client)), transport_(std::move(transport)), topics_(std::move(topics)) {
  for (const auto& t : topics_) by_topic_[t];
}

void ledger::record(const std::string& topic, std::uint64_t seq, stream_id position, bool tail) {
  std::lock_guard lk(mu_);
  auto it = by_topic_.find(topic);
  if (it == by_topic_.end() || seq == 0) {
    // Another user's topic, or not a soak notification: a leak between users.
    ++s_.errors;
    return;
  }
  auto& t = it->second;
  if (t.seen.size() <= seq) t.seen.resize(seq + 1024, false);
  // Deliveries go forward in id order; a legacy tail shares one position.
  bool forward = !any_ || last_ < position || (tail && position == last_);
  if (t.seen[seq]) {
    if (tail)
      ++s_.tail_duplicated;
    else
      ++s_.duplicated;
    return;
  }
  t.seen[seq] = true;
  ++t.count;
  ++s_.received;
  if (seq < t.max_seq || !forward) ++s_.reordered;
  if (seq > t.max_seq) t.max_seq = seq;
  if (!any_ || last_ < position) last_ = position;
  any_ = true;
}

void ledger::count_reset() {
  std::lock_guard lk(mu_);
  ++s_.resets;
}

void ledger::count_error() {
  std::lock_guard lk(mu_);
  ++s_.errors;
}

void ledger::count_reconnect() {
  std::lock_guard lk(mu_);
  ++s_.reconnects;
}

bool ledger::complete(const published_counts& published) const {
  std::lock_guard lk(mu_);
  for (const auto& [topic, t] : by_topic_) {
    auto p = published.find(topic);
    std::uint64_t want = p == published.end() ? 0 : p->second;
    // Received numbers beyond `want` cannot exist (published counts only grow), so a
    // count of `want` within 1..want means all of them.
    std::uint64_t have = 0;
    for (std::uint64_t s = 1; s <= want && s < t.seen.size(); ++s) have += t.seen[s];
    if (have < want) return false;
  }
  return true;
}

ledger_summary ledger::summarise(const published_counts& published) const {
  std::lock_guard lk(mu_);
  ledger_summary out = s_;
  for (const auto& [topic, t] : by_topic_) {
    auto p = published.find(topic);
    std::uint64_t want = p == published.end() ? 0 : p->second;
    for (std::uint64_t s = 1; s <= want; ++s)
      if (s >= t.seen.size() || !t.seen[s]) ++out.lost;
  }
  return out;
}

}  // namespace cutover::soak
