#pragma once
// The checker: one ledger per client, fed every notification the client receives, judged
// against what the publishers got acknowledged. Thread-safe (the client's thread records,
// the main thread asks whether it is complete and summarises).
//
// Per topic the publishers number their notifications 1, 2, 3...; a client must see every
// number of each of its topics, each once, in order. The one allowed exception is the
// legacy transport's documented tail-of-millisecond duplicate (legacy_adapter/
// poll_protocol.hpp, last_id_for): entries whose legacyId is a tail value may come again.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/cursor.hpp"

namespace cutover::soak {

struct ledger_summary {
  std::uint64_t received = 0;         // distinct notifications
  std::uint64_t lost = 0;             // published, never received
  std::uint64_t duplicated = 0;       // received again (not an allowed tail repeat)
  std::uint64_t tail_duplicated = 0;  // legacy tail repeats (allowed, counted)
  std::uint64_t reordered = 0;        // received after a later one of its topic, or ids going back
  std::uint64_t resets = 0;           // "reset" answers (none expected: retention is off)
  std::uint64_t errors = 0;           // error frames / unexpected statuses
  std::uint64_t reconnects = 0;
  bool clean() const { return lost == 0 && duplicated == 0 && reordered == 0 && resets == 0; }
};

using published_counts = std::map<std::string, std::uint64_t>;

class ledger {
 public:
  ledger(std::string client, std::string transport, std::vector<std::string> topics);

  // One delivered notification. `position` orders deliveries (the stream id, or for the
  // legacy transport the position its legacyId names); `tail` marks a legacy tail entry.
  void record(const std::string& topic, std::uint64_t seq, stream_id position, bool tail);
  void count_reset();
  void count_error();
  void count_reconnect();

  // Every published notification of this client's topics has arrived.
  bool complete(const published_counts& published) const;
  ledger_summary summarise(const published_counts& published) const;

  const std::string& client() const { return client_; }
  const std::string& transport() const { return transport_; }
  const std::vector<std::string>& topics() const { return topics_; }

 private:
  struct topic_state {
    std::vector<bool> seen;  // index = seq
    std::uint64_t count = 0;
    std::uint64_t max_seq = 0;
  };
  std::string client_, transport_;
  std::vector<std::string> topics_;
  mutable std::mutex mu_;
  std::map<std::string, topic_state> by_topic_;
  stream_id last_{};
  bool any_ = false;
  ledger_summary s_;
};

}  // namespace cutover::soak
