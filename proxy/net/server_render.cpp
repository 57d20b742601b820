#include "net/server_render.hpp"

#include <cstdio>

#include "net/user_activity.hpp"

namespace cutover::net {

void prometheus_sample(std::string& out, const char* name, const char* labels, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += name;
  if (labels && *labels) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += buf;
  out += '\n';
}

void prometheus_histogram(std::string& out, const char* name, const char* labels,
                          const core::histogram::snapshot& h) {
  const std::string base(name);
  const std::string extra = labels && *labels ? std::string(labels) + "," : std::string();
  const std::string bucket = base + "_bucket";
  char le[48];
  for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
    if (i < h.bounds.size())
      std::snprintf(le, sizeof le, "le=\"%.17g\"", h.bounds[i]);
    else
      std::snprintf(le, sizeof le, "le=\"+Inf\"");
    prometheus_sample(out, bucket.c_str(), (extra + le).c_str(),
                      static_cast<double>(h.cumulative[i]));
  }
  prometheus_sample(out, (base + "_sum").c_str(), labels, h.sum);
  prometheus_sample(out, (base + "_count").c_str(), labels, static_cast<double>(h.count()));
}

void prometheus_help(std::string& out, const char* name, const char* type, const char* text) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += text;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

namespace {
void line(std::string& out, const char* name, const char* labels, double v) {
  prometheus_sample(out, name, labels, v);
}
void help(std::string& out, const char* name, const char* type, const char* text) {
  prometheus_help(out, name, type, text);
}
}  // namespace

std::string render_metrics(const server_context& ctx) {
  const auto& m = global_metrics();
  std::string out;
  out.reserve(4096);
  auto label = [](const transport_info& t) { return std::string("transport=\"") + t.label + "\""; };
  auto per_transport = [&](const char* name, const char* type, const char* text, bool push_only,
                           auto value) {
    help(out, name, type, text);
    for (const auto& t : transports()) {
      if (push_only && !t.push) continue;
      line(out, name, label(t).c_str(), static_cast<double>(value(static_cast<std::size_t>(t.id))));
    }
  };
  per_transport("cutover_connections", "gauge", "Open client connections by transport.", false,
                [&](std::size_t i) { return m.connections[i].get(); });
  help(out, "cutover_waiting_polls", "gauge",
       "Long-polls parked until an arrival or their timeout.");
  line(out, "cutover_waiting_polls", "", static_cast<double>(m.waiting_polls.get()));
  help(out, "cutover_deliveries_total", "counter",
       "Notifications handed to client sockets, by transport.");
  for (const auto& t : transports()) {
    if (!t.user_facing) continue;
    line(out, "cutover_deliveries_total", label(t).c_str(),
         static_cast<double>(m.deliveries[static_cast<std::size_t>(t.id)].get()));
  }
  help(out, "cutover_requests_total", "counter",
       "Long-poll requests and push sessions (WebSocket, SSE) started.");
  for (const auto& t : transports()) {
    if (!t.user_facing) continue;
    line(out, "cutover_requests_total", label(t).c_str(),
         static_cast<double>(m.requests[static_cast<std::size_t>(t.id)].get()));
  }
  help(out, "cutover_bad_requests_total", "counter",
       "Requests refused as malformed (400, 408, 413, 431).");
  line(out, "cutover_bad_requests_total", "", static_cast<double>(m.bad_requests.get()));
  help(out, "cutover_unauthorized_total", "counter",
       "Requests refused for missing or invalid identity (401).");
  line(out, "cutover_unauthorized_total", "", static_cast<double>(m.unauthorized.get()));
  help(out, "cutover_origin_refusals_total", "counter",
       "Browser requests refused with 403 because their Origin is not allowed (DESIGN §7)");
  line(out, "cutover_origin_refusals_total", "", static_cast<double>(m.origin_refusals.get()));
  help(out, "cutover_untrusted_headers_removed_total", "counter",
       "Pass-through requests from a peer outside --trusted-peer whose identity or forwarded "
       "headers were removed (DESIGN §7).");
  line(out, "cutover_untrusted_headers_removed_total", "",
       static_cast<double>(m.untrusted_headers_removed.get()));
  help(out, "cutover_body_budget_refusals_total", "counter",
       "Requests refused with 503 because the request bodies being read would pass "
       "--body-budget-mb.");
  line(out, "cutover_body_budget_refusals_total", "",
       static_cast<double>(m.body_budget_refusals.get()));
  help(out, "cutover_body_timeouts_total", "counter",
       "Pass-through bodies cut with 408: no bytes for --body-idle-timeout (idle), or not "
       "complete within --body-timeout (total).");
  line(out, "cutover_body_timeouts_total", "reason=\"idle\"",
       static_cast<double>(m.body_timeouts[0].get()));
  line(out, "cutover_body_timeouts_total", "reason=\"total\"",
       static_cast<double>(m.body_timeouts[1].get()));
  help(out, "cutover_overload_rejections_total", "counter",
       "Requests refused by a limit (503 with Retry-After).");
  line(out, "cutover_overload_rejections_total", "",
       static_cast<double>(m.overload_rejections.get()));
  help(out, "cutover_health_reserve_answers_total", "counter",
       "/healthz and /readyz answered on a --health-reserve connection, past "
       "--max-connections.");
  line(out, "cutover_health_reserve_answers_total", "",
       static_cast<double>(m.health_reserve_answers.get()));
  help(out, "cutover_ws_client_errors_total", "counter",
       "Client WebSocket messages answered with an error frame.");
  line(out, "cutover_ws_client_errors_total", "", static_cast<double>(m.ws_client_errors.get()));
  constexpr auto ws = static_cast<std::size_t>(transport::websocket);
  help(out, "cutover_ws_closes_total", "counter",
       "WebSocket sessions closed by the server, by reason.");
  line(out, "cutover_ws_closes_total", "reason=\"protocol\"",
       static_cast<double>(m.protocol_closes[ws].get()));
  line(out, "cutover_ws_closes_total", "reason=\"stalled\"",
       static_cast<double>(m.stalled_closes[ws].get()));
  line(out, "cutover_ws_closes_total", "reason=\"idle\"",
       static_cast<double>(m.idle_closes[ws].get()));
  help(out, "cutover_ws_slow_consumer_total", "counter",
       "Times a WebSocket session stopped queueing live entries and caught up from the store.");
  line(out, "cutover_ws_slow_consumer_total", "", static_cast<double>(m.slow_consumer[ws].get()));
  help(out, "cutover_ws_queued_bytes", "gauge",
       "Bytes waiting in WebSocket send queues (each bounded by --ws-queue-bytes).");
  line(out, "cutover_ws_queued_bytes", "", static_cast<double>(m.queued_bytes[ws].get()));
  // The same, for every push transport.
  per_transport("cutover_push_slow_consumer_total", "counter",
                "Times a push session stopped queueing live entries and caught up from the store.",
                true, [&](std::size_t i) { return m.slow_consumer[i].get(); });
  per_transport("cutover_push_stalled_closes_total", "counter",
                "Push sessions ended after --stall-timeout without progress.", true,
                [&](std::size_t i) { return m.stalled_closes[i].get(); });
  per_transport("cutover_push_queued_bytes", "gauge",
                "Bytes waiting in push session send queues (each bounded by --ws-queue-bytes).",
                true, [&](std::size_t i) { return m.queued_bytes[i].get(); });
  help(out, "cutover_sse_shed_total", "counter",
       "SSE requests shed with 200, a retry: line and the end of the stream (never 503).");
  line(out, "cutover_sse_shed_total", "", static_cast<double>(m.sse_shed.get()));
  help(out, "cutover_socketio_sessions", "gauge",
       "Engine.IO sessions at /socket.io/ by the transport they are on now.");
  line(out, "cutover_socketio_sessions", "transport=\"polling\"",
       static_cast<double>(m.sio_sessions[0].get()));
  line(out, "cutover_socketio_sessions", "transport=\"websocket\"",
       static_cast<double>(m.sio_sessions[1].get()));
  help(out, "cutover_socketio_upgrades_total", "counter",
       "Engine.IO sessions upgraded from polling to WebSocket.");
  line(out, "cutover_socketio_upgrades_total", "", static_cast<double>(m.sio_upgrades.get()));
  help(out, "cutover_socketio_refusals_total", "counter",
       "Socket.IO requests refused, by kind: a sid not held here (Engine.IO 400), a CONNECT "
       "answered 44, protocol garbage that closed the session, client events ignored.");
  line(out, "cutover_socketio_refusals_total", "kind=\"unknown_sid\"",
       static_cast<double>(m.sio_unknown_sid.get()));
  line(out, "cutover_socketio_refusals_total", "kind=\"connect\"",
       static_cast<double>(m.sio_refused_connect.get()));
  line(out, "cutover_socketio_refusals_total", "kind=\"garbage\"",
       static_cast<double>(m.sio_garbage.get()));
  line(out, "cutover_socketio_refusals_total", "kind=\"ignored_event\"",
       static_cast<double>(m.sio_ignored_events.get()));
  help(out, "cutover_cache_reads_total", "counter",
       "Backlog reads answered from memory (hit) or sent to the store (miss).");
  line(out, "cutover_cache_reads_total", "result=\"hit\"", static_cast<double>(m.cache_hits.get()));
  line(out, "cutover_cache_reads_total", "result=\"miss\"",
       static_cast<double>(m.cache_misses.get()));
  help(out, "cutover_store_reads_total", "counter",
       "Range reads done by the store reader threads.");
  line(out, "cutover_store_reads_total", "", static_cast<double>(m.store_reads.get()));
  help(out, "cutover_store_reads_skipped_total", "counter",
       "Queued store reads dropped before they touched the store: the client left or moved "
       "on (gone), or its poll's deadline passed first (late).");
  line(out, "cutover_store_reads_skipped_total", "reason=\"gone\"",
       static_cast<double>(m.store_reads_skipped_gone.get()));
  line(out, "cutover_store_reads_skipped_total", "reason=\"late\"",
       static_cast<double>(m.store_reads_skipped_late.get()));
  help(out, "cutover_store_read_seconds_total", "counter", "Time spent in store range reads.");
  line(out, "cutover_store_read_seconds_total", "",
       static_cast<double>(m.store_read_micros.get()) / 1e6);
  help(out, "cutover_accepted_connections_total", "counter", "Connections accepted.");
  line(out, "cutover_accepted_connections_total", "", static_cast<double>(m.accepted.get()));
  if (ctx.hub_) {
    auto hs = ctx.hub_->stats();
    help(out, "cutover_prune_marks", "gauge",
         "Retention marks held per topic; older ones are folded into one floor (DESIGN §11).");
    line(out, "cutover_prune_marks", "", static_cast<double>(ctx.hub_->mark_count()));
    help(out, "cutover_cache_entries", "gauge",
         "Notifications held in memory for wakes and short replays.");
    line(out, "cutover_cache_entries", "", static_cast<double>(hs.cached_entries));
    help(out, "cutover_cache_bytes", "gauge", "Estimated bytes of the in-memory notifications.");
    line(out, "cutover_cache_bytes", "", static_cast<double>(hs.cached_bytes));
  }
  help(out, "cutover_delivery_latency_seconds", "histogram",
       "Stream id time to the notification written on the client's socket, by transport; "
       "delivery=\"live\" from the fan-out, \"replay\" from catch-up reads.");
  for (const auto& t : transports()) {
    if (!t.user_facing) continue;
    for (auto k : {delivery_kind::live, delivery_kind::replay}) {
      std::string l =
          label(t) + (k == delivery_kind::live ? ",delivery=\"live\"" : ",delivery=\"replay\"");
      prometheus_histogram(
          out, "cutover_delivery_latency_seconds", l.c_str(),
          m.delivery_latency[static_cast<std::size_t>(t.id)][static_cast<std::size_t>(k)].read());
    }
  }
  help(out, "cutover_longpoll_hold_seconds", "histogram",
       "Time long-polls spent parked, by how they ended (an arrival or --poll-timeout).");
  prometheus_histogram(out, "cutover_longpoll_hold_seconds", "outcome=\"arrival\"",
                       m.hold_arrival.read());
  prometheus_histogram(out, "cutover_longpoll_hold_seconds", "outcome=\"timeout\"",
                       m.hold_timeout.read());
  auto users = global_user_activity().recent();
  help(out, "cutover_users_last_hour", "gauge",
       "Distinct users seen in the last hour, by transport (both: long-poll and a push "
       "transport; 2+: two or more transports, whichever).");
  for (const auto& t : transports()) {
    if (!t.user_facing) continue;
    line(out, "cutover_users_last_hour", label(t).c_str(),
         static_cast<double>(users.by_transport[static_cast<std::size_t>(t.id)]));
  }
  line(out, "cutover_users_last_hour", "transport=\"both\"", static_cast<double>(users.both));
  line(out, "cutover_users_last_hour", "transport=\"2+\"", static_cast<double>(users.two_plus));
  if (ctx.extra_metrics) out += ctx.extra_metrics();
  return out;
}

}  // namespace cutover::net
