#include "ingest/status_board.hpp"

#include <algorithm>
#include <chrono>

namespace cutover::ingest {

namespace {
std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// Keeps the last kRecentEvents; reasons are cut at 200 bytes (an entry's own text).
void remember(std::vector<recent_event>& ring, std::string what) {
  if (what.size() > 200) what.resize(200);
  if (ring.size() == kRecentEvents) ring.erase(ring.begin());
  ring.push_back({wall_ms(), std::move(what)});
}
}  // namespace

const char* to_string(link_state s) noexcept {
  switch (s) {
    case link_state::connecting:
      return "connecting";
    case link_state::connected:
      return "connected";
    case link_state::backing_off:
      return "backing_off";
    case link_state::stopped:
      return "stopped";
  }
  return "unknown";
}

status_board::status_board(std::vector<std::string> streams, bool stream_link, bool pubsub_link)
    : streams_(std::move(streams)),
      stream_link_(stream_link),
      pubsub_link_(pubsub_link),
      committed_(streams_.size()),
      digests_(streams_.size()),
      bases_(streams_.size()) {}

void status_board::set_digest_basis(std::size_t stream, store::digest_basis b) {
  std::lock_guard lk(mu_);
  bases_.at(stream) = std::move(b);
}

void status_board::set_digest(std::size_t stream, store::stream_digest d) {
  std::lock_guard lk(mu_);
  digests_.at(stream) = d;
}

void status_board::set_oldest(std::optional<std::uint64_t> ms) {
  std::lock_guard lk(mu_);
  s_.oldest_ms = ms;
}

void status_board::add_master_switch() {
  std::lock_guard lk(mu_);
  ++s_.master_switches;
}

void status_board::set_link(link_kind which, link_state s, const std::string& error) {
  std::lock_guard lk(mu_);
  (which == link_kind::stream ? stream_state_ : pubsub_state_) = s;
  if (!error.empty()) s_.last_error = error;
}

void status_board::add_reconnect() {
  std::lock_guard lk(mu_);
  ++s_.reconnects;
}

void status_board::add_pubsub_messages(std::uint64_t n) {
  std::lock_guard lk(mu_);
  s_.pubsub_messages += n;
}

void status_board::add_trimmed_gap() {
  std::lock_guard lk(mu_);
  ++s_.trimmed_gaps;
}

void status_board::add_pubsub_bridged(std::uint64_t n) {
  std::lock_guard lk(mu_);
  s_.pubsub_bridged += n;
}

void status_board::add_pubsub_refused(std::uint64_t n) {
  std::lock_guard lk(mu_);
  s_.pubsub_refused += n;
}

void status_board::set_bridge_active(bool on) {
  std::lock_guard lk(mu_);
  s_.bridge_active = on;
}

void status_board::add_ids_ahead(std::uint64_t n, stream_id newest) {
  std::lock_guard lk(mu_);
  s_.ids_ahead += n;
  if (!s_.ahead_id || *s_.ahead_id < newest) s_.ahead_id = newest;
}

void status_board::set_lag(std::int64_t ms, std::uint64_t entries_hint) {
  std::lock_guard lk(mu_);
  s_.lag_ms = ms;
  s_.lag_entries_hint = entries_hint;
}

void status_board::set_stopped() {
  std::lock_guard lk(mu_);
  stopped_ = true;
}

std::size_t status_board::index_of(const std::string& stream) const {
  for (std::size_t i = 0; i < streams_.size(); ++i)
    if (streams_[i] == stream) return i;
  return streams_.size();
}

void status_board::set_committed(std::size_t stream, stream_id id) {
  std::lock_guard lk(mu_);
  committed_.at(stream) = id;
  if (!s_.committed || *s_.committed < id) s_.committed = id;
}

std::optional<stream_id> status_board::committed(std::size_t stream) const {
  std::lock_guard lk(mu_);
  return committed_.at(stream);
}

std::vector<std::optional<stream_id>> status_board::committed_all() const {
  std::lock_guard lk(mu_);
  return committed_;
}

void status_board::on_commit(const store::append_batch& batch, const store::append_outcome& out,
                             double seconds) {
  std::lock_guard lk(mu_);
  s_.entries_committed += out.added.size();
  s_.duplicates += out.duplicate_ids + out.duplicate_keys;
  s_.duplicate_keys += out.duplicate_keys;
  s_.dead_letters += out.dead_letters;
  for (const auto& d : batch.dead)
    remember(s_.recent_dead_letters,
             d.source + (d.entry_id.empty() ? std::string() : " " + d.entry_id) + ": " + d.reason);
  if (out.dead_letters > batch.dead.size())
    remember(s_.recent_dead_letters,
             std::to_string(out.dead_letters - batch.dead.size()) +
                 " entries reuse an id already stored with different content");
  ++s_.batches;
  s_.last_commit_seconds = seconds;
  commit_seconds_.record(seconds);
  batch_entries_.record(static_cast<double>(batch.entries.size()));
  failing_commits_ = 0;
  for (const auto& o : batch.offsets) {
    std::size_t i = index_of(o.stream);
    if (i == streams_.size()) continue;
    committed_[i] = o.id;
    if (!s_.committed || *s_.committed < o.id) s_.committed = o.id;
    if (auto d = out.digests.find(o.stream); d != out.digests.end()) digests_[i] = d->second;
  }
  // The first entry of an empty store is its oldest; later ones only move it by retention.
  if (!s_.oldest_ms && !out.added.empty()) s_.oldest_ms = out.added.front()->id.ms;
}

void status_board::on_rewind(const std::string& stream, stream_id rewound_to,
                             std::uint64_t orphaned, std::optional<store::stream_digest> digest) {
  std::lock_guard lk(mu_);
  ++s_.rewinds;
  s_.orphaned += orphaned;
  remember(s_.recent_rewinds, stream + " rewound to " + rewound_to.str() + ", " +
                                  std::to_string(orphaned) + " entries moved to orphans");
  std::size_t i = index_of(stream);
  if (i < streams_.size()) {
    committed_[i] = rewound_to;
    if (digest) digests_[i] = *digest;
  }
}

void status_board::add_withdrawal(std::uint64_t entries) {
  std::lock_guard lk(mu_);
  ++s_.rewinds;
  s_.withdrawn += entries;
}

void status_board::on_commit_failure(const std::string& error) {
  std::lock_guard lk(mu_);
  ++s_.commit_failures;
  ++failing_commits_;
  s_.last_error = error;
}

std::uint64_t status_board::consecutive_commit_failures() const {
  std::lock_guard lk(mu_);
  return failing_commits_;
}

stats status_board::snapshot() const {
  std::lock_guard lk(mu_);
  stats out = s_;
  out.commit_seconds = commit_seconds_.read();
  out.batch_entries = batch_entries_.read();
  out.failing_commits = failing_commits_;
  out.streams.reserve(streams_.size());
  for (std::size_t i = 0; i < streams_.size(); ++i)
    out.streams.push_back(
        {streams_[i], committed_[i], digests_[i], bases_[i].comparable, bases_[i].note});
  if (stopped_) {
    out.state = link_state::stopped;
    return out;
  }
  // The worst link decides: readiness must not say "connected" while pub/sub is down.
  auto rank = [](link_state s) {
    switch (s) {
      case link_state::connected:
        return 0;
      case link_state::connecting:
        return 1;
      case link_state::backing_off:
        return 2;
      case link_state::stopped:
        return 3;
    }
    return 3;
  };
  link_state worst = link_state::connected;
  if (stream_link_ && rank(stream_state_) > rank(worst)) worst = stream_state_;
  if (pubsub_link_ && rank(pubsub_state_) > rank(worst)) worst = pubsub_state_;
  out.state = worst;
  return out;
}

void link_log::problem(const std::string& kind, const std::string& message) {
  if (kind_ == kind) return;
  kind_ = kind;
  line(message);
}

void link_log::recovered(const std::string& message) {
  if (kind_.empty()) return;
  kind_.clear();
  if (!message.empty()) line(message);
}

void link_log::line(const std::string& message) const {
  log_.line(name_ + ": " + message);
}

}  // namespace cutover::ingest
