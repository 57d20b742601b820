#pragma once
// The hub (DESIGN §1): the in-memory side of the store. It keeps the most recent
// notifications per topic, so a wake or a short replay never touches SQLite, tracks the
// newest id and the retention marks, and hands every committed batch to the fan-out
// targets (one per I/O thread), which wake exactly the sessions of those topics.
//
// Thread use: on_committed/on_pruned run on the store writer thread; fetch/head/expired
// from any thread (a shared lock guards the cache; fan-out happens outside it).

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

  // Entries of `topics` after `after`, in id order, at most `limit`, if memory holds
  // all of them and none of the topics expired past `after`; nullopt means "ask the store".
  std::optional<notification_batch> fetch(std::span<const std::string> topics, stream_id after,
                                          std::size_t limit) const;

  // Newest committed id (nullopt while the store is empty).
  std::optional<stream_id> head() const;
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

  mutable std::shared_mutex mu_;
  hub_limits limits_;
  std::unordered_map<std::string, std::deque<notification_ptr>> by_topic_;
  std::deque<notification_ptr> fifo_;  // insertion order, for eviction
  std::size_t bytes_ = 0;
  stream_id floor_;
  std::optional<stream_id> head_;
  std::unordered_map<std::string, stream_id> marks_;
  std::optional<stream_id> prune_floor_;               // folded marks (DESIGN §11)
  std::vector<std::pair<stream_id, stream_id>> lost_;  // (after, through] ranges Redis lost
  std::vector<fanout_target*> targets_;
  std::atomic<std::uint64_t> head_ingested_ms_{0};
};

}  // namespace cutover
