#pragma once
// Publishing into the Redis stream (DESIGN §3, §8, §9): the synchronous XADD used by
// `cutover publish` and `replay --republish`, and a background publisher for the HTTP
// server, so no request thread ever waits on Redis.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/cursor.hpp"
#include "core/entry.hpp"
#include "core/result.hpp"
#include "ingest/redis_connection.hpp"

namespace cutover::ingest {

class stop_signal;

using extra_fields = std::vector<std::pair<std::string, std::string>>;

// Validates `e` exactly as ingest will (decode_stream_fields with `lim`) so a refused entry
// never reaches the stream, then XADD <stream> [MAXLEN ~ maxlen] * topic .. [type ..] data ..
// [key ..] extra...; maxlen 0 means no trimming. Returns the new id. Errors carry errc codes:
// invalid_entry (nothing sent), connection (the connection is broken afterwards), redis_reply.
result<stream_id> xadd_notification(redis_connection& c, const std::string& stream,
                                    const decoded_entry& e, std::size_t maxlen,
                                    const extra_fields& extra = {}, const entry_limits& lim = {});

// The XADD arguments xadd_notification sends, after validation (for pipelining).
result<std::vector<std::string>> xadd_arguments(const std::string& stream, const decoded_entry& e,
                                                std::size_t maxlen, const extra_fields& extra = {},
                                                const entry_limits& lim = {});

// Lives on its own thread with its own connection; publish() may be called from any
// thread (an I/O thread included: it never blocks). Callbacks run on the publisher thread
// and must not block. Every accepted entry gets exactly one callback: the new id, or an
// error (Redis down, entry refused, publisher stopped); never a silent loss.
class publisher {
 public:
  using callback = std::function<void(result<stream_id>)>;

  // replicas > 0 (`serve --publish-replicas N`, DESIGN §3): an entry is answered only once
  // `WAIT N` confirms it within `wait_timeout`; otherwise the connection is dropped, the
  // master resolved again and the entry sent once more with the same idempotency key (one
  // generated when it had none, so the store keeps one copy), and then it fails
  // (errc::connection, which POST /v1/publish answers with 503).
  publisher(std::string redis_url, std::string stream, std::size_t maxlen,
            std::size_t queue_limit = 10000, entry_limits lim = {}, int replicas = 0,
            std::chrono::milliseconds wait_timeout = std::chrono::milliseconds(1000));
  ~publisher();
  publisher(const publisher&) = delete;
  publisher& operator=(const publisher&) = delete;

  // Queues the entry; false (and no callback) when the queue is full or stopped.
  bool publish(decoded_entry e, callback done);
  // Answers what is queued with an error, finishes what is in flight, joins. Idempotent.
  void stop();
  // True while the publisher's connection is up (for readiness).
  bool connected() const;

 private:
  struct item {
    decoded_entry entry;
    callback done;
    int attempts = 0;  // sends not confirmed by `replicas_` so far
  };
  void run();
  void send_all(std::vector<item>& items);

  std::string url_, stream_;
  std::size_t maxlen_, queue_limit_;
  entry_limits limits_;
  int replicas_;
  std::chrono::milliseconds wait_timeout_;
  std::unique_ptr<stop_signal> wake_;  // aborts a connect in progress on stop()

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<item> queue_;
  bool stopping_ = false;
  bool connected_ = false;
  std::thread thread_;
};

}  // namespace cutover::ingest
