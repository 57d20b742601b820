#pragma once
// The pub/sub reader (DESIGN §3, compatibility with PUBLISH publishers): runs on its own
// thread with its own connection in subscribed mode, PSUBSCRIBE cutover:topic:*, and hands
// messages to the writer, which gives them local ids. Fire-and-forget by nature: messages
// published while it is disconnected are lost, which it says when the link drops.

#include <chrono>
#include <optional>

#include "ingest/backoff.hpp"
#include "ingest/reader_context.hpp"

namespace cutover::ingest {

class pubsub_reader {
 public:
  explicit pubsub_reader(reader_context ctx);
  void run();  // the thread body; returns once stop is requested

 private:
  bool connect();
  void lost(const error& e);
  // Handles one reply; true when it was a message added to `out`.
  bool handle(const redisReply* reply, work_batch& out);

  reader_context ctx_;
  std::optional<redis_connection> conn_;
  backoff pace_;
  link_log link_;
  bool ever_connected_ = false;
  bool ping_outstanding_ = false;
};

}  // namespace cutover::ingest
