#pragma once
// The checker: one ledger per client, fed every notification and reset the client receives,
// judged at the end against what the publishers got acknowledged and what Redis and the
// stores ended with. Thread-safe (the client's thread records, the main thread asks whether
// it is complete and summarises).
//
// Per topic the publishers number their notifications 1, 2, 3...; a client must see every
// number Redis still holds, each once, in order. Allowed exceptions, each counted:
// - the legacy transport's documented tail-of-millisecond duplicate (legacy_adapter/
//   poll_protocol.hpp, last_id_for): entries whose legacyId is a tail value may come again;
// - a number Redis lost (a failover): the client may never get it, if the loss was reported
//   (orphaned or a recorded range on an instance, or acknowledged by a master after its
//   replica was promoted, which no instance can see); if it got it, a reset covering it
//   must follow;
// - a number delivered again after a reset that covered its first delivery (a publisher's
//   retry with the same idempotency key re-added it after Redis lost the first copy).

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/cursor.hpp"

namespace cutover::soak {

// What became of one acknowledged notification (topic, seq), judged from the final stream
// and the stores.
enum class fate {
  held,             // in Redis at the end: every client of its topic must get it once
  lost_reported,    // Redis lost it; an instance orphaned it or recorded its range
  lost_unseen,      // Redis lost it; acknowledged inside a failover window, never ingested
  lost_unreported,  // Redis lost it and nothing says so: a failure
};
using fate_of = std::function<fate(const std::string& topic, std::uint64_t seq)>;

struct ledger_summary {
  std::uint64_t received = 0;         // distinct notifications
  std::uint64_t lost = 0;             // held (or lost unreported), never received
  std::uint64_t lost_reported = 0;    // lost by Redis, reported, never received
  std::uint64_t lost_unseen = 0;      // lost by Redis inside a failover window, never received
  std::uint64_t duplicated = 0;       // received again (not a tail repeat, no reset between)
  std::uint64_t readded = 0;          // received again after a reset covering the first copy
  std::uint64_t redelivered = 0;      // of those, the same id again (the reset covered it)
  std::uint64_t untold = 0;           // received, lost by Redis, and no reset covered it after
  std::uint64_t tail_duplicated = 0;  // legacy tail repeats (allowed, counted)
  std::uint64_t reordered = 0;        // received after a later one of its topic, or ids going back
  std::uint64_t resets = 0;           // "reset" answers
  std::uint64_t errors = 0;           // error frames / unexpected statuses
  std::uint64_t reconnects = 0;
  std::vector<std::string> examples;  // the first few failures, described
  std::vector<std::string> notes;     // the first few re-deliveries of one id, described
  bool resets_expected = false;       // Redis lost entries in this run: a reset is the report
  bool clean() const {
    return lost == 0 && duplicated == 0 && reordered == 0 && untold == 0 &&
           (resets_expected || resets == 0);
  }
};

using published_counts = std::map<std::string, std::uint64_t>;

class ledger {
 public:
  ledger(std::string client, std::string transport, std::vector<std::string> topics);

  // One delivered notification. `position` orders deliveries (the stream id, or for the
  // legacy transport the position its legacyId names); `tail` marks a legacy tail entry.
  void record(const std::string& topic, std::uint64_t seq, stream_id position, bool tail);
  // A reset: what was delivered from `oldest` on is withdrawn (nullopt: the transport does
  // not say from where, so everything delivered so far).
  void count_reset(std::optional<stream_id> oldest);
  void count_error();
  void count_reconnect();

  // Every published notification of this client's topics for which `required` holds has
  // arrived (no predicate: all of them).
  bool complete(const published_counts& published,
                const std::function<bool(const std::string&, std::uint64_t)>& required = {}) const;
  // Without `fates`, every published notification is `held`. Resets are expected when Redis
  // lost anything acknowledged, or when `resets_expected` (an instance recorded a loss).
  ledger_summary summarise(const published_counts& published, const fate_of& fates = {},
                           bool resets_expected = false) const;

  const std::string& client() const { return client_; }
  const std::string& transport() const { return transport_; }
  const std::vector<std::string>& topics() const { return topics_; }

 private:
  struct delivery {
    stream_id position;
    std::uint32_t epoch;  // resets received before it
    bool tail;
  };
  struct topic_state {
    std::vector<std::vector<delivery>> got;  // index = seq
    std::uint64_t max_seq = 0;
  };
  // A reset received after `d` that withdrew it.
  bool withdrawn_after(const delivery& d, std::uint32_t before_epoch) const;
  std::string resets_between(std::uint32_t from, std::uint32_t to) const;

  std::string client_, transport_;
  std::vector<std::string> topics_;
  mutable std::mutex mu_;
  std::map<std::string, topic_state> by_topic_;
  std::vector<std::optional<stream_id>> resets_;  // oldest of each reset, in order
  stream_id last_{};
  bool any_ = false;
  ledger_summary s_;
};

}  // namespace cutover::soak
