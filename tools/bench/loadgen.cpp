// loadgen: the benchmark load client (issue 6). One thread, raw epoll, so that one
// client core can hold ~19,000 connections and receive several hundred thousand
// messages per second without becoming the bottleneck it is meant to measure.
//
// It opens --conns subscribers of one kind at a bounded connect rate:
//   ws        RFC 6455 WebSocket (Cutover /v1/ws, Nchan, Pushpin WebSocket-over-HTTP)
//   sio       Socket.IO 4 over the Engine.IO v4 WebSocket transport
//   sse       Server-Sent Events (Cutover /v1/events, Nchan eventsource): one GET whose
//             answer never ends; each event is scanned once its blank line arrived
//   lp        HTTP long-poll, re-polling after every answer; --lp-style says how the
//             cursor travels: cutover (?since=<lastId>), inbox (legacy_sim:
//             ?after=<X-Inbox-Cursor of the last answer>), nchan
//             (If-Modified-Since/If-None-Match), plain (no cursor: Pushpin)
// then publishes in steps (--steps RATE:SECONDS,...) through Redis XADD or HTTP POST,
// each payload {"t":<µs since epoch>,"seq":N}, and measures publish→receive latency
// from that timestamp (same host clock), deliveries/s, and the target's RSS and CPU
// (/proc/<pid>/status VmRSS, /proc/<pid>/stat utime+stime, summed over the process and
// its descendants) around each step, plus its own CPU so the client can be shown not to
// be the bottleneck. Prints one summary line per step and a JSON object (--json).

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "loadgen: %s\n", why.c_str());
  std::exit(2);
}

std::int64_t now_us() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}
double mono_s() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
    s.replace(p, from.size(), to);
  return s;
}

std::string json_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o.push_back('\\');
    o.push_back(c);
  }
  return o;
}

// ---------------------------------------------------------------- options

enum class kind { ws, sio, lp, sse };
enum class lp_style { cutover, inbox, nchan, plain };
enum class pub_kind { none, redis, http };
enum class pub_format { raw, pushpin };

struct step_spec {
  double rate = 1;
  double seconds = 1;
};

struct options {
  kind k = kind::ws;
  lp_style lps = lp_style::cutover;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";  // template: {i} user index, {topic} topic
  std::size_t conns = 1000;
  double connect_rate = 2000;
  std::size_t connect_inflight = 256;
  int src_ips = 1;
  std::string topic = "all";  // template: with {i}, every connection has its own topic
  pub_kind pk = pub_kind::none;
  std::string pub_host = "127.0.0.1";
  int pub_port = 0;
  std::string pub_stream = "cutover:notifications";
  std::string pub_path = "/pub/{topic}";
  pub_format pf = pub_format::raw;
  std::size_t pub_conns = 4;
  std::vector<step_spec> steps;
  double drain_seconds = 10;
  double sustain_p99_ms = 1000;
  bool stop_on_fail = true;
  bool warmup = true;
  double warmup_seconds = 30;
  double warmup_rate = 5000;
  double settle_seconds = 1;
  double hold_seconds = 0;  // idle: keep connections this long before sampling RSS
  std::vector<int> server_pids;
  std::string label;
  std::string json_path;
};

std::vector<step_spec> parse_steps(const std::string& s) {
  std::vector<step_spec> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    step_spec st;
    auto colon = item.find(':');
    st.rate = std::atof(item.substr(0, colon).c_str());
    if (colon != std::string::npos) st.seconds = std::atof(item.substr(colon + 1).c_str());
    if (st.rate <= 0 || st.seconds <= 0)
      die("--steps: bad item '" + item + "' (want RATE:SECONDS)");
    out.push_back(st);
  }
  return out;
}

void usage() {
  std::printf(
      "usage: loadgen --kind ws|sio|lp|sse --port P --path TEMPLATE [options]\n"
      "  subscribers: --conns N  --connect-rate R/s  --connect-inflight N  --src-ips K "
      "(127.0.0.1..K)\n"
      "               --lp-style cutover|inbox|nchan|plain  --topic TEMPLATE (all | user:{i} | "
      "u{i})\n"
      "  publisher:   --pub redis|http|none  --pub-port P  --pub-stream KEY  --pub-path TEMPLATE\n"
      "               --pub-format raw|pushpin  --pub-conns N\n"
      "  workload:    --steps RATE:SECONDS,...  --drain S  --sustain-p99-ms MS  --no-stop-on-fail\n"
      "               --no-warmup  --warmup-seconds S  --settle S  --hold S\n"
      "  target:      --server-pid PID (repeatable; descendants included)\n"
      "  output:      --label NAME  --json PATH\n"
      "Templates: {i} = subscriber index (user id), {topic} = its topic.\n");
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--kind") {
      auto v = val();
      o.k = v == "ws"    ? kind::ws
            : v == "sio" ? kind::sio
            : v == "lp"  ? kind::lp
            : v == "sse" ? kind::sse
                         : (die("--kind: " + v), kind::ws);
    } else if (a == "--lp-style") {
      auto v = val();
      o.lps = v == "cutover" ? lp_style::cutover
              : v == "inbox" ? lp_style::inbox
              : v == "nchan" ? lp_style::nchan
              : v == "plain" ? lp_style::plain
                             : (die("--lp-style: " + v), lp_style::plain);
    } else if (a == "--host")
      o.host = val();
    else if (a == "--port")
      o.port = std::atoi(val().c_str());
    else if (a == "--path")
      o.path = val();
    else if (a == "--conns")
      o.conns = std::strtoull(val().c_str(), nullptr, 10);
    else if (a == "--connect-rate")
      o.connect_rate = std::atof(val().c_str());
    else if (a == "--connect-inflight")
      o.connect_inflight = std::strtoull(val().c_str(), nullptr, 10);
    else if (a == "--src-ips")
      o.src_ips = std::max(1, std::atoi(val().c_str()));
    else if (a == "--topic")
      o.topic = val();
    else if (a == "--pub") {
      auto v = val();
      o.pk = v == "redis"  ? pub_kind::redis
             : v == "http" ? pub_kind::http
             : v == "none" ? pub_kind::none
                           : (die("--pub: " + v), pub_kind::none);
    } else if (a == "--pub-host")
      o.pub_host = val();
    else if (a == "--pub-port")
      o.pub_port = std::atoi(val().c_str());
    else if (a == "--pub-stream")
      o.pub_stream = val();
    else if (a == "--pub-path")
      o.pub_path = val();
    else if (a == "--pub-format") {
      auto v = val();
      o.pf = v == "pushpin" ? pub_format::pushpin
             : v == "raw"   ? pub_format::raw
                            : (die("--pub-format: " + v), pub_format::raw);
    } else if (a == "--pub-conns")
      o.pub_conns = std::max<std::size_t>(1, std::strtoull(val().c_str(), nullptr, 10));
    else if (a == "--steps")
      o.steps = parse_steps(val());
    else if (a == "--drain")
      o.drain_seconds = std::atof(val().c_str());
    else if (a == "--sustain-p99-ms")
      o.sustain_p99_ms = std::atof(val().c_str());
    else if (a == "--no-stop-on-fail")
      o.stop_on_fail = false;
    else if (a == "--no-warmup")
      o.warmup = false;
    else if (a == "--warmup-seconds")
      o.warmup_seconds = std::atof(val().c_str());
    else if (a == "--warmup-rate")
      o.warmup_rate = std::atof(val().c_str());
    else if (a == "--settle")
      o.settle_seconds = std::atof(val().c_str());
    else if (a == "--hold")
      o.hold_seconds = std::atof(val().c_str());
    else if (a == "--server-pid")
      o.server_pids.push_back(std::atoi(val().c_str()));
    else if (a == "--label")
      o.label = val();
    else if (a == "--json")
      o.json_path = val();
    else if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else
      die("unknown option " + a + " (see --help)");
  }
  if (o.port <= 0) die("--port is required");
  if (o.conns == 0 || o.conns > 19500)
    die("--conns must be 1..19500 (the per-process fd cap is 20,000)");
  if (o.pk != pub_kind::none && o.pub_port <= 0) die("--pub-port is required with --pub");
  return o;
}

// ---------------------------------------------------------------- /proc sampling

struct proc_sample {
  std::uint64_t rss_bytes = 0;
  double cpu_s = 0;  // utime + stime
  int processes = 0;
};

// The given pids and every descendant (nginx workers, pushpin's services).
std::vector<int> with_descendants(const std::vector<int>& roots) {
  std::map<int, int> parent;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      int pid = std::atoi(e->d_name);
      if (pid <= 0) continue;
      std::ifstream f("/proc/" + std::string(e->d_name) + "/stat");
      std::string line;
      if (!std::getline(f, line)) continue;
      auto rp = line.rfind(')');
      if (rp == std::string::npos) continue;
      int ppid = 0;
      char state = 0;
      std::sscanf(line.c_str() + rp + 2, "%c %d", &state, &ppid);
      parent[pid] = ppid;
    }
    ::closedir(d);
  }
  std::set<int> out(roots.begin(), roots.end());
  bool grew = true;
  while (grew) {
    grew = false;
    for (auto [pid, pp] : parent)
      if (out.count(pp) && !out.count(pid)) out.insert(pid), grew = true;
  }
  return {out.begin(), out.end()};
}

proc_sample sample_procs(const std::vector<int>& roots) {
  proc_sample s;
  if (roots.empty()) return s;
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (int pid : with_descendants(roots)) {
    std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(st, line)) continue;
    auto rp = line.rfind(')');
    if (rp == std::string::npos) continue;
    // Fields after the comm: state(3) ... utime(14) stime(15).
    std::istringstream is(line.substr(rp + 2));
    std::string field;
    unsigned long long ut = 0, stt = 0;
    for (int n = 3; n <= 15 && (is >> field); ++n) {
      if (n == 14) ut = std::strtoull(field.c_str(), nullptr, 10);
      if (n == 15) stt = std::strtoull(field.c_str(), nullptr, 10);
    }
    s.cpu_s += static_cast<double>(ut + stt) / tick;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    while (std::getline(status, line))
      if (line.rfind("VmRSS:", 0) == 0)
        s.rss_bytes += std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    ++s.processes;
  }
  return s;
}

double self_cpu_s() {
  rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// ---------------------------------------------------------------- messages and stats

struct message_info {
  std::int64_t t_us = 0;
  int step = -1;  // -1: warm-up
  std::uint32_t expected = 0;
  std::uint32_t got = 0;
  std::int64_t last_us = 0;  // latency of the last recipient so far
};

struct step_stats {
  step_spec spec;
  std::size_t published = 0;
  std::uint64_t expected = 0;
  std::uint64_t delivered = 0;
  std::uint64_t duplicates = 0;
  std::vector<std::uint32_t> lat_us;
  double pub_seconds = 0;
  double wall_seconds = 0;  // publish start .. last delivery (or drain timeout)
  proc_sample srv_before, srv_after;
  double cli_cpu = 0;
  bool complete = false;
};

// ---------------------------------------------------------------- connections

enum class cstate : std::uint8_t { idle, connecting, handshake, open, closed };

struct conn {
  int fd = -1;
  cstate st = cstate::idle;
  bool ready = false;  // handshake done (sio: namespace joined)
  bool got_any = false;
  std::uint32_t user = 0;
  std::uint8_t tries = 0;
  std::int64_t last_seq = -1;
  std::string in;   // unparsed bytes carried to the next read
  std::string out;  // unsent bytes
  // long-poll cursor
  std::string since;
  std::string etag, last_modified;
  // response parsing state (lp)
  std::size_t body_need = 0;
  bool chunked = false;
  int status = 0;
};

// Minimal HTTP/1.1 response framing: returns bytes consumed for one complete response
// (0: need more), and fills status, headers (raw) and body.
struct http_msg {
  int status = 0;
  std::string_view head;
  std::string body;
};

std::string_view header_value(std::string_view head, std::string_view name) {
  std::size_t p = 0;
  while ((p = head.find("\r\n", p)) != std::string_view::npos) {
    p += 2;
    if (head.size() - p < name.size() + 1) break;
    if (strncasecmp(head.data() + p, name.data(), name.size()) == 0 &&
        head[p + name.size()] == ':') {
      std::size_t v = p + name.size() + 1;
      while (v < head.size() && head[v] == ' ') ++v;
      std::size_t e = head.find("\r\n", v);
      return head.substr(v, (e == std::string_view::npos ? head.size() : e) - v);
    }
  }
  return {};
}

std::size_t parse_http(std::string_view buf, http_msg& m) {
  auto he = buf.find("\r\n\r\n");
  if (he == std::string_view::npos) return 0;
  m.head = buf.substr(0, he + 2);
  m.status = buf.size() > 12 ? std::atoi(std::string(buf.substr(9, 3)).c_str()) : 0;
  std::size_t pos = he + 4;
  auto te = header_value(m.head, "Transfer-Encoding");
  if (!te.empty() && te.find("chunked") != std::string_view::npos) {
    m.body.clear();
    for (;;) {
      auto le = buf.find("\r\n", pos);
      if (le == std::string_view::npos) return 0;
      std::size_t n = std::strtoull(std::string(buf.substr(pos, le - pos)).c_str(), nullptr, 16);
      pos = le + 2;
      if (buf.size() < pos + n + 2) return 0;
      if (n == 0) {
        // trailers end with an empty line; we send none, servers send none
        return pos + 2;
      }
      m.body.append(buf.substr(pos, n));
      pos += n + 2;
    }
  }
  auto cl = header_value(m.head, "Content-Length");
  std::size_t n = cl.empty() ? 0 : std::strtoull(std::string(cl).c_str(), nullptr, 10);
  if (m.status == 101) n = 0;
  if (buf.size() < pos + n) return 0;
  m.body.assign(buf.substr(pos, n));
  return pos + n;
}

// ---------------------------------------------------------------- the client

class client {
 public:
  explicit client(options o) : o_(std::move(o)) {
    ep_ = ::epoll_create1(0);
    conns_.resize(o_.conns);
    for (std::size_t i = 0; i < o_.conns; ++i) conns_[i].user = static_cast<std::uint32_t>(i);
    per_conn_topic_ = o_.topic.find("{i}") != std::string::npos;
    rbuf_.resize(1 << 18);
  }

  int run();

 private:
  // subscribers
  std::string topic_of(std::uint32_t user) const {
    return replace_all(o_.topic, "{i}", std::to_string(user));
  }
  std::string path_of(const conn& c) const {
    return replace_all(replace_all(o_.path, "{topic}", topic_of(c.user)), "{i}",
                       std::to_string(c.user));
  }
  void start_connect(std::size_t i);
  void on_event(std::size_t i, std::uint32_t ev);
  void fail(std::size_t i, const char* why);
  void flush(std::size_t i);
  void send(std::size_t i, std::string_view bytes);
  void send_ws(std::size_t i, int opcode, std::string_view payload);
  void send_poll(std::size_t i);
  void on_readable(std::size_t i);
  std::size_t on_ws_bytes(std::size_t i, std::string_view data);
  void on_text(std::size_t i, std::string_view payload);
  void scan_payload(std::size_t i, std::string_view payload);
  void deliver(std::size_t i, std::int64_t t, std::int64_t seq);

  // publisher
  struct pub_conn {
    int fd = -1;
    std::string out;
    std::string in;
    bool busy = false;  // http: one request in flight
  };
  void pub_open();
  void pub_connect(std::size_t p);
  void publish(std::uint32_t user_or_all, int step);
  void pub_flush(std::size_t p);
  void pub_readable(std::size_t p);
  void pub_pump();

  // loop
  void poll_once(int timeout_ms);
  void connect_all();
  bool warm_up();
  void run_step(std::size_t s);
  void write_json(double connect_s, const proc_sample& base, const proc_sample& connected,
                  double cli_connect_cpu);

  options o_;
  int ep_ = -1;
  std::vector<conn> conns_;
  bool per_conn_topic_ = false;
  std::vector<char> rbuf_;
  std::int64_t recv_now_ = 0;

  std::vector<pub_conn> pubs_;
  std::deque<std::string> http_queue_;  // requests waiting for a free HTTP publish connection
  std::vector<message_info> msgs_;
  std::vector<step_stats> steps_;
  int cur_step_ = -1;
  std::uint32_t next_user_ = 0;

  std::size_t open_ = 0, connecting_ = 0, failed_ = 0, ready_ = 0;
  bool in_connect_phase_ = false;
  std::deque<std::pair<double, std::size_t>> retry_;          // (when, subscriber) to connect again
  std::deque<std::pair<double, std::size_t>> delayed_polls_;  // (when, subscriber) to poll again
  std::map<std::string, std::size_t> errors_;
  std::uint64_t warm_deliveries_ = 0, stray_ = 0, poll_errors_ = 0;
};

void client::fail(std::size_t i, const char* why) {
  conn& c = conns_[i];
  if (c.st == cstate::closed) return;
  if ((c.st == cstate::connecting || c.st == cstate::handshake) && c.tries < 3 &&
      in_connect_phase_) {
    // Refused while connecting (a busy peer's 502/503, a full backlog): try again shortly.
    --connecting_;
    ++c.tries;
    ++errors_[std::string("retried: ") + why];
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    c.st = cstate::idle;
    c.in.clear();
    c.out.clear();
    retry_.push_back({mono_s() + 1.0, i});
    return;
  }
  if (c.st == cstate::connecting || c.st == cstate::handshake) --connecting_;
  if (c.st == cstate::open) --open_;
  if (c.ready) --ready_;
  c.ready = false;
  ++failed_;
  ++errors_[why];
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.st = cstate::closed;
  std::string().swap(c.in);
  std::string().swap(c.out);
}

void client::start_connect(std::size_t i) {
  conn& c = conns_[i];
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    c.st = cstate::closed;
    ++failed_;
    ++errors_[std::string("socket: ") + std::strerror(errno)];
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o_.src_ips > 1) {
    // Several loopback source addresses widen the ephemeral port space per target.
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + static_cast<std::uint32_t>(i % o_.src_ips));
    ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(o_.port));
  ::inet_pton(AF_INET, o_.host.c_str(), &a.sin_addr);
  c.fd = fd;
  c.st = cstate::connecting;
  ++connecting_;
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (r < 0 && errno != EINPROGRESS) {
    fail(i, "connect refused");
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = i;
  ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
}

void client::flush(std::size_t i) {
  conn& c = conns_[i];
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) break;
      fail(i, "write failed");
      return;
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (c.out.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
  ev.data.u64 = i;
  ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
}

void client::send(std::size_t i, std::string_view bytes) {
  conn& c = conns_[i];
  if (c.fd < 0) return;
  if (c.out.empty()) {
    ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(bytes.size())) return;
    if (n < 0 && errno != EAGAIN) {
      fail(i, "write failed");
      return;
    }
    bytes.remove_prefix(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  c.out.append(bytes);
  flush(i);
}

void client::send_ws(std::size_t i, int opcode, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  }
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t k = 0; k < payload.size(); ++k)
    f.push_back(static_cast<char>(payload[k] ^ mask[k % 4]));
  send(i, f);
}

void client::send_poll(std::size_t i) {
  conn& c = conns_[i];
  std::string target = path_of(c);
  std::string extra;
  if ((o_.lps == lp_style::cutover || o_.lps == lp_style::inbox) && !c.since.empty())
    target += (target.find('?') == std::string::npos ? "?" : "&") +
              std::string(o_.lps == lp_style::inbox ? "after=" : "since=") + c.since;
  if (o_.lps == lp_style::nchan) {
    if (!c.last_modified.empty()) extra += "If-Modified-Since: " + c.last_modified + "\r\n";
    if (!c.etag.empty()) extra += "If-None-Match: " + c.etag + "\r\n";
  }
  send(i, "GET " + target + " HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) +
              "\r\n" + extra + "\r\n");
}

void client::on_event(std::size_t i, std::uint32_t ev) {
  conn& c = conns_[i];
  if (c.st == cstate::closed) return;
  if (c.st == cstate::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return fail(i, "connect failed");
    if (!(ev & (EPOLLOUT | EPOLLIN))) return;
    c.st = cstate::handshake;
    if (o_.k == kind::lp) {
      c.st = cstate::open;
      --connecting_;
      ++open_;
      c.ready = true;
      ++ready_;
      send_poll(i);
    } else if (o_.k == kind::sse) {
      send(i, "GET " + path_of(c) + " HTTP/1.1\r\nHost: " + o_.host + ":" +
                  std::to_string(o_.port) + "\r\nAccept: text/event-stream\r\n\r\n");
    } else {
      std::string req =
          "GET " + path_of(c) + " HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) +
          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
      send(i, req);
    }
    if (c.fd >= 0) flush(i);  // connected: from now on EPOLLOUT only while bytes wait
    return;
  }
  if (ev & EPOLLOUT) flush(i);
  if (c.st == cstate::closed) return;
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(i);
}

void client::on_readable(std::size_t i) {
  for (int rounds = 0; rounds < 4; ++rounds) {
    conn& c = conns_[i];
    if (c.fd < 0) return;
    ssize_t n = ::recv(c.fd, rbuf_.data(), rbuf_.size(), 0);
    if (n == 0) return fail(i, "closed by server");
    if (n < 0) {
      if (errno == EAGAIN) return;
      return fail(i, "read error");
    }
    recv_now_ = now_us();
    std::string_view data(rbuf_.data(), static_cast<std::size_t>(n));
    std::string joined;
    if (!c.in.empty()) {
      joined = std::move(c.in);
      joined.append(data);
      c.in.clear();
      data = joined;
    }
    std::size_t used = 0;
    if (c.st == cstate::handshake && o_.k == kind::sse) {
      // Only the head: the body is the event stream itself.
      auto he = data.find("\r\n\r\n");
      if (he == std::string_view::npos) {
        c.in.assign(data);
        if (c.in.size() > 65536) fail(i, "oversized answer head");
        return;
      }
      int status = data.size() > 12 ? std::atoi(std::string(data.substr(9, 3)).c_str()) : 0;
      if (status != 200) return fail(i, ("stream status " + std::to_string(status)).c_str());
      c.st = cstate::open;
      --connecting_;
      ++open_;
      c.ready = true;
      ++ready_;
      used = he + 4;
    } else if (c.st == cstate::handshake) {
      http_msg m;
      std::size_t k = parse_http(data, m);
      if (k == 0) {
        c.in.assign(data);
        if (c.in.size() > 65536) fail(i, "oversized handshake");
        return;
      }
      if (m.status != 101) return fail(i, ("handshake status " + std::to_string(m.status)).c_str());
      c.st = cstate::open;
      --connecting_;
      ++open_;
      if (o_.k == kind::ws) {
        c.ready = true;
        ++ready_;
      }
      used = k;
    }
    if (o_.k == kind::lp) {
      while (used < data.size()) {
        http_msg m;
        std::size_t k = parse_http(data.substr(used), m);
        if (k == 0) break;
        used += k;
        // legacy_sim answers "nothing new" with 204 and the cursor to come back with.
        bool answered = m.status == 200 || (m.status == 204 && o_.lps == lp_style::inbox);
        if (!answered) {
          ++poll_errors_;
          ++errors_["poll status " + std::to_string(m.status)];
        } else {
          scan_payload(i, m.body);
          if (o_.lps == lp_style::inbox) {
            auto next = header_value(m.head, "X-Inbox-Cursor");
            if (!next.empty()) conns_[i].since = next;
          }
          if (o_.lps == lp_style::cutover) {
            auto p = m.body.rfind("\"lastId\":");
            if (p != std::string::npos) {
              std::size_t q = p + 9, e = q;
              while (e < m.body.size() &&
                     (std::isdigit(static_cast<unsigned char>(m.body[e])) || m.body[e] == '-'))
                ++e;
              conns_[i].since = m.body.substr(q, e - q);
            }
          } else if (o_.lps == lp_style::nchan) {
            auto lm = header_value(m.head, "Last-Modified");
            auto et = header_value(m.head, "Etag");
            if (!lm.empty()) conns_[i].last_modified = lm;
            if (!et.empty()) conns_[i].etag = et;
          }
        }
        if (conns_[i].fd < 0) break;
        if (answered)
          send_poll(i);
        else
          delayed_polls_.push_back({mono_s() + 1.0, i});  // refused (503, 429): back off
      }
    } else if (o_.k == kind::sse) {
      // Complete events only (they end with a blank line); chunk-size lines between
      // them, if the server frames the stream as chunked, do not look like payloads.
      auto rest = data.substr(used);
      auto end = rest.rfind("\n\n");
      if (end != std::string_view::npos) {
        scan_payload(i, rest.substr(0, end + 2));
        used += end + 2;
      }
      if (conns_[i].fd >= 0 && data.size() - used > (1u << 20)) return fail(i, "event too large");
    } else {
      used += on_ws_bytes(i, data.substr(used));
    }
    conn& c2 = conns_[i];
    if (c2.fd >= 0 && used < data.size()) c2.in.assign(data.substr(used));
    if (static_cast<std::size_t>(n) < rbuf_.size()) return;
  }
}

std::size_t client::on_ws_bytes(std::size_t i, std::string_view d) {
  std::size_t p = 0;
  while (d.size() - p >= 2) {
    auto b0 = static_cast<unsigned char>(d[p]);
    auto b1 = static_cast<unsigned char>(d[p + 1]);
    std::size_t hl = 2;
    std::uint64_t len = b1 & 0x7f;
    if (len == 126) {
      if (d.size() - p < 4) break;
      len = (static_cast<std::uint64_t>(static_cast<unsigned char>(d[p + 2])) << 8) |
            static_cast<unsigned char>(d[p + 3]);
      hl = 4;
    } else if (len == 127) {
      if (d.size() - p < 10) break;
      len = 0;
      for (int k = 0; k < 8; ++k) len = (len << 8) | static_cast<unsigned char>(d[p + 2 + k]);
      hl = 10;
    }
    if (b1 & 0x80) hl += 4;  // servers do not mask, but tolerate it
    if (d.size() - p < hl + len) break;
    std::string_view payload = d.substr(p + hl, len);
    int opcode = b0 & 0x0f;
    p += hl + len;
    if (opcode == 0x9)
      send_ws(i, 0xA, payload);
    else if (opcode == 0x8) {
      fail(i, "close frame");
      return p;
    } else if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0)
      on_text(i, payload);
    if (conns_[i].fd < 0) return p;
  }
  return p;
}

void client::on_text(std::size_t i, std::string_view payload) {
  if (o_.k == kind::sio) {
    // Engine.IO v4 packets: 0 open, 2 ping, 4 message (40 namespace joined, 42 event).
    if (payload.empty()) return;
    conn& c = conns_[i];
    switch (payload[0]) {
      case '0':
        send_ws(i, 0x1, "40");
        return;
      case '2':
        send_ws(i, 0x1, "3");
        return;
      case '4':
        if (payload.size() >= 2 && payload[1] == '0' && !c.ready) {
          c.ready = true;
          ++ready_;
          return;
        }
        break;
      default:
        return;
    }
  }
  scan_payload(i, payload);
}

// Finds every {"t":N,"seq":M} in a frame or body (a long-poll answer holds several).
void client::scan_payload(std::size_t i, std::string_view s) {
  std::size_t p = 0;
  while ((p = s.find("\"t\":", p)) != std::string_view::npos) {
    p += 4;
    std::int64_t t = 0;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p])))
      t = t * 10 + (s[p++] - '0');
    auto q = s.find("\"seq\":", p);
    if (q == std::string_view::npos || q > p + 4) continue;
    q += 6;
    std::int64_t seq = 0;
    while (q < s.size() && std::isdigit(static_cast<unsigned char>(s[q])))
      seq = seq * 10 + (s[q++] - '0');
    deliver(i, t, seq);
    p = q;
  }
}

void client::deliver(std::size_t i, std::int64_t t, std::int64_t seq) {
  conn& c = conns_[i];
  if (seq < 0 || static_cast<std::size_t>(seq) >= msgs_.size()) {
    ++stray_;
    return;
  }
  message_info& m = msgs_[static_cast<std::size_t>(seq)];
  bool dup = seq <= c.last_seq && per_conn_topic_ == false;
  if (!dup) c.last_seq = std::max(c.last_seq, seq);
  c.got_any = true;
  std::int64_t lat = std::max<std::int64_t>(0, recv_now_ - t);
  if (m.step < 0) {
    ++warm_deliveries_;
    ++m.got;
    return;
  }
  step_stats& st = steps_[static_cast<std::size_t>(m.step)];
  if (dup) {
    ++st.duplicates;
    return;
  }
  ++m.got;
  ++st.delivered;
  m.last_us = std::max(m.last_us, lat);
  st.lat_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(lat, 0xffffffff)));
}

// ---------------------------------------------------------------- publisher

void client::pub_open() {
  if (o_.pk == pub_kind::none) return;
  std::size_t n = o_.pk == pub_kind::redis ? 1 : o_.pub_conns;
  pubs_.resize(n);
  for (std::size_t k = 0; k < n; ++k) pub_connect(k);
}

void client::pub_connect(std::size_t k) {
  {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(o_.pub_port));
    ::inet_pton(AF_INET, o_.pub_host.c_str(), &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      die("publisher: cannot connect to " + o_.pub_host + ":" + std::to_string(o_.pub_port));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    pubs_[k] = pub_conn{fd, {}, {}, false};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (1ull << 40) + k;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
}

void client::publish(std::uint32_t user, int step) {
  std::string topic = topic_of(user);
  // Only subscribers whose handshake succeeded count as recipients.
  std::uint32_t recipients = per_conn_topic_ ? 1 : static_cast<std::uint32_t>(ready_);
  std::size_t seq = msgs_.size();
  std::int64_t t = now_us();
  msgs_.push_back({t, step, recipients, 0, 0});
  std::string data = "{\"t\":" + std::to_string(t) + ",\"seq\":" + std::to_string(seq) + "}";
  if (step >= 0) {
    ++steps_[static_cast<std::size_t>(step)].published;
    steps_[static_cast<std::size_t>(step)].expected += recipients;
  }
  if (o_.pk == pub_kind::redis) {
    auto bulk = [](std::string_view s) {
      return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
    };
    std::string cmd = "*10\r\n" + bulk("XADD") + bulk(o_.pub_stream) + bulk("MAXLEN") + bulk("~") +
                      bulk("1000000") + bulk("*") + bulk("topic") + bulk(topic) + bulk("data") +
                      bulk(data);
    pubs_[0].out += cmd;
    pub_flush(0);
    return;
  }
  std::string body = data;
  if (o_.pf == pub_format::pushpin) {
    std::string esc = json_escape(data);
    body = "{\"items\":[{\"channel\":\"" + json_escape(topic) +
           "\",\"formats\":{\"ws-message\":{\"content\":\"" + esc +
           "\"},\"http-response\":{\"body\":\"" + esc + "\\n\"}}}]}";
  }
  std::string path =
      replace_all(replace_all(o_.pub_path, "{topic}", topic), "{i}", std::to_string(user));
  http_queue_.push_back(
      "POST " + path + " HTTP/1.1\r\nHost: " + o_.pub_host + ":" + std::to_string(o_.pub_port) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body);
  pub_pump();
}

// HTTP publishers: one request in flight per connection, the rest queued in order.
void client::pub_pump() {
  for (std::size_t p = 0; p < pubs_.size() && !http_queue_.empty(); ++p) {
    if (pubs_[p].busy) continue;
    pubs_[p].busy = true;
    pubs_[p].out += http_queue_.front();
    http_queue_.pop_front();
    pub_flush(p);
  }
}

void client::pub_flush(std::size_t p) {
  auto& pc = pubs_[p];
  while (!pc.out.empty()) {
    ssize_t n = ::send(pc.fd, pc.out.data(), pc.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) break;
      die("publisher: write failed");
    }
    pc.out.erase(0, static_cast<std::size_t>(n));
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (pc.out.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
  ev.data.u64 = (1ull << 40) + p;
  ::epoll_ctl(ep_, EPOLL_CTL_MOD, pc.fd, &ev);
}

void client::pub_readable(std::size_t p) {
  auto& pc = pubs_[p];
  ssize_t n = ::recv(pc.fd, rbuf_.data(), rbuf_.size(), 0);
  if (n == 0 || (n < 0 && errno != EAGAIN)) {
    // HTTP publishers that answer "Connection: close" (Pushpin): reconnect and go on.
    if (o_.pk == pub_kind::redis) die("publisher: connection to redis lost");
    if (pc.busy && pc.in.empty()) ++errors_["publish: closed before answering"];
    ::close(pc.fd);
    pc = pub_conn{};
    pub_connect(p);
    pub_pump();
    return;
  }
  if (n < 0) return;
  pc.in.append(rbuf_.data(), static_cast<std::size_t>(n));
  if (o_.pk == pub_kind::redis) {
    if (pc.in.find("-ERR") != std::string::npos)
      die("publisher: redis error: " + pc.in.substr(0, 200));
    pc.in.clear();
    return;
  }
  for (;;) {
    http_msg m;
    std::size_t k = parse_http(pc.in, m);
    if (k == 0) break;
    if (m.status >= 300) {
      ++errors_["publish status " + std::to_string(m.status)];
      if (errors_["publish status " + std::to_string(m.status)] == 1)
        std::fprintf(stderr, "loadgen: publish answered %d: %s\n", m.status,
                     m.body.substr(0, 200).c_str());
    }
    pc.in.erase(0, k);
    pc.busy = false;
  }
  pub_pump();
}

// ---------------------------------------------------------------- loop

void client::poll_once(int timeout_ms) {
  while (!delayed_polls_.empty() && delayed_polls_.front().first <= mono_s()) {
    std::size_t i = delayed_polls_.front().second;
    delayed_polls_.pop_front();
    if (conns_[i].fd >= 0) send_poll(i);
  }
  if (!delayed_polls_.empty()) timeout_ms = std::min(timeout_ms, 100);
  epoll_event evs[512];
  int n = ::epoll_wait(ep_, evs, 512, timeout_ms);
  for (int k = 0; k < n; ++k) {
    std::uint64_t id = evs[k].data.u64;
    if (id >= (1ull << 40)) {
      std::size_t p = id - (1ull << 40);
      if (evs[k].events & EPOLLOUT) pub_flush(p);
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) pub_readable(p);
    } else {
      on_event(static_cast<std::size_t>(id), evs[k].events);
    }
  }
}

void client::connect_all() {
  double start = mono_s();
  std::size_t next = 0;
  in_connect_phase_ = true;
  std::size_t started = 0;
  while (next < conns_.size() || connecting_ > 0 || !retry_.empty()) {
    double elapsed = mono_s() - start;
    auto allowed = static_cast<std::size_t>(elapsed * o_.connect_rate) + 1;
    while (!retry_.empty() && retry_.front().first <= mono_s() && started < allowed &&
           connecting_ < o_.connect_inflight) {
      start_connect(retry_.front().second);
      retry_.pop_front();
      ++started;
    }
    while (next < conns_.size() && started < allowed && connecting_ < o_.connect_inflight) {
      start_connect(next++);
      ++started;
    }
    poll_once(next < conns_.size() || !retry_.empty() ? 1 : 50);
    if (mono_s() - start > 60.0 + static_cast<double>(conns_.size()) / o_.connect_rate) {
      std::fprintf(stderr, "loadgen: connect phase timed out with %zu still connecting\n",
                   connecting_);
      break;
    }
  }
  // sio: wait for the namespace join answers
  double t0 = mono_s();
  while (o_.k == kind::sio && ready_ < open_ && mono_s() - t0 < 10) poll_once(20);
  in_connect_phase_ = false;
}

// Sends one message to every distinct topic until every ready subscriber has received
// one, so that subscriptions are in force before anything is measured.
bool client::warm_up() {
  double t0 = mono_s();
  std::vector<std::uint32_t> targets;
  if (per_conn_topic_)
    for (std::size_t i = 0; i < conns_.size(); ++i)
      targets.push_back(static_cast<std::uint32_t>(i));
  else
    targets.push_back(0);
  double round_every = 3.0;
  while (mono_s() - t0 < o_.warmup_seconds) {
    double round_start = mono_s();
    std::size_t sent = 0;
    for (auto u : targets) {
      if (per_conn_topic_ && (conns_[u].got_any || !conns_[u].ready)) continue;
      publish(u, -1);
      ++sent;
      while (static_cast<double>(sent) > (mono_s() - round_start) * o_.warmup_rate) poll_once(1);
    }
    while (mono_s() - round_start < round_every) {
      poll_once(20);
      std::size_t warm = 0;
      for (auto& c : conns_) warm += c.ready && c.got_any;
      if (warm >= ready_ && ready_ > 0) return true;
    }
  }
  return false;
}

void client::run_step(std::size_t s) {
  step_stats& st = steps_[s];
  cur_step_ = static_cast<int>(s);
  auto total = static_cast<std::size_t>(std::max(1.0, std::round(st.spec.rate * st.spec.seconds)));
  st.lat_us.reserve(std::min<std::size_t>(total * (per_conn_topic_ ? 1 : o_.conns), 50'000'000));
  st.srv_before = sample_procs(o_.server_pids);
  double cpu0 = self_cpu_s();
  double t0 = mono_s();
  std::size_t sent = 0;
  while (sent < total) {
    double due = t0 + static_cast<double>(sent) / st.spec.rate;
    double wait = due - mono_s();
    if (wait > 0) {
      // Sleep in epoll at least 1 ms: spinning here would steal core 1 from Redis and the
      // publishers sharing it (and read as client CPU that is not per-delivery work).
      poll_once(std::max(1, static_cast<int>(std::ceil(wait * 1000))));
      continue;
    }
    std::uint32_t user = 0;
    if (per_conn_topic_) {
      // Round-robin over the users whose subscriber is up.
      for (std::size_t tries = 0; tries < conns_.size(); ++tries) {
        user = next_user_++ % static_cast<std::uint32_t>(o_.conns);
        if (conns_[user].ready) break;
      }
    }
    publish(user, static_cast<int>(s));
    ++sent;
    poll_once(0);
  }
  st.pub_seconds = mono_s() - t0;
  double drain_end = mono_s() + o_.drain_seconds;
  double last_progress = mono_s();
  std::uint64_t last_delivered = st.delivered;
  while (st.delivered < st.expected && mono_s() < drain_end) {
    poll_once(10);
    if (st.delivered != last_delivered) last_delivered = st.delivered, last_progress = mono_s();
    (void)last_progress;
  }
  st.complete = st.delivered >= st.expected;
  st.wall_seconds = mono_s() - t0;
  st.cli_cpu = self_cpu_s() - cpu0;
  st.srv_after = sample_procs(o_.server_pids);
}

double pct(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return NAN;
  auto k = static_cast<std::size_t>(
      std::min<double>(static_cast<double>(v.size() - 1), p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

int client::run() {
  proc_sample base = sample_procs(o_.server_pids);
  double cpu0 = self_cpu_s();
  double t0 = mono_s();
  connect_all();
  double connect_s = mono_s() - t0;
  double cli_connect_cpu = self_cpu_s() - cpu0;
  std::fprintf(stderr, "loadgen: %s: %zu/%zu connected in %.1f s (%zu failed)\n", o_.label.c_str(),
               ready_, o_.conns, connect_s, failed_);
  for (auto& [why, count] : errors_)
    std::fprintf(stderr, "loadgen: %s:   %zu x %s\n", o_.label.c_str(), count, why.c_str());
  pub_open();
  double settle_end = mono_s() + o_.settle_seconds + o_.hold_seconds;
  while (mono_s() < settle_end) poll_once(50);
  proc_sample connected = sample_procs(o_.server_pids);
  if (o_.warmup && o_.pk != pub_kind::none && !o_.steps.empty()) {
    bool ok = warm_up();
    std::size_t warm = 0;
    for (auto& c : conns_) warm += c.ready && c.got_any;
    std::fprintf(stderr, "loadgen: %s: warm-up %s: %zu/%zu subscribers received a message\n",
                 o_.label.c_str(), ok ? "done" : "INCOMPLETE", warm, ready_);
    double e = mono_s() + o_.settle_seconds;
    while (mono_s() < e) poll_once(20);
  }
  for (std::size_t s = 0; s < o_.steps.size(); ++s) {
    steps_.push_back({});
    steps_.back().spec = o_.steps[s];
  }
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    run_step(s);
    auto& st = steps_[s];
    std::vector<std::uint32_t> lat = st.lat_us;
    double p50 = pct(lat, 0.5), p99 = pct(lat, 0.99),
           mx = lat.empty() ? NAN : *std::max_element(lat.begin(), lat.end()) / 1000.0;
    double dcpu = st.srv_after.cpu_s - st.srv_before.cpu_s;
    bool sustained = st.complete && p99 <= o_.sustain_p99_ms;
    std::printf(
        "%s step %zu: %g msg/s x %gs -> %llu/%llu deliveries (%.0f/s), p50 %.2f ms p99 %.2f ms max "
        "%.2f ms, "
        "server %.2f us/delivery, client %.2f us/delivery (%.0f%% of a core)%s\n",
        o_.label.c_str(), s, st.spec.rate, st.spec.seconds,
        static_cast<unsigned long long>(st.delivered), static_cast<unsigned long long>(st.expected),
        static_cast<double>(st.delivered) / st.wall_seconds, p50, p99, mx,
        st.delivered ? dcpu * 1e6 / static_cast<double>(st.delivered) : NAN,
        st.delivered ? st.cli_cpu * 1e6 / static_cast<double>(st.delivered) : NAN,
        100.0 * st.cli_cpu / st.wall_seconds, sustained ? "" : "  [NOT sustained]");
    std::fflush(stdout);
    if (!sustained && o_.stop_on_fail) {
      steps_.resize(s + 1);
      break;
    }
    // Let a slow target finish before the next step so steps do not overlap.
    double e = mono_s() + 0.5;
    while (mono_s() < e) poll_once(20);
  }
  if (o_.steps.empty()) {
    std::printf(
        "%s: %zu connections open, server RSS %.1f MiB -> %.1f MiB = %.2f KiB per connection\n",
        o_.label.c_str(), ready_, static_cast<double>(base.rss_bytes) / 1048576.0,
        static_cast<double>(connected.rss_bytes) / 1048576.0,
        ready_ ? (static_cast<double>(connected.rss_bytes) - static_cast<double>(base.rss_bytes)) /
                     1024.0 / static_cast<double>(ready_)
               : NAN);
  }
  write_json(connect_s, base, connected, cli_connect_cpu);
  for (auto& c : conns_)
    if (c.fd >= 0) ::close(c.fd);
  for (auto& p : pubs_) ::close(p.fd);
  return ready_ == o_.conns ? 0 : 3;
}

void client::write_json(double connect_s, const proc_sample& base, const proc_sample& connected,
                        double cli_connect_cpu) {
  if (o_.json_path.empty()) return;
  std::ostringstream j;
  const char* kinds[] = {"ws", "sio", "lp"};
  j << "{\"label\":\"" << json_escape(o_.label) << "\",\"kind\":\"" << kinds[static_cast<int>(o_.k)]
    << "\",\"conns\":" << o_.conns << ",\"ready\":" << ready_ << ",\"failed\":" << failed_
    << ",\"connect_seconds\":" << num(connect_s)
    << ",\"client_connect_cpu_s\":" << num(cli_connect_cpu)
    << ",\"per_conn_topic\":" << (per_conn_topic_ ? "true" : "false")
    << ",\"server\":{\"processes\":" << connected.processes << ",\"rss_before\":" << base.rss_bytes
    << ",\"rss_connected\":" << connected.rss_bytes << ",\"rss_per_conn\":"
    << num(ready_
               ? (static_cast<double>(connected.rss_bytes) - static_cast<double>(base.rss_bytes)) /
                     static_cast<double>(ready_)
               : NAN)
    << ",\"cpu_connect_s\":" << num(connected.cpu_s - base.cpu_s)
    << "},\"warmup_deliveries\":" << warm_deliveries_ << ",\"stray\":" << stray_
    << ",\"poll_errors\":" << poll_errors_ << ",\"errors\":{";
  bool first = true;
  for (auto& [k, v] : errors_) {
    j << (first ? "" : ",") << "\"" << json_escape(k) << "\":" << v;
    first = false;
  }
  j << "},\"steps\":[";
  double best_rate = 0;
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    auto& st = steps_[s];
    std::vector<std::uint32_t> lat = st.lat_us;
    double p50 = pct(lat, 0.5), p90 = pct(lat, 0.9), p99 = pct(lat, 0.99), p999 = pct(lat, 0.999);
    double mx = lat.empty() ? NAN : *std::max_element(lat.begin(), lat.end()) / 1000.0;
    // Time until the last recipient had each message.
    std::vector<std::uint32_t> last;
    for (auto& m : msgs_)
      if (m.step == static_cast<int>(s) && m.got > 0)
        last.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(m.last_us, 0xffffffff)));
    double last_p50 = pct(last, 0.5);
    double last_max = last.empty() ? NAN : *std::max_element(last.begin(), last.end()) / 1000.0;
    double dcpu = st.srv_after.cpu_s - st.srv_before.cpu_s;
    bool sustained = st.complete && p99 <= o_.sustain_p99_ms;
    if (sustained) best_rate = std::max(best_rate, st.spec.rate);
    double d = static_cast<double>(st.delivered);
    j << (s ? "," : "") << "{\"rate\":" << num(st.spec.rate)
      << ",\"seconds\":" << num(st.spec.seconds) << ",\"published\":" << st.published
      << ",\"expected\":" << st.expected << ",\"delivered\":" << st.delivered
      << ",\"duplicates\":" << st.duplicates << ",\"complete\":" << (st.complete ? "true" : "false")
      << ",\"sustained\":" << (sustained ? "true" : "false")
      << ",\"pub_seconds\":" << num(st.pub_seconds) << ",\"wall_seconds\":" << num(st.wall_seconds)
      << ",\"deliveries_per_s\":" << num(d / st.wall_seconds) << ",\"p50_ms\":" << num(p50)
      << ",\"p90_ms\":" << num(p90) << ",\"p99_ms\":" << num(p99) << ",\"p999_ms\":" << num(p999)
      << ",\"max_ms\":" << num(mx) << ",\"last_recipient_p50_ms\":" << num(last_p50)
      << ",\"last_recipient_max_ms\":" << num(last_max) << ",\"server_cpu_s\":" << num(dcpu)
      << ",\"server_cpu_us_per_delivery\":" << num(d > 0 ? dcpu * 1e6 / d : NAN)
      << ",\"server_cpu_pct\":" << num(100.0 * dcpu / st.wall_seconds)
      << ",\"server_rss_after\":" << st.srv_after.rss_bytes
      << ",\"client_cpu_s\":" << num(st.cli_cpu)
      << ",\"client_cpu_us_per_delivery\":" << num(d > 0 ? st.cli_cpu * 1e6 / d : NAN)
      << ",\"client_cpu_pct\":" << num(100.0 * st.cli_cpu / st.wall_seconds) << "}";
  }
  j << "],\"max_sustained_rate\":" << num(best_rate) << "}\n";
  std::ofstream f(o_.json_path);
  f << j.str();
  if (!f) die("cannot write " + o_.json_path);
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse_args(argc, argv);
  if (o.label.empty()) o.label = "loadgen";
  client c(std::move(o));
  return c.run();
}
