#pragma once
// The pub/sub bridge (DESIGN §3, compatibility with PUBLISH publishers). Runs on its own
// thread with two connections of its own: a command connection that competes for the
// bridge lock (a Redis key with a TTL, renewed by its holder) and, while this instance
// holds it, a subscribed connection (PSUBSCRIBE cutover:topic:*). The holder copies each
// message into the first stream with XADD, in a script that first checks it still holds
// the lock, so a paused former bridge never adds a second copy. Pub/sub never gives ids
// of its own: every instance, the bridge included, ingests the copies from the stream.
// Messages published while no bridge is subscribed are lost (fire-and-forget by nature);
// those a bridge received after losing the lock are counted as refused.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ingest/backoff.hpp"
#include "ingest/reader_context.hpp"

namespace cutover::ingest {

// Redis key of the bridge lock for `stream`; its value names the holder (host pid token).
std::string pubsub_bridge_key(const std::string& stream);

class pubsub_reader {
 public:
  explicit pubsub_reader(reader_context ctx);
  void run();  // the thread body; returns once stop is requested

 private:
  bool connect_command();
  bool subscribe();
  void lost(const error& e);
  void step_down(const std::string& why);
  bool try_acquire();
  bool renew();
  // Copies buffered messages into the stream; false when the connection failed.
  bool bridge(std::vector<redisReply*> messages);
  // A decoded message's XADD script call, or a dead letter for `out`.
  void handle_message(const redisReply* reply, std::vector<std::vector<std::string>>& calls,
                      work_batch& out);

  reader_context ctx_;
  const std::string stream_, lock_key_, token_;
  std::optional<redis_connection> cmd_, sub_;
  backoff pace_;
  link_log link_;
  bool holder_ = false;
  bool subscribed_ = false;
  std::chrono::steady_clock::time_point next_renew_{};
};

}  // namespace cutover::ingest
