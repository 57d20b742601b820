#pragma once
// A blocking Redis connection for one thread at a time: the ingest reader threads, the
// publisher thread, `cutover publish`. Every wait (connect and every reply) has a
// deadline, and a "wake" fd lets another thread abandon a wait at once (stop()).
// hiredis types are only forward-declared here; include <hiredis/hiredis.h> to read replies.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

struct redisContext;
struct redisReply;

namespace cutover::ingest {

// error::code values used by this module, so callers can map them (exit codes, HTTP status).
namespace errc {
// cannot connect, connection lost, timed out
inline constexpr error_code connection{error_domain::ingest, 1};
// the notification itself is refused (never sent)
inline constexpr error_code invalid_entry{error_domain::ingest, 2};
// Redis answered with an error reply
inline constexpr error_code redis_reply{error_domain::ingest, 3};
// abandoned because stop was requested
inline constexpr error_code stopped{error_domain::ingest, 4};
// the Redis URL does not parse
inline constexpr error_code bad_url{error_domain::ingest, 5};
// a Sentinel announced +switch-master: the wait was cut so the caller re-resolves
inline constexpr error_code switched{error_domain::ingest, 6};
}  // namespace errc

struct redis_endpoint {
  // sentinel: ask `sentinels` for the master `master_name` on every connect (DESIGN §3).
  enum class transport { tcp, unix_socket, sentinel };
  transport kind = transport::tcp;
  std::string host = "127.0.0.1";  // tcp; IPv6 without brackets
  std::uint16_t port = 6379;       // tcp
  std::string path;                // unix socket
  std::string user;                // ACL user; empty: AUTH <password> only
  std::string password;            // empty: no AUTH
  int db = 0;                      // SELECT when non-zero
  std::vector<std::pair<std::string, std::uint16_t>> sentinels;  // sentinel: host, port
  std::string master_name;                                       // sentinel
  std::string sentinel_user, sentinel_password;  // AUTH to the Sentinels (query parameters)

  // The URL without the password, for log lines.
  std::string display() const;
};

// redis://[user:password@]host[:port][/db], redis://:password@host, [::1] for IPv6,
// unix:///path/to/socket[?db=N], and
// redis+sentinel://[user:password@]h1:port,h2:port/<master>[/db][?sentinel_password=P
// [&sentinel_user=U]] (the credentials before '@' are the master's). User and password may be
// percent-encoded. Refuses anything else (rediss://, empty host, port 0, junk after the db) with a
// message.
result<redis_endpoint> parse_redis_url(std::string_view url);

// For a thread that only ever talks to Redis (the ingest readers): blocks SIGPIPE in its
// mask for good, so its writes skip the four system calls that guard each one otherwise (a
// write to a peer that went away is still an error value). The signal a failed write raises
// stays pending on the thread, never delivered.
void block_sigpipe_on_this_thread() noexcept;

struct reply_deleter {
  void operator()(redisReply* r) const noexcept;
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

struct context_deleter {
  void operator()(redisContext* c) const noexcept;
};

struct connection_settings {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{5000};  // deadline of every reply
  int wake_fd = -1;  // when readable, connects and waits are abandoned (errc::stopped)
  // When readable, a wait for a reply is abandoned (errc::switched) and the connection is
  // broken: a Sentinel announced a new master (DESIGN §3). Connects ignore it.
  int cut_fd = -1;
  // Sentinel endpoints: ask this Sentinel (an index into `sentinels`) first, then the others
  // in order; the one that announced the switch knows the new master for sure.
  std::size_t first_sentinel = 0;
};

// Owns one redisContext (blocking mode; hiredis never sees a second owner). Not thread-safe:
// lives on the thread that uses it; only the wake fd is shared with other threads.
class redis_connection {
 public:
  using settings = connection_settings;

  // Connects, then AUTH and SELECT as the endpoint says. A sentinel endpoint is resolved
  // now: each Sentinel in turn (a short timeout each) names the master, which must answer
  // ROLE with "master"; nothing is cached, so every reconnect resolves again.
  static result<redis_connection> connect(const redis_endpoint& ep, const settings& s = {});
  static result<redis_connection> connect(std::string_view url, const settings& s = {});

  redis_connection(redis_connection&&) noexcept;
  redis_connection& operator=(redis_connection&&) noexcept;
  ~redis_connection();

  // One command, one reply. An error reply is a reply (see is_error_reply); connection
  // failures, timeouts and stop requests are errors and leave the connection broken().
  result<reply_ptr> command(std::span<const std::string_view> argv);
  result<reply_ptr> command(std::initializer_list<std::string_view> argv);

  // Pipelining and pub/sub: queue commands, write them, then read replies one by one.
  void append(std::span<const std::string_view> argv);
  status flush();
  // The next reply. With `idle_ok`, a wait that times out returns a null reply_ptr and the
  // connection stays usable (nothing was due); otherwise a timeout breaks the connection.
  // With `wakeable` false the wake fd is ignored (a reply already due is still awaited).
  result<reply_ptr> receive(std::chrono::milliseconds timeout, bool idle_ok = false,
                            bool wakeable = true);

  bool broken() const noexcept;
  // True when an idle connection (no reply due) was closed by the server, e.g. Redis
  // restarted: reconnect before sending instead of failing the next command. Never blocks.
  bool peer_closed() const noexcept;
  const std::string& last_error() const noexcept { return last_error_; }
  const redis_endpoint& endpoint() const noexcept { return endpoint_; }
  // The server actually connected to (for a sentinel endpoint: the master it resolved).
  const std::string& peer() const noexcept { return peer_; }
  std::chrono::milliseconds read_timeout() const noexcept { return settings_.read_timeout; }
  redisContext* get() const noexcept { return ctx_.get(); }

 private:
  redis_connection() = default;
  static result<redis_connection> connect_direct(const redis_endpoint& ep, const settings& s);
  error fail(std::string message, error_code code);

  std::unique_ptr<redisContext, context_deleter> ctx_;
  redis_endpoint endpoint_;
  settings settings_;
  std::string last_error_;
  std::string peer_;
  bool broken_ = false;
};

// Reply helpers (no hiredis include needed by callers).
bool is_error_reply(const redisReply* r) noexcept;
bool is_nil_reply(const redisReply* r) noexcept;
std::string_view reply_text(const redisReply* r) noexcept;  // string, status or error text

}  // namespace cutover::ingest
