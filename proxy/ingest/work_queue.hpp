#pragma once
// The hand-off between the reader threads (stream, pub/sub) and the single writer thread.
// Bounded, so a slow store pushes back all the way to Redis (readers block, the stream keeps
// the entries). Carries an epoch so batches read before a failed commit are never committed
// out of order: the writer bumps it, and the stream reader re-reads from the committed offsets.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "ingest/stop_signal.hpp"
#include "store/store.hpp"

namespace cutover::ingest {

struct work_batch {
  // loss: Redis lost entries this store had (DESIGN §3); `loss` says which, and the writer
  // moves them to orphans and rewinds the offset instead of appending.
  enum class origin { stream, pubsub, loss };
  origin from = origin::stream;
  std::uint64_t epoch = 0;    // stream batches: queue epoch when read
  store::append_batch batch;  // stream: ids from Redis, offsets; pubsub: dead letters only
  std::optional<store::redis_loss> loss;
  std::size_t bytes = 0;  // approximate memory held, for the queue's bound
  // What the hub holds of this batch until its commit (entries delivered before it, DESIGN
  // §11): counted against the same bound, so early delivery does not double what a backlog
  // keeps in memory.
  std::size_t delivered_bytes = 0;

  // Sets `bytes` from the contents (call once the batch is filled).
  void account() noexcept;
};

class work_queue {
 public:
  // Holds at most `capacity_bytes` (but always at least one batch, however large).
  explicit work_queue(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

  // Blocks while full. Returns false, dropping the batch, when it is a stream batch of an
  // old epoch (a commit failed since it was read) or the queue is closed.
  bool push(work_batch&& b);

  enum class pop_result { batch, timeout, closed };
  // Waits for a batch until `deadline`; `closed` once closed and empty.
  pop_result pop(work_batch& out, std::chrono::steady_clock::time_point deadline);

  // Delivery before the commit (DESIGN §11 "Commits of delivered entries are coalesced"):
  // the writer holds a small stream batch until `until` so that what arrives meanwhile
  // commits with it, one transaction and one writer wake-up for many entries. Returns early
  // once the queue holds `entries` entries or `bytes` bytes, a batch of another origin (a
  // pub/sub message waits for its commit to be delivered) or a loss finding, or is closed.
  // Pushes that do not end the wait do not wake the writer.
  void linger(std::chrono::steady_clock::time_point until, std::size_t entries, std::size_t bytes);

  // Moves queued batches of the same origin as `into` onto it while it stays within
  // `max_entries` and `max_bytes`, so a backlog is committed in few large transactions.
  // Returns how many batches were merged.
  std::size_t pop_more(work_batch& into, std::size_t max_entries, std::size_t max_bytes);

  // No more pushes (the readers have stopped); the writer drains what is left.
  void close();
  bool closed() const;

  std::uint64_t epoch() const;
  // Waits until the epoch is past `seen`, stop is requested, or `timeout` passes.
  void wait_epoch_past(std::uint64_t seen, stop_signal& stop, std::chrono::milliseconds timeout);
  // A stream batch failed to commit: start a new epoch and drop queued stream batches (they
  // were read after it). Returns how many batches were dropped.
  std::size_t invalidate_streams();

  // Delivery before the commit (DESIGN §11): held by the writer from the moment its
  // transaction has the store's write lock until the listener and the gate heard of the
  // commit, and by the stream reader while it drops queued batches and withdraws delivered
  // entries. So a batch read before a withdrawal either committed (and settled) before it, or
  // sees the new epoch and is abandoned: withdrawn entries are never committed afterwards.
  std::unique_lock<std::mutex> hold_commits() { return std::unique_lock(commit_mu_); }

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::mutex commit_mu_;  // hold_commits(); taken before mu_, never while holding it
  std::condition_variable not_full_, not_empty_, lingered_;
  std::deque<work_batch> q_;
  std::size_t bytes_ = 0;
  std::size_t entries_ = 0;  // entries of the queued batches
  std::size_t others_ = 0;   // queued batches that are not stream batches
  // While the writer lingers: what ends its wait (0: it does not linger).
  std::size_t linger_entries_ = 0, linger_bytes_ = 0;
  bool lingering_ = false;
  bool linger_done_locked() const;
  std::uint64_t epoch_ = 0;
  bool closed_ = false;
};

}  // namespace cutover::ingest
