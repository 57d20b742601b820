#include "cutover_proc.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace cutover::testing {
namespace {

http_reply to_reply(const httplib::Result& r) {
  http_reply out;
  if (!r) return out;
  out.status = r->status;
  out.body = r->body;
  for (const auto& [k, v] : r->headers) {
    std::string lk = k;
    for (auto& c : lk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[lk] = v;
  }
  return out;
}

httplib::Headers to_headers(const std::map<std::string, std::string>& h) {
  httplib::Headers out;
  for (const auto& [k, v] : h) out.emplace(k, v);
  return out;
}

void configure(httplib::Client& c, std::chrono::milliseconds timeout) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count() % 1000000;
  c.set_connection_timeout(s, us);
  c.set_read_timeout(s, us);
  c.set_write_timeout(s, us);
  c.set_keep_alive(false);
}

}  // namespace

http_reply http_get(int port, const std::string& target,
                    const std::map<std::string, std::string>& headers,
                    std::chrono::milliseconds timeout) {
  httplib::Client c("127.0.0.1", port);
  configure(c, timeout);
  return to_reply(c.Get(target.c_str(), to_headers(headers)));
}

http_reply http_post(int port, const std::string& target, const std::string& body,
                     const std::map<std::string, std::string>& headers,
                     std::chrono::milliseconds timeout) {
  httplib::Client c("127.0.0.1", port);
  configure(c, timeout);
  return to_reply(c.Post(target.c_str(), to_headers(headers), body, "application/json"));
}

cutover_server::cutover_server(const redis_server& redis, std::vector<std::string> flags,
                               const std::string& db_path) {
  db_ = db_path.empty() ? dir_.file("cutover.db") : db_path;
  std::vector<std::string> argv = {CUTOVER_BIN, "serve", "--listen", "127.0.0.1:0",
                                   "--db",      db_,     "--redis",  redis.url()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  proc_ = subprocess::spawn(argv);
  auto line = proc_->wait_for_line("cutover: listening on http://", std::chrono::seconds(20));
  if (!line) throw std::runtime_error("cutover serve did not start:\n" + proc_->output());
  port_ = std::stoi(line->substr(line->rfind(':') + 1));
}

cutover_server::~cutover_server() = default;

std::optional<double> cutover_server::metric(const std::string& sample) const {
  auto r = http_get(port_, "/metrics");
  if (r.status != 200) return std::nullopt;
  std::istringstream in(r.body);
  std::string l;
  while (std::getline(in, l)) {
    if (l.size() > sample.size() && l.compare(0, sample.size(), sample) == 0 &&
        l[sample.size()] == ' ')
      return std::stod(l.substr(sample.size() + 1));
  }
  return std::nullopt;
}

bool cutover_server::wait_metric_at_least(const std::string& sample, double value,
                                          std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Each scrape is a round trip to the server: the wait is paced by the server itself.
  while (std::chrono::steady_clock::now() < deadline) {
    auto v = metric(sample);
    if (v && *v >= value) return true;
  }
  return false;
}

std::size_t cutover_server::rss_bytes() const {
  std::ifstream in("/proc/" + std::to_string(proc_->pid()) + "/status");
  std::string l;
  while (std::getline(in, l))
    if (l.rfind("VmRSS:", 0) == 0) return std::stoull(l.substr(6)) * 1024;
  return 0;
}

// ---- raw_ws -----------------------------------------------------------------

raw_ws::raw_ws(int port, const std::string& target, int rcvbuf,
               const std::map<std::string, std::string>& headers) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("connect failed");
  auto host = headers.find("Host");
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: " +
                    (host != headers.end() ? host->second : std::string("127.0.0.1")) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  for (const auto& [k, v] : headers)
    if (k != "Host") req += k + ": " + v + "\r\n";
  req += "\r\n";
  send_raw(req);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline)) throw std::runtime_error("no handshake response");
  std::string head = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  status_ = std::stoi(head.substr(9, 3));
  if (status_ != 101) {
    auto cl = head.find("Content-Length: ");
    std::size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
    while (buf_.size() < len && fill(deadline)) {
    }
    body_ = buf_.substr(0, len);
  }
}

raw_ws::~raw_ws() {
  close_socket();
}

void raw_ws::close_socket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool raw_ws::fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0 || eof_) return false;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

raw_ws::frame raw_ws::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (buf_.size() >= 2) {
      auto b1 = static_cast<unsigned char>(buf_[1]);
      std::size_t len = b1 & 0x7F, hdr = 2;
      if (len == 126 && buf_.size() >= 4) {
        len = (static_cast<unsigned char>(buf_[2]) << 8) | static_cast<unsigned char>(buf_[3]);
        hdr = 4;
      } else if (len == 127 && buf_.size() >= 10) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(buf_[2 + i]);
        hdr = 10;
      } else if (len >= 126) {
        hdr = 0;
      }
      if (hdr && buf_.size() >= hdr + len) {
        frame f{static_cast<unsigned char>(buf_[0]) & 0x0F, buf_.substr(hdr, len)};
        buf_.erase(0, hdr + len);
        return f;
      }
    }
    if (!fill(deadline)) return {};
  }
}

std::optional<std::string> raw_ws::next_text(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto f = next(left);
    if (f.opcode == 1) return f.payload;
    if (f.opcode == 9) {
      send_frame(10, f.payload);
      continue;
    }
    if (f.opcode == 10) continue;
    return std::nullopt;  // close, timeout, or something unexpected
  }
}

void raw_ws::send_frame(int opcode, const std::string& payload, bool fin, bool mask) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  std::size_t n = payload.size();
  unsigned char m = mask ? 0x80 : 0;
  if (n < 126) {
    f.push_back(static_cast<char>(m | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i)
      f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  if (mask) {
    unsigned char k[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    f.append(reinterpret_cast<char*>(k), 4);
    for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ k[i & 3]));
  } else {
    f += payload;
  }
  send_raw(f);
}

void raw_ws::send_raw(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

std::string json_field(const std::string& json, const std::string& key) {
  boost::json::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return "";
  const auto* f = v.get_object().if_contains(key);
  if (!f) return "";
  if (f->is_string()) return std::string(f->get_string());
  return boost::json::serialize(*f);
}

std::string mint_token(const std::string& secret, const std::string& user, const std::string& ttl) {
  auto p =
      subprocess::spawn({CUTOVER_BIN, "token", "--secret", secret, "--user", user, "--ttl", ttl});
  if (p->wait_exit(std::chrono::seconds(10)) != 0)
    throw std::runtime_error("cutover token failed: " + p->output());
  auto out = p->output();
  return out.substr(0, out.find('\n'));
}

std::unique_ptr<subprocess> spawn_node(const std::string& script,
                                       const std::vector<std::string>& args) {
  std::string dir = std::string(CUTOVER_SOURCE_DIR) + "/tests/js";
  if (!std::filesystem::exists(dir + "/node_modules"))
    throw std::runtime_error(
        dir + "/node_modules is missing: run tools/dev.sh test (npm ci --prefix tests/js)");
  std::vector<std::string> argv{"node", dir + "/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  return subprocess::spawn(argv);
}

node_result run_node(const std::string& script, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout) {
  auto p = spawn_node(script, args);
  node_result r;
  auto code = p->wait_exit(timeout);
  r.exit_code = code.value_or(-1);
  r.output = p->output();
  std::string trimmed = r.output;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  auto nl = trimmed.rfind('\n');
  r.last_line = nl == std::string::npos ? trimmed : trimmed.substr(nl + 1);
  return r;
}

}  // namespace cutover::testing
