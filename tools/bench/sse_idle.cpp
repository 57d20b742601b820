// Idle SSE streams: opens N `GET /v1/events` streams against a running Cutover, waits for
// each one's hello, and prints the server's RSS per open stream (VmRSS of --server-pid
// before and after). A figure, not a test: nothing here passes or fails.
//
//   sse_idle --port P --server-pid PID [--conns N (1000)] [--path /v1/events?user={i}]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::size_t rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

// Connects, sends the request, reads until the hello event arrived; -1 on failure.
int open_stream(int port, const std::string& target) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  std::string req =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  std::string got;
  char buf[4096];
  while (got.find("\"type\":\"hello\"") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  if (got.rfind("HTTP/1.1 200", 0) != 0 || got.find("\"type\":\"hello\"") == std::string::npos) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, pid = 0;
  std::size_t conns = 1000;
  std::string path = "/v1/events?user={i}";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port")
      port = std::atoi(v.c_str());
    else if (k == "--server-pid")
      pid = std::atoi(v.c_str());
    else if (k == "--conns")
      conns = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "--path")
      path = v;
  }
  if (!port || !pid) {
    std::fprintf(stderr, "usage: sse_idle --port P --server-pid PID [--conns N] [--path T]\n");
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  // One stream first, so lazily allocated per-process state is in the baseline.
  int warm = open_stream(port, replace_all(path, "{i}", "warmup"));
  if (warm < 0) {
    std::fprintf(stderr, "sse_idle: cannot open a stream on port %d\n", port);
    return 1;
  }
  std::size_t before = rss_bytes(pid);
  std::vector<int> fds;
  fds.reserve(conns);
  for (std::size_t i = 0; i < conns; ++i) {
    int fd = open_stream(port, replace_all(path, "{i}", std::to_string(i)));
    if (fd < 0) {
      std::fprintf(stderr, "sse_idle: stream %zu failed\n", i);
      break;
    }
    fds.push_back(fd);
  }
  std::size_t after = rss_bytes(pid);
  double per = fds.empty() ? 0
                           : (static_cast<double>(after) - static_cast<double>(before)) /
                                 static_cast<double>(fds.size());
  std::printf("sse idle: %zu streams open, server RSS %.1f MiB -> %.1f MiB = %.2f KiB per stream\n",
              fds.size(), static_cast<double>(before) / 1048576.0,
              static_cast<double>(after) / 1048576.0, per / 1024.0);
  std::printf("{\"streams\":%zu,\"rss_before\":%zu,\"rss_after\":%zu,\"rss_per_stream\":%.0f}\n",
              fds.size(), before, after, per);
  for (int fd : fds) ::close(fd);
  ::close(warm);
  return 0;
}
