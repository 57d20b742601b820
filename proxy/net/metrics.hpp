#pragma once
// Process-wide counters and gauges, updated with relaxed atomics from any thread and
// rendered in the Prometheus text format at /metrics (names `cutover_*`).

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "core/histogram.hpp"

namespace cutover::net {

// What a connection is counted as. A new transport is one value here and one row of
// transports() (metrics.cpp); metrics and users_last_hour iterate over that table. If it
// renders notifications in a format no other transport shares, that format is one
// wire_slot value too (core/notification.hpp).
enum class transport : std::uint8_t {
  longpoll = 0,
  websocket = 1,
  http = 2,
  sse = 3,
  socketio = 4
};
inline constexpr std::size_t kTransports = 5;

struct transport_info {
  transport id;
  const char* label;  // the `transport` label of metrics
  bool push;          // a push session transport (deliveries, queue, catch-up, closes)
  bool user_facing;   // counted in users_last_hour
};
// Every transport, in the order metrics print them.
std::span<const transport_info> transports();
const char* transport_label(transport t);

struct counter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};
struct gauge {
  std::atomic<std::int64_t> v{0};
  void add(std::int64_t n) noexcept { v.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

// A histogram of durations in seconds (core::histogram::seconds_bounds()).
struct seconds_histogram : core::histogram {
  seconds_histogram() : core::histogram(core::histogram::seconds_bounds()) {}
};

// cutover_delivery_latency_seconds{delivery=..}: live fan-out or a replay (catch-up read).
enum class delivery_kind : std::uint8_t { live = 0, replay = 1 };

struct metrics {
  std::array<gauge, kTransports> connections;   // open connections by transport
  gauge waiting_polls;                          // parked long-polls
  std::array<counter, kTransports> deliveries;  // notifications handed to a socket
  std::array<counter, kTransports> requests;    // requests / sessions started
  counter bad_requests;                         // 400s of any kind (query, cursor, headers)
  counter unauthorized;                         // 401s
  counter origin_refusals;                      // 403s: a page of another origin (DESIGN §7)
  counter untrusted_headers_removed;  // pass-through requests whose identity/forwarded headers
                                      // from an untrusted peer were removed (DESIGN §7)
  counter body_budget_refusals;       // 503s: the bodies being read would pass --body-budget-mb
  // 408s of streamed pass-through bodies: [0] --body-idle-timeout, [1] --body-timeout.
  std::array<counter, 2> body_timeouts;
  counter overload_rejections;     // 503s for limits (connections, waiting polls, store busy)
  counter health_reserve_answers;  // /healthz, /readyz answered past --max-connections
  counter ws_client_errors;        // client frames answered with an error frame
  // Push sessions, by transport.
  std::array<counter, kTransports> protocol_closes;  // protocol violations (1002/1007/1009)
  std::array<counter, kTransports> slow_consumer;    // stopped queueing, caught up from the store
  std::array<counter, kTransports> stalled_closes;   // ended after --stall-timeout without progress
  std::array<counter, kTransports> idle_closes;      // ended after the codec's silence timeout
  std::array<gauge, kTransports> queued_bytes;       // bytes in send queues, all together
  counter sse_shed;                                  // SSE requests shed with 200 + retry:
  // Socket.IO (DESIGN §6.2): Engine.IO sessions by the transport they are on now
  // (0 polling, 1 WebSocket), upgrades done, refusals by kind, garbage closes.
  std::array<gauge, 2> sio_sessions;
  counter sio_upgrades;
  counter sio_unknown_sid;      // polling/WebSocket requests naming a sid not held here
  counter sio_refused_connect;  // CONNECTs refused (44): identity, since, namespace
  counter sio_garbage;          // sessions closed for protocol garbage
  counter sio_ignored_events;   // client events Cutover does not know, ignored
  counter cache_hits, cache_misses;
  counter store_reads;
  // Store reads dropped before touching SQLite (net/fetch.hpp read_claim): the asker left,
  // or the read could not start before its poll's deadline.
  counter store_reads_skipped_gone, store_reads_skipped_late;
  counter store_read_micros;  // summed duration of store reads
  counter accepted, accept_errors;
  // Stream id time -> the frame's last byte taken by the socket, by transport and kind.
  std::array<std::array<seconds_histogram, 2>, kTransports> delivery_latency;
  seconds_histogram hold_arrival, hold_timeout;  // parked long-polls: park -> answer
  void record_delivery(transport t, delivery_kind k, std::uint64_t id_ms,
                       std::uint64_t now_ms) noexcept {
    double s = now_ms > id_ms ? static_cast<double>(now_ms - id_ms) / 1000.0 : 0.0;
    delivery_latency[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)].record(s);
  }
};

// Wall-clock milliseconds since the epoch (the clock stream ids are made of).
std::uint64_t wall_ms_now() noexcept;

metrics& global_metrics();

}  // namespace cutover::net
