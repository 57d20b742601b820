// sio_conformance_server: cutover_sio behind the handlers of the Engine.IO and Socket.IO
// protocol suites (tests only; see tools/sio-conformance.sh).
//   sio_conformance_server [--port 3000] [--ping-interval 300] [--ping-timeout 200]
//                          [--max-payload 1000000] [--connect-timeout 1000] [--frame-gap 0]
// Durations in milliseconds. Prints "listening on port N" once it accepts connections.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "server.hpp"

int main(int argc, char** argv) {
  using cutover::sio_conformance::options;
  options o;
  o.eio.ping_interval = std::chrono::milliseconds(300);
  o.eio.ping_timeout = std::chrono::milliseconds(200);
  try {
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument("missing value after " + std::string(a));
      long v = std::stol(argv[++i]);
      if (v < 0) throw std::invalid_argument("negative value for " + std::string(a));
      if (a == "--port") {
        o.port = static_cast<std::uint16_t>(v);
      } else if (a == "--ping-interval") {
        o.eio.ping_interval = std::chrono::milliseconds(v);
      } else if (a == "--ping-timeout") {
        o.eio.ping_timeout = std::chrono::milliseconds(v);
      } else if (a == "--max-payload") {
        o.eio.max_payload = static_cast<std::size_t>(v);
      } else if (a == "--connect-timeout") {
        o.connect_timeout = std::chrono::milliseconds(v);
      } else if (a == "--frame-gap") {
        o.frame_gap = std::chrono::milliseconds(v);
      } else {
        throw std::invalid_argument("unknown option " + std::string(a));
      }
    }
    boost::asio::io_context ioc;
    cutover::sio_conformance::server srv(ioc, o);
    srv.start();
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) { ioc.stop(); });
    std::cout << "listening on port " << o.port << std::endl;
    ioc.run();
  } catch (const std::exception& e) {
    std::cerr << "sio_conformance_server: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
