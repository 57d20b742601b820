#pragma once
// The hub (DESIGN §1): the in-memory side of the store. It keeps the most recent
// notifications per topic, so a wake or a short replay never touches SQLite, tracks the
// newest id and the retention marks, and hands every committed batch to the fan-out
// targets (one per I/O thread), which wake exactly the sessions of those topics.
//
// Delivery before the commit (DESIGN §1, §11): entries the delivery gate passed arrive by
// on_delivered, are fanned out at once and kept in `uncommitted_` until on_committed says
// the store has them; every store read for a session merges them (uncommitted_after), so a
// session catching up never misses an entry fanned out before its commit. head() is the
// delivered head. Bounded: the gate passes an entry only while the ingest queue has room, so
// at most the queue's bound plus one commit's worth is ever uncommitted.
//
// Thread use: on_committed/on_pruned/on_lost run on the store writer thread, on_delivered and
// on_withdrawn on the stream reader thread; fetch/head/expired from any thread (a shared lock
// guards the cache; fan-out happens outside it).

#include <atomic>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/commit_listener.hpp"
#include "core/notification.hpp"

namespace cutover {

using shared_batch = std::shared_ptr<const notification_batch>;

// Receives every committed batch; an I/O thread's registry implements it and posts
// the batch to its own thread.
class fanout_target {
 public:
  virtual ~fanout_target() = default;
  virtual void deliver(shared_batch batch) = 0;
  // Redis lost the entries after `after` through `through` (DESIGN §3): live sessions whose
  // cursor lies in that range get the reset and go on after `after`.
  virtual void lost(stream_id after, stream_id through) { (void)after, (void)through; }
};

struct hub_limits {
  std::size_t max_entries = 200'000;          // notifications kept in memory, all topics
  std::size_t max_bytes = 128 * 1024 * 1024;  // their footprint
};

struct hub_stats {
  std::size_t cached_entries = 0;
  std::size_t cached_bytes = 0;
  std::size_t topics = 0;
  stream_id floor;  // everything after this is in memory
  std::optional<stream_id> head;
  std::size_t uncommitted = 0;  // delivered, not yet committed
};

class hub final : public commit_listener {
 public:
  // `head`: the store's newest id at start (nothing after it exists yet, so the cache is
  // complete from there). `marks`: retention marks already in the store.
  hub(std::optional<stream_id> head, std::map<std::string, stream_id> marks,
      hub_limits limits = {});

  void add_target(fanout_target* t);  // before any batch is committed

  // commit_listener (writer thread)
  void on_committed(const notification_batch& added) override;
  void on_pruned(const std::map<std::string, stream_id>& marks) override;
  // Also at start, with the store's floor. Marks at or below it are dropped from memory.
  void on_prune_floor(stream_id floor) override;
  // Redis lost entries (DESIGN §3): they leave memory, and cursors after `after` through
  // `through` are expired from now on. Also called at start for the store's lost ranges.
  void on_lost(const notification_batch& removed, stream_id after, stream_id through) override;
  // commit_listener, delivery before the commit (stream reader thread; on_settled: writer).
  void on_delivered(const notification_batch& early) override;
  void on_withdrawn(stream_id after, stream_id through, std::uint64_t modulus,
                    std::uint64_t rest) override;
  void on_settled(std::span<const stream_id> declined) override;

  // Delivered, not yet committed entries of `topics` after `after`, in id order, at most
  // `limit`: merged into every store read. Take it before the store read, so an entry
  // committed in between is in one of the two answers (or both: merge by id).
  notification_batch uncommitted_after(std::span<const std::string> topics, stream_id after,
                                       std::size_t limit) const;
  // A store read's rows and uncommitted_after's entries (both in id order), in id order
  // without repeats, at most `limit`: when the store's answer was complete up to its last row,
  // so is the merge up to its last entry.
  static notification_batch merge(notification_batch stored, const notification_batch& early,
                                  std::size_t limit);

  // Entries of `topics` after `after`, in id order, at most `limit`, if memory holds
  // all of them and none of the topics expired past `after`; nullopt means "ask the store".
  std::optional<notification_batch> fetch(std::span<const std::string> topics, stream_id after,
                                          std::size_t limit) const;

  // Newest delivered id (nullopt while nothing is stored or delivered): committed, or passed
  // by the delivery gate and fanned out before its commit.
  std::optional<stream_id> head() const;
  // Newest committed id.
  std::optional<stream_id> committed_head() const;
  // Wall-clock ms when this instance last committed an entry (0: none since start). A
  // millisecond's tail may still grow only shortly after that (DESIGN §2), whatever the
  // id's own time says.
  std::uint64_t head_ingested_ms() const noexcept { return head_ingested_ms_.load(); }

  // True when retention removed entries of one of `topics` that came after `after`.
  bool expired(std::span<const std::string> topics, stream_id after) const;
  // Per topic of `topics` (same order), the newest id retention removed as far as a cursor
  // can tell: its own mark or the floor, whichever is newer; nullopt when neither exists.
  // Only these topics are looked at, however many marks there are.
  std::vector<std::optional<stream_id>> marks_for(std::span<const std::string> topics) const;
  std::size_t mark_count() const;  // topic marks held (not folded into the floor)
  // When `after` lies in a lost range: where delivery goes on (the first id after the last
  // entry both sides agreed on), for the reset's `oldest`.
  std::optional<stream_id> lost_resume(stream_id after) const;

  hub_stats stats() const;

 private:
  void evict_locked();
  void cache_locked(const notification_ptr& n);
  void uncache_locked(const notification_ptr& n);
  void recede_head_locked();

  mutable std::shared_mutex mu_;
  hub_limits limits_;
  std::unordered_map<std::string, std::deque<notification_ptr>> by_topic_;
  std::deque<notification_ptr> fifo_;  // insertion order, for eviction
  std::size_t bytes_ = 0;
  stream_id floor_;
  std::optional<stream_id> head_;            // delivered
  std::optional<stream_id> committed_head_;  // committed
  std::map<stream_id, notification_ptr> uncommitted_;
  std::unordered_map<std::string, stream_id> marks_;
  std::optional<stream_id> prune_floor_;               // folded marks (DESIGN §11)
  std::vector<std::pair<stream_id, stream_id>> lost_;  // (after, through] ranges Redis lost
  std::vector<fanout_target*> targets_;
  std::atomic<std::uint64_t> head_ingested_ms_{0};
};

}  // namespace cutover
