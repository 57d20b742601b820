#pragma once
// The delivery gate (DESIGN §1, §11 "Delivery before the commit"): on the stream reader
// thread, before an entry is delivered, it decides what the store will decide about it, so a
// delivered entry is never later dropped as a duplicate and an entry the store keeps is never
// skipped. The store's rules (store::writer::append) are, in batch order: an id already
// stored with the same content is a duplicate; with other content, an id collision (a dead
// letter); otherwise an idempotency key already stored for the same topic is a duplicate.
//
// The gate remembers only what is pending (passed on, not yet committed): each entry's id
// and (topic, key). Everything else it asks the store, which is the authority once a commit
// has settled an entry. Ids above the store's newest id at start are stored only if they
// passed this gate, so those skip the store look-up. Entries the gate calls duplicates or
// collisions never reach the writer as entries (their offset does, and they are counted
// there), so a retention chunk that frees a key between the gate and the commit cannot make
// the store keep an entry that was not delivered.
//
// Threads: admit, forget_after, pending_back on the stream reader thread; settle on the
// writer thread (after a commit). A mutex guards the pending set; the store reader is the
// stream reader thread's own.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/notification.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace cutover::ingest {

class delivery_gate {
 public:
  // `store`: a reader of the store, used by the stream reader thread only. `head`: the
  // store's newest id when ingest started.
  delivery_gate(store::reader store, std::optional<stream_id> head);

  enum class verdict : std::uint8_t {
    deliver,        // new: to the hub now and to the writer
    recommit,       // pending already and delivered (a re-read after a failed commit): writer only
    undecided,      // the store could not be asked: the writer decides, the hub hears at commit
    duplicate_id,   // the same id and content is stored: offset only
    duplicate_key,  // its (topic, key) is stored or pending: offset only
    collision,      // its id is stored with other content: a dead letter
    changed,        // pending with other content: Redis no longer holds what was delivered
  };
  struct decision {
    verdict what = verdict::deliver;
    notification_ptr entry;  // deliver: the notification the hub and the writer share
    std::string why;         // undecided: the store's error
  };
  // Decides for `e` (in read order) and, for deliver/undecided, makes it pending.
  decision admit(const store::pending_entry& e);

  // These entries were committed (or refused by the store): no longer pending.
  void settle(std::span<const store::pending_entry> entries);

  // Forgets the pending entries of one stream (stored ids with seq % modulus == rest) after
  // `after`: Redis lost them or they are re-read (a rewind, DESIGN §3). Returns the newest id
  // forgotten, if any.
  std::optional<stream_id> forget_after(stream_id after, std::uint64_t modulus, std::uint64_t rest);

  // Pending entries of one stream at or before `at` (all when nullopt), newest first, at most
  // `limit`: what loss detection compares with Redis.
  notification_batch pending_back(std::uint64_t modulus, std::uint64_t rest,
                                  std::optional<stream_id> at, std::size_t limit) const;
  bool is_pending(stream_id id) const;
  std::size_t pending() const;

 private:
  struct slot {
    notification_ptr entry;
    std::string key;  // topic '\0' key, or empty
    bool delivered = false;
  };
  static std::string key_of(const decoded_entry& e);
  void drop_locked(std::map<stream_id, slot>::iterator it);

  store::reader store_;
  const std::optional<stream_id> start_head_;
  mutable std::mutex mu_;
  std::map<stream_id, slot> pending_;
  std::unordered_map<std::string, stream_id> keys_;  // of pending entries
};

}  // namespace cutover::ingest
