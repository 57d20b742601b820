#include "tcp_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace cutover::testing {

using clock_type = std::chrono::steady_clock;

tcp_client::tcp_client(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::string why = std::strerror(errno);
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error("connect: " + why);
  }
}

tcp_client::~tcp_client() {
  if (fd_ >= 0) ::close(fd_);
}

bool tcp_client::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool tcp_client::read_some(std::chrono::milliseconds timeout) {
  if (closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  in_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

bool tcp_client::read_response(std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (!response_complete()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0 || !read_some(left)) return response_complete();
  }
  return true;
}

bool tcp_client::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (!closed_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return false;
    read_some(left);
  }
  return true;
}

int tcp_client::status() const {
  return in_.size() >= 12 && in_.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(in_.substr(9, 3)) : 0;
}

std::string tcp_client::body() const {
  auto end = in_.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : in_.substr(end + 4);
}

bool tcp_client::response_complete() const {
  auto end = in_.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  auto cl = in_.find("Content-Length: ");
  std::size_t len = cl == std::string::npos || cl > end ? 0 : std::stoul(in_.substr(cl + 16));
  return in_.size() >= end + 4 + len;
}

}  // namespace cutover::testing
