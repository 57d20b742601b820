// Everything not served here goes to --upstream (the legacy app) unchanged, except the
// headers DESIGN §7 makes Cutover's own; the answer comes back as the app sent it.
#include <boost/asio/post.hpp>

#include "net/http_session.hpp"

namespace cutover::net {
namespace http = boost::beast::http;
namespace asio = boost::asio;

bool http_session::serve_upstream(std::shared_ptr<body_pipe> stream) {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  if (iequals(std::string_view(req[http::field::upgrade]), "websocket")) {
    reject(502, "WebSocket pass-through to the upstream is not supported");
    return false;
  }
  upstream_request up;
  up.method = std::string(req.method_string());
  up.target = ctx.upstream->target().base_path + std::string(req.target());
  std::string_view connection(req[http::field::connection]);
  // DESIGN §7: the forwarded headers are Cutover's own, and the gateway's identity header
  // is believed only from a trusted peer; from anyone else both are removed.
  const bool trusted = ctx.trusted(peer_);
  const std::string& gateway = ctx.auth->config().header_name;
  bool removed = false, have_proto = false, have_host = false;
  std::string forwarded_for;
  for (const auto& f : req) {
    std::string_view name(f.name_string().data(), f.name_string().size());
    if (is_hop_by_hop(name, connection) || f.name() == http::field::host ||
        f.name() == http::field::content_length)
      continue;
    if (is_forwarding_header(name) || (!gateway.empty() && iequals(name, gateway))) {
      if (!trusted) {
        removed = true;
        continue;
      }
      if (iequals(name, "x-forwarded-for")) {
        if (!forwarded_for.empty()) forwarded_for += ", ";
        forwarded_for += std::string_view(f.value());
        continue;
      }
      have_proto = have_proto || iequals(name, "x-forwarded-proto");
      have_host = have_host || iequals(name, "x-forwarded-host");
    }
    up.headers.emplace_back(std::string(name), std::string(f.value()));
  }
  if (removed) global_metrics().untrusted_headers_removed.add();
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  std::string peer = ec ? "unknown" : ep.address().to_string();
  up.headers.emplace_back("X-Forwarded-For",
                          forwarded_for.empty() ? peer : forwarded_for + ", " + peer);
  if (!have_proto) up.headers.emplace_back("X-Forwarded-Proto", "http");
  if (auto h = req.find(http::field::host); h != req.end() && !have_host)
    up.headers.emplace_back("X-Forwarded-Host", std::string(h->value()));
  if (stream) {
    up.body_stream = stream;
    if (auto len = parser_->content_length()) up.stream_length = *len;
  } else {
    up.body = std::move(req.body());
    arm_read();
  }
  bool queued = ctx.upstream->submit(
      std::move(up), [self = shared_from_this(), io = &shard_.io()](upstream_response r) mutable {
        boost::asio::post(*io, [self = std::move(self), r = std::move(r)]() mutable {
          self->on_upstream(std::move(r));
        });
      });
  if (!queued) {
    if (stream) keep_alive_ = false;  // the body it announced is never read
    reject(503, "too many requests waiting for the upstream, retry");
    return false;
  }
  stream_ = std::move(stream);
  return true;
}

void http_session::on_upstream(upstream_response r) {
  if (phase_ == phase::reading && stream_) {
    // The upstream answered before the client finished its body (a refusal, typically):
    // that answer goes out now, and the connection closes with the rest unread. A failure
    // of the body's side means it stopped coming and the worker's backstop ran out before
    // this thread's deadline check did: the client's fault, as a late header is. Any other
    // failure is the upstream's (below).
    if (r.why == upstream_response::failure::body) return body_timed_out();
    end_stream();
    parser_.reset();
    phase_ = phase::handling;
  }
  stream_.reset();
  if (phase_ != phase::handling) return;
  if (r.status == 0) {
    switch (r.why) {
      case upstream_response::failure::timeout:
        return reject(504, "upstream did not answer in time");
      case upstream_response::failure::too_large:
        return reject(502, r.error);
      case upstream_response::failure::overloaded:
        return reject(503, "upstream unavailable: " + r.error);
      case upstream_response::failure::body:
        return;  // the client's side ended first and was answered (408, or it left)
      default:
        return reject(502, "upstream unreachable: " + r.error);
    }
  }
  if (shutting_down_) keep_alive_ = false;
  // Status, headers (Set-Cookie included) and body as the legacy app sent them; framing
  // headers are ours.
  std::string reason = r.reason.empty() || r.reason.find_first_of("\r\n") != std::string::npos
                           ? std::string(status_reason(r.status))
                           : r.reason;
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason + "\r\n";
  std::string_view connection;
  for (const auto& [k, v] : r.headers)
    if (iequals(k, "connection")) connection = v;
  bool have_length = false;
  for (const auto& [k, v] : r.headers) {
    if (is_hop_by_hop(k, connection)) continue;
    bool is_length = iequals(k, "content-length");
    if (is_length) {
      if (!head_request_) continue;  // recomputed below
      have_length = true;
    }
    out += k + ": " + v + "\r\n";
  }
  if (!head_request_ || !have_length)
    out += "Content-Length: " + std::to_string(head_request_ ? 0 : r.body.size()) + "\r\n";
  if (!keep_alive_) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_request_) out += r.body;
  send(std::move(out));
}

}  // namespace cutover::net
