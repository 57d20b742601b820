#pragma once
// Reading a session's topics after its cursor: from the hub's memory when it holds the
// whole range (synchronously, on the I/O thread), otherwise from the store on a reader
// thread with the result posted back to the session's I/O thread. The one path every
// transport uses for backlog, replay and slow-consumer catch-up.

#include <functional>
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
  std::string error;
};

// Memory only: nullopt when the store must answer.
std::optional<fetch_result> fetch_from_memory(shard& sh, const topic_list& topics, stream_id after,
                                              std::size_t limit);

// Store read on a reader thread; `done` runs later on `sh`'s thread (also on failure). The
// store's answer is merged with the hub's delivered-but-uncommitted entries (DESIGN §11
// "Delivery before the commit"), so it reaches the hub's delivered head.
void fetch_from_store(shard& sh, const topic_list& topics, stream_id after, std::size_t limit,
                      std::function<void(fetch_result)> done);

}  // namespace cutover::net
