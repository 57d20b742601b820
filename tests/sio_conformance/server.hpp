#pragma once
// A small HTTP + WebSocket server (Beast) that carries cutover_sio's Engine.IO sessions for
// the published protocol suites: /engine.io/ runs the echo handler, /socket.io/ the
// Socket.IO one. Test-only; one io_context, one thread. Each WebSocket frame goes out in its
// own write, the next one posted a task later (or `frame_gap` later): the suites add their
// next listener only after the previous await resumes, so two frames that the Node `ws`
// client reads at once lose the second. Separate writes make that rare, not impossible (a
// loaded client reads late); tools/sio-conformance.sh also makes `ws` dispatch one event per
// task, as browsers do.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "sio/eio_handshake.hpp"

namespace cutover::sio_conformance {

struct options {
  std::uint16_t port = 3000;
  sio::eio_config eio;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds frame_gap{0};  // 0: the next frame is posted (one task apart)
};

class server {
 public:
  server(boost::asio::io_context& ioc, const options& opts);
  ~server();
  // Listens on 127.0.0.1 and, when the host has it, ::1 (the suites say "localhost").
  void start();

  struct impl;  // the listener, the registry and the connections' shared state

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace cutover::sio_conformance
