#pragma once
// A raw TCP client for misbehaving on purpose: sends any bytes (half a header, a trickle,
// nothing at all), reads only when asked, and tells when the server closed or reset.
// Every read has a deadline.

#include <chrono>
#include <string>
#include <string_view>

namespace cutover::testing {

class tcp_client {
 public:
  // Connects to 127.0.0.1:port; throws std::runtime_error when it cannot.
  explicit tcp_client(int port);
  ~tcp_client();
  tcp_client(const tcp_client&) = delete;
  tcp_client& operator=(const tcp_client&) = delete;

  // False once the peer closed or reset the connection.
  bool send_all(std::string_view bytes);
  // Waits up to `timeout` for bytes; false when none came (timeout, EOF or reset).
  bool read_some(std::chrono::milliseconds timeout);
  // Reads until one complete HTTP response is buffered (or EOF/timeout).
  bool read_response(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until the server closes the connection.
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  int status() const;        // of the buffered HTTP response, 0 when there is none
  std::string body() const;  // everything after the buffered response's header
  const std::string& received() const { return in_; }
  bool closed() const { return closed_; }

 private:
  bool response_complete() const;
  int fd_ = -1;
  std::string in_;
  bool closed_ = false;
};

}  // namespace cutover::testing
