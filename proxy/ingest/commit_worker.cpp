#include "ingest/commit_worker.hpp"

#include <algorithm>

namespace cutover::ingest {
namespace {

using clock = std::chrono::steady_clock;

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

commit_worker::commit_worker(store::writer w, const options& opt, work_queue& queue,
                             status_board& board, const core::logger& log,
                             commit_listener& listener, delivery_gate* gate)
    : writer_(std::move(w)),
      opt_(opt),
      queue_(queue),
      board_(board),
      log_(log),
      noisy_(log),
      ahead_log_(log),
      listener_(listener),
      gate_(gate),
      next_prune_(clock::now()) {}

bool commit_worker::retention_enabled() const {
  return opt_.retention.max_age.has_value() || opt_.retention.max_per_topic.has_value();
}

void commit_worker::run() {
  while (true) {
    auto deadline = retention_enabled() ? next_prune_ : clock::now() + std::chrono::hours(1);
    work_batch wb;
    auto got = queue_.pop(wb, deadline);
    if (got == work_queue::pop_result::closed) break;
    if (got == work_queue::pop_result::timeout && !unrecorded_.empty()) record_withdrawn();
    if (got == work_queue::pop_result::batch) {
      if (lingers(wb)) {
        // Delivered already: what arrives in the next few ms commits in this transaction.
        const std::size_t most = std::max(opt_.max_commit_entries, opt_.batch);
        queue_.linger(clock::now() + opt_.commit_linger, most - wb.batch.entries.size(),
                      std::min(opt_.max_commit_bytes, opt_.queue_bytes / 2));
      }
      commit(wb);
    }
    // One retention chunk between batches: neither starves the other.
    if (retention_enabled() && clock::now() >= next_prune_ && !queue_.closed()) prune_chunk();
  }
}

bool commit_worker::lingers(const work_batch& wb) const {
  // Only entries the gate delivered may wait: after-commit delivery, pub/sub dead letters and
  // loss findings commit at once.
  return gate_ && opt_.commit_linger.count() > 0 && wb.from == work_batch::origin::stream &&
         !wb.loss && !queue_.closed() &&
         wb.batch.entries.size() < std::max(opt_.max_commit_entries, opt_.batch);
}

void commit_worker::commit(work_batch& wb) {
  if (!unrecorded_.empty()) record_withdrawn();
  if (wb.loss) return apply_loss(*wb.loss);  // DESIGN §3 losses: commit_worker_loss.cpp
  // Under a backlog, several read batches make one transaction: SQLite writes each touched
  // index page once per transaction, so fewer, larger transactions write far less. With the
  // delivery gate they stay in the order it decided them: the store then decides the same.
  if (queue_.pop_more(wb, std::max(opt_.max_commit_entries, opt_.batch), opt_.max_commit_bytes) >
          0 &&
      wb.from == work_batch::origin::stream && !gate_) {
    auto by_id = [](const store::pending_entry& x, const store::pending_entry& y) {
      return x.id < y.id;
    };
    if (!std::is_sorted(wb.batch.entries.begin(), wb.batch.entries.end(), by_id))
      std::stable_sort(wb.batch.entries.begin(), wb.batch.entries.end(), by_id);
  }
  auto t0 = clock::now();
  std::unique_lock<std::mutex> held;  // with the gate: until the gate and the hub heard
  auto still_current = [&] {
    held = queue_.hold_commits();
    return wb.from != work_batch::origin::stream || queue_.epoch() == wb.epoch;
  };
  auto out = gate_ ? writer_.append(wb.batch, still_current) : writer_.append(wb.batch);
  double seconds = std::chrono::duration<double>(clock::now() - t0).count();
  if (out && out->abandoned) return;  // withdrawn while it waited for the write lock: re-read
  if (!out) {
    board_.on_commit_failure(out.err().message);
    if (wb.from == work_batch::origin::stream) {
      queue_.invalidate_streams();
      if (!failing_)
        log_.line("store: commit failed: " + out.err().message +
                  "; nothing of the batch was committed; re-reading from the last committed "
                  "offsets after backoff");
    } else {
      noisy_.line("store: commit failed: " + out.err().message + "; " +
                  std::to_string(wb.batch.dead.size()) +
                  " pub/sub dead letters lost (pub/sub cannot be re-read)");
    }
    failing_ = true;
    return;
  }
  board_.on_commit(wb.batch, *out, seconds);
  if (failing_) log_.line("store: commits recovered");
  failing_ = false;

  if (!wb.batch.dead.empty()) {
    const auto& d = wb.batch.dead.front();
    std::string more =
        wb.batch.dead.size() > 1
            ? " (and " + std::to_string(wb.batch.dead.size() - 1) + " more in this batch)"
            : std::string();
    noisy_.line("dead letter from " + d.source +
                (d.entry_id.empty() ? std::string() : " entry " + d.entry_id) + ": " + d.reason +
                more);
  }
  if (out->dead_letters > wb.batch.dead.size())
    noisy_.line("dead letters: " + std::to_string(out->dead_letters - wb.batch.dead.size()) +
                " entries reuse an id already stored with different content (see dead_letters)");
  check_ahead(out->added);
  if (!out->added.empty()) listener_.on_committed(out->added);
  if (gate_ && !wb.batch.entries.empty()) {
    gate_->settle(wb.batch.entries);
    if (out->added.size() != wb.batch.entries.size()) {
      // The gate passed entries the store did not keep: it should decide exactly as the
      // store does, so this is a defect; they leave the delivered set either way.
      std::vector<stream_id> declined;
      std::size_t k = 0;
      for (const auto& p : wb.batch.entries) {
        if (k < out->added.size() && out->added[k]->id == p.id) {
          ++k;
          continue;
        }
        declined.push_back(p.id);
      }
      listener_.on_settled(declined);
      noisy_.line("warning: the store did not keep " + std::to_string(declined.size()) +
                  " entries the delivery gate passed (first " + declined.front().str() +
                  "); they may have been delivered");
    }
  }
}

void commit_worker::check_ahead(const notification_batch& added) {
  const std::uint64_t now = wall_ms();
  const auto skew =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, opt_.max_clock_skew.count()));
  std::uint64_t n = 0;
  const notification* newest = nullptr;
  for (const auto& e : added) {
    if (e->id.ms <= now + skew && e->id.ms <= stream_id::kMaxMs) continue;
    ++n;
    if (!newest || newest->id < e->id) newest = e.get();
  }
  if (n == 0) return;
  board_.add_ids_ahead(n, newest->id);
  std::string why = newest->id.ms > stream_id::kMaxMs
                        ? "is past year 2248 (its legacyId is no longer exact in JavaScript)"
                        : "is " + std::to_string(newest->id.ms - now) +
                              " ms ahead of this instance's clock (--max-clock-skew " +
                              std::to_string(skew) + " ms)";
  ahead_log_.line("warning: id " + newest->id.str() + " (topic " + newest->topic + ") " + why +
                  "; " + std::to_string(n) +
                  " such entries in this batch are stored and delivered, /readyz is not ready "
                  "until the clock passes it; check the publisher's explicit ids and Redis's "
                  "clock");
}

void commit_worker::refresh_oldest() {
  if (auto t = writer_.oldest_time()) board_.set_oldest(*t);
}

void commit_worker::prune_chunk() {
  auto r = writer_.prune_chunk(opt_.retention, wall_ms());
  if (!r) {
    noisy_.line("store: retention failed: " + r.err().message + "; retrying in " +
                std::to_string(opt_.prune_interval.count()) + " ms");
    next_prune_ = clock::now() + opt_.prune_interval;
    return;
  }
  if (!r->marks.empty()) listener_.on_pruned(r->marks);
  if (r->removed > 0) refresh_oldest();
  if (r->floor) listener_.on_prune_floor(*r->floor);
  next_prune_ = r->more ? clock::now() : clock::now() + opt_.prune_interval;
}

}  // namespace cutover::ingest
