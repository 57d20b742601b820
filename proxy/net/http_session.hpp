#pragma once
// One HTTP/1.1 connection on one I/O thread: reads requests (keep-alive, pipelining),
// dispatches on the route table (net/route_table.hpp), authenticates per route, answers
// health/ready/metrics/publish (http_admin.cpp), forwards the rest upstream
// (http_upstream.cpp), hands `/v1/ws` upgrades and `/v1/events` streams to push
// sessions (http_push.cpp), and runs the app's routes (the legacy poll) — including
// parking a poll until an arrival or its deadline without holding a thread
// (http_hold.cpp).
//
// Memory while parked: no read buffer (reads go through the shard's scratch buffer), no
// parser (freed once the request is parsed); just the socket and the wait state.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <string>

#include "net/fetch.hpp"
#include "net/http_framing.hpp"
#include "net/route.hpp"
#include "net/shard.hpp"
#include "net/upstream.hpp"

namespace cutover::net {

class sio_conn;

class http_session final : public connection_base,
                           public subscriber,
                           public parked_poll,
                           public exchange,
                           public std::enable_shared_from_this<http_session> {
 public:
  http_session(shard& sh, boost::asio::ip::tcp::socket socket);
  ~http_session() override;

  void start();  // on the shard's thread

  // connection_base
  void on_tick(clock::time_point now) override;
  void on_shutdown() override;
  // subscriber
  void on_entries(std::span<const notification_ptr> entries) override;
  void on_lost(stream_id after, stream_id through) override;
  // parked_poll
  void on_deadline() override;
  // exchange
  void wait_for(const wait_spec& spec, std::function<void(wait_result)> done) override;
  void respond(int status, std::string body, std::vector<header> extra = {},
               std::string_view content_type = "application/json") override;
  std::optional<stream_id> head() const override;
  // Socket.IO: the answer to polling request `carrier`, posted here by its session.
  void sio_answer(std::uint64_t carrier, int status, std::string_view content_type,
                  std::string body, std::vector<header> cors);
  void delivering(std::span<const notification_ptr> sent) override;

 private:
  using parser_type = request_parser;
  enum class phase : std::uint8_t { idle, reading, handling, writing, closed };

  void arm_read();
  void on_readable(boost::system::error_code ec);
  // Feeds bytes to the parser; dispatches a complete request. False if the connection ended.
  bool consume(const char* data, std::size_t n);
  // A request's header is complete: RFC 9112 framing, Expect, and whether its body is
  // read at all (only publish, after the admin token, and pass-through take one; DESIGN
  // §8). False when it was answered.
  bool on_header();
  bool reserve_body(std::size_t total);  // against the shared budget; false: answered 503
  void release_body();
  void dispatch();
  void send(std::string bytes);
  void on_written(boost::system::error_code ec);
  void close();
  void reject(int status, std::string_view message, bool count_bad = true);

  enum class next_step : std::uint8_t { route, websocket, sse, socketio };
  void serve_ready();
  void serve_metrics();
  // Resolves the caller (synchronously, or through the who-am-I cache and URL), then
  // continues with `t`.
  void identify_then(next_step t);
  void after_identity(next_step t, auth_outcome who);
  void serve_route();
  void serve_upgrade(const auth_outcome& who);
  void serve_sse(const auth_outcome& who);
  void serve_sse_preflight();
  void shed_sse();  // 200, retry:, end of stream (DESIGN §6.1: never 503)
  std::vector<header> cors_headers() const;
  void serve_publish();
  // Socket.IO (http_sio.cpp): checks, then a handshake (after identity) or a request for
  // an existing sid (no identity: the sid is the session's credential).
  void serve_sio();
  void serve_sio_preflight();
  void serve_sio_after_identity(const auth_outcome& who);
  void sio_refuse(int code);  // Engine.IO's {"code":N,"message":..}
  // The upgrade's accept key, or nullopt after answering the refusal.
  std::optional<std::string> ws_accept_or_reject();
  credentials request_credentials() const;
  bool publish_allowed();         // admin token and method, from the header alone; false: answered
  void serve_dashboard();         // http_admin.cpp
  void serve_dashboard_events();  // hands the socket to a dashboard feed
  void serve_demo();              // GET /demo (--demo)
  void serve_demo_token();        // GET /demo/token?user=NAME (--demo)
  // Pass-through. With `stream`, the request goes to the upstream from its header and the
  // body follows through the pipe as it is read (DESIGN §8); false when it was refused.
  bool serve_upstream(std::shared_ptr<body_pipe> stream = nullptr);
  void on_upstream(upstream_response r);
  bool stream_body();  // moves what the parser holds of a streamed body into the pipe
  void stream_room();  // the worker took the pipe's bytes: read the client again
  void end_stream();   // the client side of a streamed body failed or ended early
  // Bytes of a streamed body arrived, or its read resumes: the idle deadline starts again.
  void body_progress();
  // A streamed body missed --body-idle-timeout or --body-timeout: 408, close, counted.
  void body_timed_out();
  void release_request();  // frees the parsed request once nothing needs it
  // The socket moves to a push session (WebSocket, SSE, Socket.IO): this HTTP side stops
  // counting and tracking it, and never touches it again.
  void retire_for_handover();
  bool origin_allowed();  // DESIGN §7; false: answered 403

  // poll wait
  struct waiting {
    wait_spec spec;
    std::function<void(wait_result)> done;
    bool fetching = false;
    bool wake_pending = false;
    bool parked = false;  // counted in waiting_polls, for the hold histogram
    bool timed = false;   // in the shard's deadline list (from wait_for on, reads included)
    clock::time_point parked_at{};
    clock::time_point deadline{};  // --poll-timeout after wait_for: it bounds the reads too
    read_claim_ptr claim;          // the store read in flight
  };
  void wait_fetch();
  void wait_fetched(fetch_result r);
  // `woken`: an arrival answers a parked poll (delivery `live`; hold outcome `arrival`).
  void wait_finish(wait_result r, bool woken = false);
  void wait_cancel();

  shard& shard_;
  boost::asio::ip::tcp::socket socket_;
  std::string rx_;  // bytes received but not parsed yet (partial or pipelined requests)
  std::unique_ptr<parser_type> parser_;
  std::optional<query_params> query_;
  route* route_ = nullptr;
  bool head_request_ = false;
  std::string tx_;
  std::unique_ptr<waiting> wait_;
  std::shared_ptr<body_pipe> stream_;  // the pass-through body being streamed, if any
  struct sio_waiting {
    std::shared_ptr<sio_conn> conn;
    std::uint64_t carrier = 0;
  };
  std::optional<sio_waiting> sio_wait_;  // a polling request its session has not answered
  std::optional<caller> caller_;
  std::string demo_publisher_;  // publish_allowed(): a --demo user's token, not the admin's
  std::string cors_origin_;     // an allowed cross-origin page's Origin, echoed (this request)
  std::array<std::uint8_t, 16> peer_{};
  clock::time_point deadline_{};
  clock::time_point body_cap_{};  // --body-timeout after the header of the body streaming now
  phase phase_ = phase::idle;
  bool header_checked_ = false;    // on_header() ran for the request being read
  std::size_t body_reserved_ = 0;  // of ctx.request_bodies, for this request's body
  bool read_armed_ = false;
  bool read_paused_ = false;  // too much pipelined input; resumes after the response
  bool keep_alive_ = true;
  bool shutting_down_ = false;
  transport counted_as_ = transport::http;
  // Delivery latency of the answer being written: the ids' milliseconds, recorded once
  // it is out. `answer_live_`: the poll was parked and woken by an arrival.
  std::vector<std::uint64_t> delivering_ms_;
  bool answer_live_ = false;
};

}  // namespace cutover::net
