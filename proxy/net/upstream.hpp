#pragma once
// Talking to the legacy app (DESIGN §7, §8): a pool of worker threads, each with its own
// keep-alive cpp-httplib client, taking requests from one bounded queue. I/O threads
// never wait on it: they submit and get the answer posted back. Used for pass-through
// (--upstream) and for the who-am-I calls of upstream auth (--auth-url).

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace httplib {
class Client;
}
#include "net/auth.hpp"

namespace cutover::net {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct upstream_target {
  std::string host;
  int port = 80;
  std::string base_path;  // prefix added to forwarded paths ("" or "/app")
  std::string path;       // for a single URL (--auth-url): its path and query
};
// http://host[:port][/path]; https is refused (the legacy app sits next to Cutover).
result<upstream_target> parse_upstream_url(std::string_view url);

// A pass-through request body on its way to the upstream while the client still sends it
// (DESIGN §8): the I/O thread puts what it read, the upstream worker takes it. It holds at
// most about `capacity` bytes (one read more at worst): past that the I/O thread stops reading
// the client until the worker took the bytes, and `on_room` (set before submitting; it runs
// on the worker thread and must only post) says when. The I/O thread judges the client's
// deadlines (DESIGN §11, "Pass-through bodies stream"); the worker's wait is only a backstop
// for a session that never comes back: `idle` past the last bytes put (or past the worker
// taking a full pipe: the client was not read meanwhile), never past `cap`, plus `grace`.
class body_pipe {
 public:
  using clock = std::chrono::steady_clock;
  body_pipe(std::size_t capacity, clock::duration idle, clock::time_point cap,
            clock::duration grace = std::chrono::seconds(2))
      : capacity_(capacity), idle_(idle), cap_(cap), grace_(grace), deadline_(next_deadline()) {}
  void set_on_room(std::function<void()> f) { on_room_ = std::move(f); }

  // I/O thread. put: false when the pipe is full after these bytes (stop reading).
  bool put(std::string_view bytes);
  void finish();  // every byte of the body is in
  void abort();   // the client side failed (413, 408, gone): the upstream request is cut

  // Worker thread: the bytes held so far (moved into `out`), the end, or a failure (abort,
  // deadline).
  enum class taken : std::uint8_t { data, end, failed };
  taken take(std::string& out);

 private:
  clock::time_point next_deadline() const { return std::min(clock::now() + idle_, cap_) + grace_; }

  std::mutex mu_;
  std::condition_variable cv_;
  std::string buf_;
  std::size_t capacity_;
  clock::duration idle_;
  clock::time_point cap_;
  clock::duration grace_;
  clock::time_point deadline_;
  bool finished_ = false, aborted_ = false, paused_ = false;
  std::function<void()> on_room_;
};

struct upstream_request {
  std::string method;
  std::string target;  // path and query
  header_list headers;
  std::string body;
  // Instead of `body`: the body streams through this as the client sends it, with this
  // length (Content-Length) or, without one, chunked.
  std::shared_ptr<body_pipe> body_stream;
  std::optional<std::uint64_t> stream_length;
};

struct upstream_response {
  int status = 0;      // 0: no answer; see failure
  std::string reason;  // the upstream's reason phrase
  header_list headers;
  std::string body;
  // body: the client's side of a streamed body failed (cut, or the pipe's backstop deadline);
  // not the upstream's fault and not counted as its outcome.
  enum class failure {
    none,
    unreachable,
    timeout,
    too_large,
    overloaded,
    body
  } why = failure::none;
  std::string error;
};

struct upstream_options {
  std::size_t threads = 16;
  std::size_t queue_limit = 1000;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // whole answer
  std::size_t max_response_bytes = 8 * 1024 * 1024;
};

// Counters for /metrics: what the pool answered, by outcome.
struct upstream_pool_stats {
  std::uint64_t answered = 0;     // the upstream answered (any status)
  std::uint64_t unreachable = 0;  // connect or I/O error (502)
  std::uint64_t timeouts = 0;     // no answer in time (504)
  std::uint64_t too_large = 0;    // answer over max_response_bytes (502)
  std::uint64_t rejected = 0;     // queue full or shutting down (503)
};

class upstream_pool {
 public:
  using callback = std::function<void(upstream_response)>;
  upstream_pool(upstream_target target, upstream_options opt);
  ~upstream_pool();
  upstream_pool(const upstream_pool&) = delete;
  upstream_pool& operator=(const upstream_pool&) = delete;

  // Queues the request; `done` runs on a worker thread (it must post elsewhere and not
  // block). False when the queue is full: the caller answers 503 itself.
  bool submit(upstream_request req, callback done);
  void stop();
  const upstream_target& target() const { return target_; }
  upstream_pool_stats stats() const;

 private:
  struct job {
    upstream_request req;
    callback done;
  };
  void run();

  upstream_target target_;
  upstream_options opt_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job> jobs_;
  upstream_pool_stats stats_;  // under mu_
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::vector<httplib::Client*> clients_;  // one per worker, for stop()
};

// Hop-by-hop headers (RFC 9110 §7.6.1) never cross a proxy, nor those named in Connection.
bool is_hop_by_hop(std::string_view name, std::string_view connection_header);

struct upstream_auth_options {
  std::chrono::milliseconds ttl{std::chrono::seconds(30)};         // identities
  std::chrono::milliseconds refusal_ttl{std::chrono::seconds(5)};  // 401/403 answers
  std::size_t max_entries = 100'000;
  // Where the user id is in the who-am-I answer: keys from the top, {"userId"} for
  // {"userId":"42"}, {"user","id"} for {"user":{"id":"42"}} (the legacy profile's).
  std::vector<std::string> user_field{"userId"};
  // The legacy app's session cookie. When set, only its value (with Authorization) keys
  // the cache, and a request without it or Authorization is refused without asking.
  std::string session_cookie;
};

// The user id at `path` in a who-am-I body (a string or a whole number), if any.
std::optional<std::string> identity_from_body(std::string_view body,
                                              const std::vector<std::string>& path);

struct upstream_auth_stats {
  std::uint64_t hits = 0, misses = 0, coalesced = 0, calls = 0, failures = 0;
};

// Identity from the legacy app's who-am-I URL, cached by a hash of the credentials;
// concurrent lookups for the same credentials share one request.
class upstream_auth {
 public:
  upstream_auth(upstream_pool& pool, upstream_auth_options opt);

  // A cached answer, if any (on the calling thread).
  std::optional<auth_outcome> cached(std::string_view cookie, std::string_view authorization);
  // Asks the legacy app; `done` runs on a pool thread (or right here when the pool is full).
  void lookup(std::string_view cookie, std::string_view authorization,
              std::function<void(auth_outcome)> done);
  upstream_auth_stats stats() const;

 private:
  std::string key_of(std::string_view cookie, std::string_view authorization) const;
  void finish(const std::string& key, const auth_outcome& o);

  upstream_pool& pool_;
  upstream_auth_options opt_;
  mutable std::mutex mu_;
  struct entry {
    auth_outcome outcome;
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<std::string, entry> cache_;
  std::unordered_map<std::string, std::vector<std::function<void(auth_outcome)>>> inflight_;
  upstream_auth_stats stats_;
};

}  // namespace cutover::net
