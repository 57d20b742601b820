#pragma once
// The narrow interface between ingest (which commits to the store) and the hub (which
// wakes sessions). Called on the store writer thread, after the transaction committed,
// so anything a listener hands on is already durable. Implementations must not block.

#include <map>
#include <string>

#include "core/cursor.hpp"
#include "core/notification.hpp"

namespace cutover {

class commit_listener {
 public:
  virtual ~commit_listener() = default;
  // New notifications of one committed batch, in id order.
  virtual void on_committed(const notification_batch& added) = 0;
  // Retention removed entries: topic -> newest removed id.
  virtual void on_pruned(const std::map<std::string, stream_id>& marks) = 0;
  // Marks at or below `floor` were folded into it (DESIGN §11): a cursor before it is
  // expired whatever its topics. Called after on_pruned for the same chunk.
  virtual void on_prune_floor(stream_id floor) { (void)floor; }
  // Redis lost entries this store had (DESIGN §3): `removed` left the store (now orphans);
  // cursors after `after` and before `through` lie in the lost range.
  virtual void on_lost(const notification_batch& removed, stream_id after, stream_id through) {
    (void)removed, (void)after, (void)through;
  }
};

}  // namespace cutover
