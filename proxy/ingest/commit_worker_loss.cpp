// The writer's half of "a loss by Redis is never silent" (DESIGN §3), kept apart from the
// commit path: the stream reader found entries this store has that Redis no longer holds
// as stored; here they move to orphans, the offset rewinds, and everything read after the
// finding is dropped so the reader re-reads from the rewound offset.

#include "ingest/commit_worker.hpp"

namespace cutover::ingest {

void commit_worker::record_withdrawn() {
  while (!unrecorded_.empty()) {
    const auto& r = unrecorded_.front();
    // The write lock is still held elsewhere: the next commit tries again.
    if (!writer_.record_loss(r)) return;
    log_.line(r.stream + ": recorded the withdrawn range after " + r.after.str() + " through " +
              r.through.str());
    unrecorded_.erase(unrecorded_.begin());
  }
}

void commit_worker::apply_loss(const store::redis_loss& loss) {
  if (loss.kind == "withdrawn") {
    // Delivered entries Redis lost before they were committed (DESIGN §11): the reader has
    // withdrawn them and told the clients already; only the range is recorded, so a cursor
    // inside it is expired after a restart too. Nothing was stored, nothing is re-read here.
    unrecorded_.push_back(loss);
    record_withdrawn();
    if (!unrecorded_.empty())
      log_.line("store: recording the withdrawn range of " + loss.stream +
                " failed (the store is busy); trying again before the next commit");
    return;
  }
  if (loss.kind == "trimmed") {
    // Entries Redis trimmed before this store read them: the range is recorded like a
    // retention mark (cursors inside it are expired); nothing is re-read.
    auto out = writer_.record_loss(loss);
    if (!out)
      log_.line("store: recording a trimmed range of " + loss.stream +
                " failed: " + out.err().message);
    else
      listener_.on_lost({}, loss.after, loss.through);
    return;
  }
  auto out = writer_.record_loss(loss);
  // Whatever happens, batches read after the finding must not commit: they are re-read
  // (a new epoch), from the rewound offset once the board has it.
  struct reread {
    work_queue& q;
    ~reread() { q.invalidate_streams(); }
  } at_end{queue_};
  if (!out) {
    log_.line("store: recording a loss by Redis on " + loss.stream +
              " failed: " + out.err().message + "; ingest re-reads and looks again");
    return;
  }
  if (!out->applied) return;  // the offset moved meanwhile: the reader looks again
  board_.on_rewind(loss.stream, loss.rewind_to, out->removed.size(), out->digest);
  refresh_oldest();
  log_.line("warning: " + loss.stream + ": Redis lost entries this store had (" + loss.detail +
            "): " + std::to_string(out->removed.size()) + " stored entries after " +
            loss.after.str() + " through " + loss.through.str() +
            " moved to orphans (cutover replay --orphans), offset rewound to " +
            loss.rewind_to.str() + ", re-reading from there");
  listener_.on_lost(out->removed, loss.after, loss.through);
}

}  // namespace cutover::ingest
