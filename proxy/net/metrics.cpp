#include "net/metrics.hpp"

#include <chrono>

namespace cutover::net {

namespace {
constexpr transport_info kTable[] = {
    {transport::longpoll, "longpoll", false, true},
    {transport::websocket, "websocket", true, true},
    {transport::sse, "sse", true, true},
    {transport::socketio, "socketio", true, true},
    {transport::http, "http", false, false},
};
static_assert(std::size(kTable) == kTransports);
}  // namespace

std::span<const transport_info> transports() {
  return kTable;
}

const char* transport_label(transport t) {
  for (const auto& i : kTable)
    if (i.id == t) return i.label;
  return "?";
}

std::uint64_t wall_ms_now() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

metrics& global_metrics() {
  static metrics m;
  return m;
}

}  // namespace cutover::net
