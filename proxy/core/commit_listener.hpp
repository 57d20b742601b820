#pragma once
// The narrow interface between ingest (which commits to the store) and the hub (which
// wakes sessions). on_committed/on_pruned/on_lost are called on the store writer thread,
// after the transaction committed. With delivery before the commit (DESIGN §1, §11),
// on_delivered and on_withdrawn come from the stream reader thread: what they hand on is
// held by Redis, not yet by the store. Implementations must not block.

#include <cstdint>
#include <map>
#include <span>
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
  // Entries the delivery gate passed, in read order, before their commit: deliver them now.
  // Their on_committed follows (or on_settled, if the store did not keep one after all).
  virtual void on_delivered(const notification_batch& early) { (void)early; }
  // Delivered entries of one stream (stored ids with seq % modulus == rest) after `after`
  // will not be committed as delivered (Redis lost them, or they are re-read after a
  // rewind): they leave memory, and cursors after `after` through `through` (or the newest
  // delivered id, if higher) get the reset of a lost range.
  virtual void on_withdrawn(stream_id after, stream_id through, std::uint64_t modulus,
                            std::uint64_t rest) {
    (void)after, (void)through, (void)modulus, (void)rest;
  }
  // Delivered entries the store did not keep after all (the gate and the store disagreed,
  // which they should never do): they leave the delivered-but-uncommitted set.
  virtual void on_settled(std::span<const stream_id> declined) { (void)declined; }
};

}  // namespace cutover
