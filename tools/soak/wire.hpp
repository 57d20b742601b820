#pragma once
// The soak's clients speak to Cutover over plain sockets, with their own small HTTP/1.1
// and RFC 6455 code: they must behave exactly as told (stop reading, drop a connection
// mid-frame, reconnect elsewhere), which a full client library would smooth over. Every
// call has a deadline; nothing here blocks forever on a stopped or killed server.

#include <chrono>
#include <optional>
#include <string>

namespace cutover::soak {

using clock = std::chrono::steady_clock;

// A connected TCP socket (blocking, used with poll()).
class tcp_socket {
 public:
  tcp_socket() = default;
  ~tcp_socket();
  tcp_socket(tcp_socket&& o) noexcept;
  tcp_socket& operator=(tcp_socket&& o) noexcept;

  // Connects to 127.0.0.1:port; `rcvbuf` > 0 shrinks the receive buffer (slow consumer).
  static std::optional<tcp_socket> connect(int port, std::chrono::milliseconds timeout,
                                           int rcvbuf = 0);
  bool send_all(const std::string& bytes, clock::time_point deadline);
  // Appends what arrives to `into`; false on timeout, EOF or error (see closed()).
  bool read_some(std::string& into, clock::time_point deadline);
  bool closed() const { return closed_; }
  void close();

 private:
  int fd_ = -1;
  bool closed_ = false;
};

struct http_answer {
  int status = 0;  // 0: no answer (refused, reset, timed out)
  std::string body;
};

// GET `target` on a fresh connection (Connection: close).
http_answer http_get(int port, const std::string& target, std::chrono::milliseconds timeout);

// A WebSocket client session. Reads only when asked.
class ws_client {
 public:
  // Handshake for `target`; status() is 101 on success, the HTTP status otherwise.
  bool open(int port, const std::string& target, std::chrono::milliseconds timeout, int rcvbuf = 0);
  int status() const { return status_; }

  struct frame {
    int opcode = -1;  // -1: nothing complete before the deadline; -2: connection gone
    std::string payload;
  };
  // The next frame; answers pings on the way.
  frame next(clock::time_point deadline);
  bool send_text(const std::string& text);
  void close() { sock_.close(); }

 private:
  bool send_frame(int opcode, const std::string& payload);
  tcp_socket sock_;
  std::string buf_;
  int status_ = 0;
};

}  // namespace cutover::soak
