#pragma once
// Every path the server answers itself, as data: what it is, who may call it (auth
// policy), whether the browser origin check applies, and what the connection is counted
// as in metrics while it is served. http_session dispatches on it; a path not in the
// table goes to --upstream (or 404). Built once by server::prepare, read-only afterwards.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/metrics.hpp"

namespace cutover::net {

class route;

enum class route_kind : std::uint8_t {
  health,            // /healthz
  ready,             // /readyz
  metrics,           // /metrics
  publish,           // POST /v1/publish
  websocket,         // the WebSocket upgrade (DESIGN §5)
  events,            // SSE (DESIGN §6.1)
  socketio,          // Engine.IO / Socket.IO (DESIGN §6.2): polling, WebSocket, upgrade
  dashboard,         // GET /dashboard (net/dashboard.hpp)
  dashboard_events,  // GET /dashboard/events, its SSE feed
  demo,              // GET /demo (serve --demo, net/demo.hpp)
  demo_token,        // GET /demo/token?user=NAME, a demo user's token
  app,               // a route the app plugged in (the legacy poll)
};

enum class auth_policy : std::uint8_t {
  none,         // health, readiness, metrics
  admin_token,  // Authorization: Bearer <--admin-token>
  identity,     // a client identity (DESIGN §7), resolved before the handler runs
};

struct route_entry {
  std::string path;
  route_kind kind;
  auth_policy auth;
  bool browser;          // the origin check (DESIGN §7) applies
  transport counted_as;  // metrics label while it is served
  route* app = nullptr;  // kind == app
};

class route_table {
 public:
  void add(route_entry e) { entries_.push_back(std::move(e)); }
  const route_entry* find(std::string_view path) const {
    for (const auto& e : entries_)
      if (e.path == path) return &e;
    return nullptr;
  }
  const std::vector<route_entry>& entries() const noexcept { return entries_; }

 private:
  std::vector<route_entry> entries_;  // a handful: a linear search beats hashing
};

}  // namespace cutover::net
