#include "wire.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <random>

namespace cutover::soak {
namespace {

int ms_left(clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace

tcp_socket::~tcp_socket() {
  close();
}

tcp_socket::tcp_socket(tcp_socket&& o) noexcept : fd_(o.fd_), closed_(o.closed_) {
  o.fd_ = -1;
}

tcp_socket& tcp_socket::operator=(tcp_socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    closed_ = o.closed_;
    o.fd_ = -1;
  }
  return *this;
}

void tcp_socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  closed_ = true;
}

std::optional<tcp_socket> tcp_socket::connect(int port, std::chrono::milliseconds timeout,
                                              int rcvbuf) {
  tcp_socket s;
  s.fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s.fd_ < 0) return std::nullopt;
  if (rcvbuf > 0) ::setsockopt(s.fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  ::setsockopt(s.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s.fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno != EINPROGRESS) return std::nullopt;
    pollfd p{s.fd_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return std::nullopt;
  }
  return s;
}

bool tcp_socket::send_all(const std::string& bytes, clock::time_point deadline) {
  std::size_t off = 0;
  while (off < bytes.size() && !closed_) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, ms_left(deadline)) <= 0) return false;
      continue;
    }
    closed_ = true;
  }
  return off == bytes.size();
}

bool tcp_socket::read_some(std::string& into, clock::time_point deadline) {
  if (closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, ms_left(deadline)) <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n > 0) {
    into.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
  closed_ = true;
  return false;
}

http_answer http_get(int port, const std::string& target, std::chrono::milliseconds timeout) {
  http_answer out;
  auto deadline = clock::now() + timeout;
  auto s = tcp_socket::connect(port, timeout);
  if (!s) return out;
  if (!s->send_all("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                   deadline))
    return out;
  std::string in;
  while (true) {
    auto end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = in.find("Content-Length: ");
      std::size_t len = cl == std::string::npos || cl > end ? 0 : std::stoul(in.substr(cl + 16));
      if (in.size() >= end + 4 + len && in.rfind("HTTP/1.1 ", 0) == 0) {
        out.status = std::stoi(in.substr(9, 3));
        out.body = in.substr(end + 4, len);
        return out;
      }
    }
    if (!s->read_some(in, deadline)) return out;
  }
}

bool ws_client::open(int port, const std::string& target, std::chrono::milliseconds timeout,
                     int rcvbuf) {
  status_ = 0;
  buf_.clear();
  auto deadline = clock::now() + timeout;
  auto s = tcp_socket::connect(port, timeout, rcvbuf);
  if (!s) return false;
  sock_ = std::move(*s);
  // The key is fixed: the soak does not test the handshake.
  if (!sock_.send_all("GET " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n",
                      deadline))
    return false;
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!sock_.read_some(buf_, deadline)) return false;
  if (buf_.rfind("HTTP/1.1 ", 0) != 0) return false;
  status_ = std::stoi(buf_.substr(9, 3));
  buf_.erase(0, end + 4);
  if (status_ != 101) sock_.close();
  return status_ == 101;
}

ws_client::frame ws_client::next(clock::time_point deadline) {
  while (true) {
    if (buf_.size() >= 2) {
      auto b1 = static_cast<unsigned char>(buf_[1]);
      std::size_t len = b1 & 0x7F, hdr = 2;
      bool have_len = true;
      if (len == 126) {
        have_len = buf_.size() >= 4;
        if (have_len)
          len = (static_cast<std::size_t>(static_cast<unsigned char>(buf_[2])) << 8) |
                static_cast<unsigned char>(buf_[3]);
        hdr = 4;
      } else if (len == 127) {
        have_len = buf_.size() >= 10;
        if (have_len) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(buf_[2 + i]);
        }
        hdr = 10;
      }
      if (have_len && buf_.size() >= hdr + len) {
        frame f{static_cast<unsigned char>(buf_[0]) & 0x0F, buf_.substr(hdr, len)};
        buf_.erase(0, hdr + len);
        if (f.opcode == 9) {  // ping: pong and go on
          send_frame(10, f.payload);
          continue;
        }
        if (f.opcode == 10) continue;
        return f;
      }
    }
    if (!sock_.read_some(buf_, deadline)) return {sock_.closed() ? -2 : -1, {}};
  }
}

bool ws_client::send_frame(int opcode, const std::string& payload) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  }
  unsigned char key[4];
  for (auto& k : key) k = static_cast<unsigned char>(rng());
  f.append(reinterpret_cast<char*>(key), 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ key[i & 3]));
  return sock_.send_all(f, clock::now() + std::chrono::seconds(5));
}

bool ws_client::send_text(const std::string& text) {
  return send_frame(1, text);
}

}  // namespace cutover::soak
