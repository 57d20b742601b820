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
  if (t.got.size() <= seq) t.got.resize(seq + 1024);
  auto epoch = static_cast<std::uint32_t>(resets_.size());
  bool again = !t.got[seq].empty();
  t.got[seq].push_back({position, epoch, tail});
  if (again) return;  // judged in summarise(), once the resets that follow are known
  // Deliveries go forward in id order (a reset starts over); a legacy tail shares one position.
  bool forward = !any_ || last_ < position || (tail && position == last_);
  if (seq < t.max_seq || !forward) ++s_.reordered;
  if (seq > t.max_seq) t.max_seq = seq;
  if (!any_ || last_ < position) last_ = position;
  any_ = true;
}

void ledger::count_reset(std::optional<stream_id> oldest) {
  std::lock_guard lk(mu_);
  ++s_.resets;
  resets_.push_back(oldest);
  // Delivery goes on from `oldest`: what comes next may lie below what came before, and
  // numbers Redis lost may be re-added later.
  any_ = false;
  for (auto& [topic, t] : by_topic_) t.max_seq = 0;
}

void ledger::count_error() {
  std::lock_guard lk(mu_);
  ++s_.errors;
}

void ledger::count_reconnect() {
  std::lock_guard lk(mu_);
  ++s_.reconnects;
}

bool ledger::withdrawn_after(const delivery& d, std::uint32_t before_epoch) const {
  for (std::uint32_t r = d.epoch; r < before_epoch && r < resets_.size(); ++r)
    if (!resets_[r] || !(d.position < *resets_[r])) return true;
  return false;
}

std::string ledger::resets_between(std::uint32_t from, std::uint32_t to) const {
  std::string out;
  for (std::uint32_t r = from; r < to && r < resets_.size(); ++r)
    out += std::string(out.empty() ? ", resets from " : ", ") +
           (resets_[r] ? resets_[r]->str() : std::string("(unsaid)"));
  return out;
}

bool ledger::complete(
    const published_counts& published,
    const std::function<bool(const std::string&, std::uint64_t)>& required) const {
  std::lock_guard lk(mu_);
  for (const auto& [topic, t] : by_topic_) {
    auto p = published.find(topic);
    std::uint64_t want = p == published.end() ? 0 : p->second;
    for (std::uint64_t s = 1; s <= want; ++s) {
      bool have = s < t.got.size() && !t.got[s].empty();
      if (!have && (!required || required(topic, s))) return false;
    }
  }
  return true;
}

ledger_summary ledger::summarise(const published_counts& published, const fate_of& fates,
                                 bool resets_expected) const {
  std::lock_guard lk(mu_);
  ledger_summary out = s_;
  out.resets_expected = resets_expected;
  auto now_epoch = static_cast<std::uint32_t>(resets_.size());
  for (const auto& [topic, t] : by_topic_) {
    auto p = published.find(topic);
    std::uint64_t want = p == published.end() ? 0 : p->second;
    for (std::uint64_t s = 1; s < t.got.size() || s <= want; ++s) {
      const std::vector<delivery>* got = s < t.got.size() ? &t.got[s] : nullptr;
      fate f = fates && s <= want ? fates(topic, s) : fate::held;
      if (f != fate::held) out.resets_expected = true;
      if (!got || got->empty()) {
        if (s > want) continue;
        if (f == fate::lost_reported)
          ++out.lost_reported;
        else if (f == fate::lost_unseen)
          ++out.lost_unseen;
        else {
          ++out.lost;
          if (out.examples.size() < 5)
            out.examples.push_back("lost " + topic + " #" + std::to_string(s));
        }
        continue;
      }
      ++out.received;
      for (std::size_t j = 1; j < got->size(); ++j) {
        const auto& before = (*got)[j - 1];
        const auto& now = (*got)[j];
        if (withdrawn_after(before, now.epoch)) {
          ++out.readded;
          if (now.position == before.position) {
            ++out.redelivered;
            if (out.notes.size() < 3)
              out.notes.push_back("again " + topic + " #" + std::to_string(s) + " at " +
                                  now.position.str() + resets_between(before.epoch, now.epoch));
          }
        } else if (now.tail && before.tail && now.position == before.position)
          ++out.tail_duplicated;
        else {
          ++out.duplicated;
          if (out.examples.size() < 5)
            out.examples.push_back("duplicate " + topic + " #" + std::to_string(s) + " at " +
                                   before.position.str() + " (after " +
                                   std::to_string(before.epoch) + " resets) and " +
                                   now.position.str() + " (after " + std::to_string(now.epoch) +
                                   " resets)" + resets_between(before.epoch, now.epoch));
        }
      }
      // The copy a client keeps must be one Redis holds, or it must have been told.
      if (f != fate::held && !withdrawn_after(got->back(), now_epoch)) {
        ++out.untold;
        if (out.examples.size() < 5)
          out.examples.push_back("untold " + topic + " #" + std::to_string(s) + " at " +
                                 got->back().position.str());
      }
    }
  }
  return out;
}

}  // namespace cutover::soak
