#pragma once
// Reading a session's topics after its cursor: from the hub's memory when it holds the
// whole range (synchronously, on the I/O thread), otherwise from the store on a reader
// thread with the result posted back to the session's I/O thread. The one path every
// transport uses for backlog, replay and slow-consumer catch-up.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/notification.hpp"
#include "net/shard.hpp"

namespace cutover::net {

struct fetch_result {
  notification_batch entries;               // after the cursor, id order, at most the limit
  bool expired = false;                     // retention removed entries after the cursor
  std::optional<stream_id> oldest;          // when expired: where retained history now starts
  std::optional<stream_id> pruned_through;  // when expired: newest id retention removed
  // When the cursor lay in a range Redis lost (DESIGN §3): `entries` follow this id (the last
  // entry both sides agreed on), not the cursor, so what Redis holds there now is delivered.
  std::optional<stream_id> rewound_to;
  bool failed = false;  // the store could not answer (busy or error)
  // The read never ran: its asker let go of it (a client that left, a resume that
  // replaced it) or its start_by passed while it was queued. Nothing of SQLite was touched.
  bool skipped = false;
  std::string error;
};

// The asker's hold on a queued store read, checked on the reader thread before the read
// touches SQLite: a read nobody waits for any more, or one that could not start in time,
// costs a queue slot and no store time (issue 12: reads of clients long gone held another
// user's poll for 44 s).
struct read_claim {
  std::atomic<bool> wanted{true};
  clock::time_point start_by = clock::time_point::max();
  void drop() noexcept { wanted.store(false, std::memory_order_relaxed); }
};
using read_claim_ptr = std::shared_ptr<read_claim>;

// Memory only: nullopt when the store must answer.
std::optional<fetch_result> fetch_from_memory(shard& sh, const topic_list& topics, stream_id after,
                                              std::size_t limit);

// Store read on a reader thread; `done` runs later on `sh`'s thread (also on failure, and
// with `skipped` when `claim` was dropped or its start_by passed before the read began).
// Whether `after` expired is judged from the hub's marks of `topics` alone (and the floor):
// a read costs the same with 10 marks or 200,000. The store's answer is merged with the
// hub's delivered-but-uncommitted entries (DESIGN §11 "Delivery before the commit"), so it
// reaches the hub's delivered head.
void fetch_from_store(shard& sh, const topic_list& topics, stream_id after, std::size_t limit,
                      std::function<void(fetch_result)> done, read_claim_ptr claim = nullptr);

}  // namespace cutover::net
