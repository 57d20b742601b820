#pragma once
// Process-wide counters and gauges, updated with relaxed atomics from any thread and
// rendered in the Prometheus text format at /metrics (names `cutover_*`).

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace cutover::net {

enum class transport { longpoll = 0, websocket = 1, http = 2 };
inline constexpr std::size_t kTransports = 3;
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

struct metrics {
  std::array<gauge, kTransports> connections;   // open connections by transport
  gauge waiting_polls;                          // parked long-polls
  std::array<counter, kTransports> deliveries;  // notifications handed to a socket
  std::array<counter, kTransports> requests;    // requests / sessions started
  counter poll_data, poll_timeout, poll_reset, poll_rejected;
  counter bad_requests;         // 400s of any kind (query, cursor, headers)
  counter unauthorized;         // 401s
  counter origin_refusals;      // 403s: a page of another origin (DESIGN §7)
  counter overload_rejections;  // 503s for limits (connections, waiting polls, store busy)
  counter ws_client_errors;     // client frames answered with an error frame
  counter ws_protocol_closes;   // closed for protocol violations (1002/1007/1009)
  counter ws_slow_consumer;     // sessions that stopped queueing and caught up from the store
  counter ws_stalled_closes;    // closed with 1013 after --stall-timeout without progress
  counter ws_idle_closes;       // closed after the silence timeout
  counter cache_hits, cache_misses;
  counter store_reads;
  counter store_read_micros;  // summed duration of store reads
  counter accepted, accept_errors;
  gauge ws_queued_bytes;  // bytes queued on WebSocket sessions, all together
};

metrics& global_metrics();

}  // namespace cutover::net
