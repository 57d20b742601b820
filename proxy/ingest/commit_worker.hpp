#pragma once
// The writer: the one thread that owns the store::writer. It commits each batch from the
// work queue in one transaction (entries, dead letters, offsets), then hands what was new
// to the commit_listener; between batches it runs retention in bounded chunks. It keeps
// draining until the queue is closed and empty, so stop() loses nothing already read.

#include <chrono>
#include <vector>

#include "core/commit_listener.hpp"
#include "core/log.hpp"
#include "ingest/delivery_gate.hpp"
#include "ingest/ingest.hpp"
#include "ingest/status_board.hpp"
#include "ingest/work_queue.hpp"
#include "store/store.hpp"

namespace cutover::ingest {

class commit_worker {
 public:
  // `gate`: delivery before the commit (DESIGN §11), or null. With it, batches commit in the
  // order the gate decided them (so the store decides as the gate did) and every committed
  // entry leaves its pending set.
  commit_worker(store::writer w, const options& opt, work_queue& queue, status_board& board,
                const core::logger& log, commit_listener& listener, delivery_gate* gate = nullptr);
  void run();  // the thread body; returns once the queue is closed and drained

 private:
  void commit(work_batch& wb);
  bool lingers(const work_batch& wb) const;        // options::commit_linger applies to `wb`
  void apply_loss(const store::redis_loss& loss);  // commit_worker_loss.cpp
  void record_withdrawn();                         // retries unrecorded_ (commit_worker_loss.cpp)
  void prune_chunk();
  void refresh_oldest();  // after retention or a rewind removed entries (--ready-min-history)
  void check_ahead(const notification_batch& added);
  bool retention_enabled() const;

  store::writer writer_;
  const options& opt_;
  work_queue& queue_;
  status_board& board_;
  const core::logger& log_;
  core::rate_limited_log noisy_;
  core::rate_limited_log ahead_log_;  // ids ahead of the clock: own budget, never hidden
  commit_listener& listener_;
  delivery_gate* gate_;
  // Withdrawn ranges (DESIGN §11) the store could not record yet (its write lock was held):
  // tried again before every commit.
  std::vector<store::redis_loss> unrecorded_;
  bool failing_ = false;
  std::chrono::steady_clock::time_point next_prune_;
};

}  // namespace cutover::ingest
