#pragma once
// What every connection on every I/O thread shares: the options, the hub, the store
// reader pool, auth, and the routes the app plugged in. Built once by `server`
// before the first connection, read-only afterwards (except the atomics it points to).

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/entry.hpp"
#include "core/history.hpp"
#include "core/hub.hpp"
#include "core/log.hpp"
#include "core/result.hpp"
#include "net/auth.hpp"
#include "net/http_util.hpp"
#include "net/metrics.hpp"
#include "net/origin.hpp"
#include "net/route_table.hpp"

namespace cutover::net {

class route;
class upstream_pool;
class upstream_auth;
class sio_service;
class dashboard_history;

// Where POST /v1/publish sends an entry (the app wires Redis XADD behind it). `done` runs
// on another thread with the new id or why it failed; never a silent loss.
class publish_sink {
 public:
  virtual ~publish_sink() = default;
  virtual bool publish(decoded_entry e,
                       std::function<void(result<stream_id>)> done) = 0;  // false: queue full
};

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 0;  // 0: the CPUs this process may run on
  std::string ws_path = "/v1/ws";
  std::string sse_path = "/v1/events";
  std::vector<std::string> shared_topics;

  std::chrono::milliseconds poll_timeout{std::chrono::seconds(30)};
  std::size_t max_connections = 18000;
  std::size_t health_reserve = 8;  // connections past the limit for /healthz and /readyz only
  std::size_t max_waiting_polls = 10000;

  std::size_t ws_queue_bytes = 256 * 1024;
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(30)};
  std::size_t max_ws_message = 64 * 1024;
  std::chrono::milliseconds ws_ping_interval{std::chrono::seconds(25)};
  std::chrono::milliseconds ws_silence_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds sse_keepalive{std::chrono::seconds(15)};  // `:` comment when idle
  std::chrono::milliseconds sse_retry{std::chrono::seconds(3)};       // the `retry:` line
  // Socket.IO (DESIGN §6.2); an empty path turns it off.
  std::string sio_path = "/socket.io/";
  std::chrono::milliseconds sio_ping_interval{std::chrono::seconds(25)};
  std::chrono::milliseconds sio_ping_timeout{std::chrono::seconds(20)};
  std::chrono::milliseconds sio_connect_timeout{std::chrono::seconds(45)};
  std::size_t sio_max_payload = 1000000;

  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 8 * 1024 * 1024;   // requests (pass-through bodies included)
  std::size_t max_body_total = 64 * 1024 * 1024;  // all bodies being read at once (DESIGN §8)
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // A pass-through body streamed to --upstream (DESIGN §8, §11): each read must bring bytes
  // within `body_idle_timeout` of the header or of the previous read, and the whole body must
  // be in within `body_timeout` of its header, so a trickle is bounded too.
  std::chrono::milliseconds body_idle_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds body_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(120)};

  std::size_t fetch_page = 256;  // entries per catch-up read
  std::chrono::milliseconds shutdown_grace{std::chrono::milliseconds(1500)};
};

// Topics one identity reads: user:<id> first, then the shared topics.
using topic_list = std::shared_ptr<const std::vector<std::string>>;

struct readiness {
  bool ready = true;
  std::string detail;  // JSON object text
};

struct server_context {
  server_options opt;
  hub* hub_ = nullptr;
  history* readers = nullptr;  // store reads off the I/O threads (the app wires the store)
  std::unique_ptr<authenticator> auth;
  origin_policy origins;                 // --allow-origin, for the browser transports (DESIGN §7)
  std::map<std::string, route*> routes;  // exact path -> route the app plugs in
  route_table table;                     // everything served here (server::prepare builds it)
  upstream_pool* upstream = nullptr;     // --upstream: everything else goes there
  upstream_auth* upstream_identity = nullptr;       // --auth upstream
  publish_sink* publisher = nullptr;                // POST /v1/publish (needs admin_token)
  std::shared_ptr<sio_service> sio;                 // Socket.IO sessions (server::prepare)
  std::shared_ptr<dashboard_history> dash_history;  // with --admin-token (server::prepare)
  std::string admin_token;
  entry_limits limits;                         // for HTTP publish bodies
  std::function<readiness()> ready;            // /readyz
  std::function<std::string()> extra_metrics;  // appended to /metrics (ingest, store)
  // JSON members (no braces) the dashboard snapshot adds: ready, ingest lag, store commit.
  std::function<std::string()> dashboard_fields;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  mutable byte_budget request_bodies;  // bytes of request bodies held, all I/O threads

  // Lines from the data path: a failing store or accept() would otherwise log once per poll
  // or per connection. Thread-safe; each kind of failure has its own one-a-second limit.
  core::logger log{"net"};
  mutable core::rate_limited_log store_read_failures{log};
  mutable core::rate_limited_log accept_failures{log};

  topic_list topics_for(const std::string& user) const;
  // True when `peer` (16-byte form) is inside a --trusted-peer network.
  bool trusted(const std::array<std::uint8_t, 16>& peer) const;
};

}  // namespace cutover::net
