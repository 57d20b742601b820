#include "ingest/redis_connection.hpp"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace cutover::ingest {
namespace {

using clock = std::chrono::steady_clock;

// Never echoes the URL back: it may hold a password. Says what is wrong instead.
error url_error(const std::string& why) {
  return error{"invalid Redis URL: " + why +
                   " (expected redis://[user:password@]host:port[/db], unix:///path or "
                   "redis+sentinel://host:port,host:port/master)",
               errc::bad_url};
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

template <class Int>
std::optional<Int> parse_uint(std::string_view s, Int max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v > static_cast<std::uint64_t>(max)) return std::nullopt;
  return static_cast<Int>(v);
}

// Userinfo follows redis-cli: "user:password", or a bare "password".
status parse_userinfo(std::string_view info, redis_endpoint& ep) {
  auto colon = info.find(':');
  std::string_view user =
      colon == std::string_view::npos ? std::string_view() : info.substr(0, colon);
  std::string_view pass = colon == std::string_view::npos ? info : info.substr(colon + 1);
  auto u = percent_decode(user);
  auto p = percent_decode(pass);
  if (!u || !p) return url_error("bad percent-encoding in user or password");
  ep.user = std::move(*u);
  ep.password = std::move(*p);
  if (!ep.user.empty() && ep.password.empty())
    return url_error("a user name needs a password (user:password@)");
  return ok_status();
}

status parse_db(std::string_view text, redis_endpoint& ep) {
  if (text.empty()) return ok_status();
  auto db = parse_uint<int>(text, 1 << 24);
  if (!db)
    return url_error("database '" + std::string(text.substr(0, 32)) +
                     "' is not a non-negative number");
  ep.db = *db;
  return ok_status();
}

// Set on a thread that blocked SIGPIPE for good (block_sigpipe_on_this_thread).
thread_local bool sigpipe_blocked_for_good = false;

// Blocks SIGPIPE around a write, and swallows a SIGPIPE the write itself raised: a peer
// that went away (CLIENT KILL, Redis restart) must be an error value, not a dead process.
// Nothing to do on a thread that blocks it for good.
class sigpipe_guard {
 public:
  sigpipe_guard() noexcept : idle_(sigpipe_blocked_for_good) {
    if (idle_) return;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~sigpipe_guard() {
    if (idle_) return;
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, SIGPIPE);
        timespec zero{0, 0};
        sigtimedwait(&only, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  const bool idle_;
  sigset_t old_;
  bool was_pending_ = false;
};

class unique_fd {
 public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

int ms_until(clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  if (left <= 0) return 0;
  return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

// Non-blocking connect so the wait can honour both the deadline and the wake fd; the
// socket is handed back blocking, which is what a blocking redisContext expects.
result<int> dial_one(int family, const sockaddr* addr, socklen_t len, clock::time_point deadline,
                     int wake_fd) {
  unique_fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return error{std::string("socket: ") + std::strerror(errno), errc::connection};
  if (::connect(fd.get(), addr, len) != 0) {
    if (errno != EINPROGRESS) return error{std::strerror(errno), errc::connection};
    while (true) {
      pollfd fds[2] = {{fd.get(), POLLOUT, 0}, {wake_fd, POLLIN, 0}};
      int n = ::poll(fds, 2, ms_until(deadline));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return error{std::string("poll: ") + std::strerror(errno), errc::connection};
      if (fds[1].revents & POLLIN) return error{"stop requested while connecting", errc::stopped};
      if (n == 0) return error{"connect timed out", errc::connection};
      break;
    }
    int so_error = 0;
    socklen_t so_len = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    if (so_error != 0) return error{std::strerror(so_error), errc::connection};
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  if (family != AF_UNIX) {
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd.release();
}

result<int> dial(const redis_endpoint& ep, clock::time_point deadline, int wake_fd) {
  if (ep.kind == redis_endpoint::transport::unix_socket) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (ep.path.size() >= sizeof a.sun_path)
      return error{"unix socket path too long", errc::connection};
    std::memcpy(a.sun_path, ep.path.c_str(), ep.path.size() + 1);
    return dial_one(AF_UNIX, reinterpret_cast<const sockaddr*>(&a), sizeof a, deadline, wake_fd);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string port = std::to_string(ep.port);
  if (int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &list); rc != 0)
    return error{"cannot resolve '" + ep.host + "': " + ::gai_strerror(rc), errc::connection};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(list, &::freeaddrinfo);
  error last{"no address", errc::connection};
  for (addrinfo* ai = list; ai; ai = ai->ai_next) {
    auto fd = dial_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline, wake_fd);
    if (fd) return fd;
    last = fd.err();
    if (last.code == errc::stopped) break;
  }
  return last;
}

timeval to_timeval(std::chrono::milliseconds d) {
  auto ms = d.count() > 0 ? d.count() : 1;
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

}  // namespace

void block_sigpipe_on_this_thread() noexcept {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);
  sigpipe_blocked_for_good = true;
}

// ---- URL ---------------------------------------------------------------------

std::string redis_endpoint::display() const {
  // Appends rather than operator+ chains: GCC 12 -O2 warns falsely (-Wrestrict) on those.
  if (kind == transport::sentinel) {
    std::string out = "redis+sentinel://";
    if (!user.empty()) out.append(user).append("@");
    for (std::size_t i = 0; i < sentinels.size(); ++i) {
      if (i) out.append(",");
      bool v6 = sentinels[i].first.find(':') != std::string::npos;
      out.append(v6 ? "[" : "").append(sentinels[i].first).append(v6 ? "]" : "");
      out.append(":").append(std::to_string(sentinels[i].second));
    }
    out.append("/").append(master_name);
    if (db) out.append("/").append(std::to_string(db));
    return out;
  }
  std::string out = kind == transport::unix_socket ? "unix://" : "redis://";
  if (!user.empty()) out.append(user).append("@");
  if (kind == transport::unix_socket) {
    out.append(path);
    if (db) out.append("?db=").append(std::to_string(db));
    return out;
  }
  bool v6 = host.find(':') != std::string::npos;
  out.append(v6 ? "[" : "").append(host).append(v6 ? "]" : "");
  out.append(":").append(std::to_string(port));
  if (db) out.append("/").append(std::to_string(db));
  return out;
}

namespace {

// redis+sentinel://[user:password@]h1:p1,h2:p2/<master>[/db][?sentinel_password=..&sentinel_user=..]
result<redis_endpoint> parse_sentinel_url(std::string_view rest) {
  redis_endpoint ep;
  ep.kind = redis_endpoint::transport::sentinel;
  auto q = rest.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  rest = rest.substr(0, q);
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    if (auto st = parse_userinfo(rest.substr(0, at), ep); !st) return st.err();
    rest = rest.substr(at + 1);
  }
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return url_error("redis+sentinel:// needs /<master name>");
  std::string_view hosts = rest.substr(0, slash), path = rest.substr(slash + 1);
  while (!hosts.empty()) {
    auto comma = hosts.find(',');
    std::string_view one = hosts.substr(0, comma);
    hosts = comma == std::string_view::npos ? std::string_view() : hosts.substr(comma + 1);
    // host:port, [v6]:port, or a host alone (port 26379).
    std::string_view host = one;
    std::uint16_t port = 26379;
    auto close = one.rfind(']');
    auto colon = one.rfind(':');
    if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
      host = one.substr(0, colon);
      auto p = parse_uint<std::uint16_t>(one.substr(colon + 1), 65535);
      if (!p || *p == 0) return url_error("a Sentinel port is not 1-65535");
      port = *p;
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    if (host.empty()) return url_error("a Sentinel has no host");
    for (char c : host)
      if (static_cast<unsigned char>(c) <= 0x20 || c == '@' || c == '%' || c == '/')
        return url_error("bad character in a Sentinel host");
    ep.sentinels.emplace_back(std::string(host), port);
  }
  if (ep.sentinels.empty()) return url_error("redis+sentinel:// needs at least one Sentinel");
  auto db_slash = path.find('/');
  std::string_view name = path.substr(0, db_slash);
  if (name.empty()) return url_error("redis+sentinel:// needs /<master name>");
  auto decoded = percent_decode(name);
  if (!decoded) return url_error("bad percent-encoding in the master name");
  ep.master_name = std::move(*decoded);
  if (db_slash != std::string_view::npos)
    if (auto st = parse_db(path.substr(db_slash + 1), ep); !st) return st.err();
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = kv.find('=');
    std::string_view k = kv.substr(0, eq);
    auto v = percent_decode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
    if (!v) return url_error("bad percent-encoding in a parameter");
    if (k == "sentinel_password")
      ep.sentinel_password = std::move(*v);
    else if (k == "sentinel_user")
      ep.sentinel_user = std::move(*v);
    else
      return url_error(
          "the only redis+sentinel:// parameters are sentinel_password and "
          "sentinel_user");
  }
  if (!ep.sentinel_user.empty() && ep.sentinel_password.empty())
    return url_error("sentinel_user needs sentinel_password");
  return ep;
}

}  // namespace

result<redis_endpoint> parse_redis_url(std::string_view url) {
  redis_endpoint ep;
  if (url.empty()) return url_error("empty");
  if (starts_with_nocase(url, "redis+sentinel://")) return parse_sentinel_url(url.substr(17));
  if (starts_with_nocase(url, "rediss://"))
    return url_error("TLS (rediss://) is not supported; use a local redis:// or unix:// endpoint");
  if (starts_with_nocase(url, "unix://")) {
    ep.kind = redis_endpoint::transport::unix_socket;
    std::string_view rest = url.substr(7);
    if (!rest.empty() && rest.front() != '/') {
      auto at = rest.find("@/");
      if (at == std::string_view::npos)
        return url_error("unix socket path must be absolute (unix:///path)");
      if (auto st = parse_userinfo(rest.substr(0, at), ep); !st) return st.err();
      rest = rest.substr(at + 1);
    }
    auto q = rest.find('?');
    std::string_view path = rest.substr(0, q);
    if (path.size() < 2 || path.front() != '/')
      return url_error("unix socket path must be absolute (unix:///path)");
    auto decoded = percent_decode(path);
    if (!decoded) return url_error("bad percent-encoding in the socket path");
    ep.path = std::move(*decoded);
    if (q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      if (query.substr(0, 3) != "db=") return url_error("the only unix:// parameter is ?db=N");
      if (auto st = parse_db(query.substr(3), ep); !st) return st.err();
      if (query.size() == 3) return url_error("empty ?db=");
    }
    return ep;
  }
  if (!starts_with_nocase(url, "redis://")) {
    auto sep = url.find("://");
    if (sep == std::string_view::npos) return url_error("no scheme");
    // Echo only what looks like a scheme: text like "user:password@host://" must not end
    // up in a log line.
    std::string_view scheme = url.substr(0, sep);
    bool plain = !scheme.empty() && std::all_of(scheme.begin(), scheme.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '+' || c == '-' || c == '.';
    });
    if (!plain) return url_error("no scheme");
    return url_error("unsupported scheme '" + std::string(scheme.substr(0, 16)) + "'");
  }
  std::string_view rest = url.substr(8);
  // The last '@' ends the userinfo, so a password may contain '@', '/' or ':' unencoded.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    if (auto st = parse_userinfo(rest.substr(0, at), ep); !st) return st.err();
    rest = rest.substr(at + 1);
  }
  std::string_view host;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return url_error("unterminated '[' in host");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
  } else {
    auto end = rest.find_first_of(":/?#");
    host = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (host.empty()) return url_error("no host");
  for (char c : host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '@' || c == '%')
      return url_error("bad character in host");
  ep.host = std::string(host);
  if (!rest.empty() && rest.front() == ':') {
    auto end = rest.find_first_of("/?#");
    auto port_text =
        rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
    auto port = parse_uint<std::uint16_t>(port_text, 65535);
    if (!port || *port == 0)
      return url_error("port '" + std::string(port_text.substr(0, 16)) + "' is not 1-65535");
    ep.port = *port;
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (!rest.empty() && rest.front() == '/') {
    if (auto st = parse_db(rest.substr(1), ep); !st) return st.err();
    rest = {};
  }
  if (!rest.empty())
    return url_error("unexpected '" + std::string(rest.substr(0, 16)) + "' after the host");
  return ep;
}

// ---- connection ----------------------------------------------------------------

void reply_deleter::operator()(redisReply* r) const noexcept {
  freeReplyObject(r);
}
void context_deleter::operator()(redisContext* c) const noexcept {
  redisFree(c);
}

redis_connection::redis_connection(redis_connection&&) noexcept = default;
redis_connection& redis_connection::operator=(redis_connection&&) noexcept = default;
redis_connection::~redis_connection() = default;

result<redis_connection> redis_connection::connect(std::string_view url, const settings& s) {
  auto ep = parse_redis_url(url);
  if (!ep) return ep.err();
  return connect(*ep, s);
}

result<redis_connection> redis_connection::connect(const redis_endpoint& ep, const settings& s) {
  if (ep.kind != redis_endpoint::transport::sentinel) return connect_direct(ep, s);
  // The Sentinel client rules: ask each Sentinel in turn with a short timeout, connect to the
  // master it names, and believe it only if that server says ROLE master. Never cached.
  const auto per_sentinel = std::min(s.connect_timeout, std::chrono::milliseconds(500));
  std::string why;
  const std::size_t n = ep.sentinels.size();
  for (std::size_t k = 0; k < n; ++k) {
    const auto& [host, port] = ep.sentinels[(s.first_sentinel + k) % n];
    redis_endpoint sen;
    sen.host = host;
    sen.port = port;
    sen.user = ep.sentinel_user;
    sen.password = ep.sentinel_password;
    settings ss = s;
    ss.connect_timeout = per_sentinel;
    ss.read_timeout = per_sentinel;
    ss.cut_fd = -1;  // resolving is what a cut asks for
    auto sc = connect_direct(sen, ss);
    std::string who = "Sentinel " + sen.display();
    if (!sc) {
      if (sc.err().code == errc::stopped) return sc.err();
      why += (why.empty() ? "" : "; ") + sc.err().message;
      continue;
    }
    auto r = sc->command({"SENTINEL", "get-master-addr-by-name", ep.master_name});
    if (!r) {
      why += (why.empty() ? "" : "; ") + who + ": " + r.err().message;
      continue;
    }
    const redisReply* rep = r->get();
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
      why += (why.empty() ? "" : "; ") + who + " knows no master '" + ep.master_name + "'" +
             (is_error_reply(rep) ? " (" + std::string(reply_text(rep)) + ")" : std::string());
      continue;
    }
    redis_endpoint master = ep;
    master.kind = redis_endpoint::transport::tcp;
    master.host = std::string(reply_text(rep->element[0]));
    auto p = parse_uint<std::uint16_t>(reply_text(rep->element[1]), 65535);
    if (!p) {
      why += (why.empty() ? "" : "; ") + who + " named a master with a bad port";
      continue;
    }
    master.port = *p;
    auto mc = connect_direct(master, s);
    if (!mc) {
      if (mc.err().code == errc::stopped) return mc.err();
      why +=
          (why.empty() ? "" : "; ") + who + " named " + master.display() + ": " + mc.err().message;
      continue;
    }
    auto role = mc->command({"ROLE"});
    if (!role) {
      why += (why.empty() ? "" : "; ") + master.display() + ": ROLE: " + role.err().message;
      continue;
    }
    const redisReply* rr = role->get();
    std::string_view kind = rr && rr->type == REDIS_REPLY_ARRAY && rr->elements > 0
                                ? reply_text(rr->element[0])
                                : std::string_view();
    if (kind != "master") {
      why += (why.empty() ? "" : "; ") + who + " named " + master.display() + ", which says ROLE " +
             (kind.empty() ? std::string("?") : std::string(kind));
      continue;
    }
    mc->endpoint_ = ep;
    mc->peer_ = master.display();
    return std::move(*mc);
  }
  return error{
      "cannot resolve master '" + ep.master_name + "' through " + ep.display() + ": " + why,
      errc::connection};
}

result<redis_connection> redis_connection::connect_direct(const redis_endpoint& ep,
                                                          const settings& s) {
  auto deadline = clock::now() + s.connect_timeout;
  auto fd = dial(ep, deadline, s.wake_fd);
  if (!fd) {
    return error{"cannot connect to " + ep.display() + ": " + fd.err().message, fd.err().code};
  }
  redisContext* raw = redisConnectFd(*fd);
  if (!raw) {
    ::close(*fd);
    return error{"cannot connect to " + ep.display() + ": out of memory", errc::connection};
  }
  redis_connection c;
  c.ctx_.reset(raw);
  c.endpoint_ = ep;
  c.peer_ = ep.display();
  c.settings_ = s;
  redisSetTimeout(raw, to_timeval(s.read_timeout));
  if (ep.kind == redis_endpoint::transport::tcp) redisEnableKeepAlive(raw);

  if (!ep.password.empty()) {
    auto r = ep.user.empty() ? c.command({"AUTH", ep.password})
                             : c.command({"AUTH", ep.user, ep.password});
    if (!r)
      return error{"cannot authenticate to " + ep.display() + ": " + r.err().message, r.err().code};
    if (is_error_reply(r->get()))
      return error{"AUTH refused by " + ep.display() + ": " + std::string(reply_text(r->get())),
                   errc::redis_reply};
  }
  if (ep.db != 0) {
    std::string db = std::to_string(ep.db);
    auto r = c.command({"SELECT", db});
    if (!r)
      return error{"cannot select database on " + ep.display() + ": " + r.err().message,
                   r.err().code};
    if (is_error_reply(r->get()))
      return error{
          "SELECT " + db + " refused by " + ep.display() + ": " + std::string(reply_text(r->get())),
          errc::redis_reply};
  }
  return c;
}

error redis_connection::fail(std::string message, error_code code) {
  broken_ = true;
  last_error_ = message;
  return error{std::move(message), code};
}

bool redis_connection::broken() const noexcept {
  return !ctx_ || broken_ || ctx_->err != 0;
}

bool redis_connection::peer_closed() const noexcept {
  if (broken()) return true;
  // Nothing is due on an idle connection, so anything readable is EOF, a reset, or junk.
  pollfd p{ctx_->fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void redis_connection::append(std::span<const std::string_view> argv) {
  if (!ctx_) return;
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (auto a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()), args.data(), lens.data());
}

status redis_connection::flush() {
  if (broken())
    return error{last_error_.empty() ? "connection is closed" : last_error_, errc::connection};
  sigpipe_guard guard;
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK)
      return fail("lost connection to " + endpoint_.display() + ": write failed: " + ctx_->errstr,
                  errc::connection);
  }
  return ok_status();
}

result<reply_ptr> redis_connection::receive(std::chrono::milliseconds timeout, bool idle_ok,
                                            bool wakeable) {
  if (broken())
    return error{last_error_.empty() ? "connection is closed" : last_error_, errc::connection};
  auto deadline = clock::now() + timeout;
  while (true) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx_.get(), &raw) != REDIS_OK)
      return fail("protocol error from " + endpoint_.display() + ": " + ctx_->errstr,
                  errc::connection);
    if (raw) return reply_ptr(static_cast<redisReply*>(raw));
    pollfd fds[3] = {{ctx_->fd, POLLIN, 0},
                     {wakeable ? settings_.wake_fd : -1, POLLIN, 0},
                     {wakeable ? settings_.cut_fd : -1, POLLIN, 0}};
    int n = ::poll(fds, 3, ms_until(deadline));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("poll: ") + std::strerror(errno), errc::connection);
    }
    if (fds[1].revents & POLLIN) return fail("stop requested", errc::stopped);
    if (fds[2].revents & POLLIN)
      return fail("a Sentinel announced +switch-master; leaving " + peer_, errc::switched);
    if (n == 0) {
      if (idle_ok) return reply_ptr();
      return fail("no reply from " + endpoint_.display() + " within " +
                      std::to_string(timeout.count()) + " ms",
                  errc::connection);
    }
    if (redisBufferRead(ctx_.get()) != REDIS_OK) {
      std::string why = ctx_->err == REDIS_ERR_EOF ? std::string("connection closed by the server")
                                                   : ctx_->errstr;
      return fail("lost connection to " + endpoint_.display() + ": " + why, errc::connection);
    }
  }
}

result<reply_ptr> redis_connection::command(std::span<const std::string_view> argv) {
  if (broken())
    return error{last_error_.empty() ? "connection is closed" : last_error_, errc::connection};
  append(argv);
  if (auto st = flush(); !st) return st.err();
  return receive(settings_.read_timeout);
}

result<reply_ptr> redis_connection::command(std::initializer_list<std::string_view> argv) {
  return command(std::span<const std::string_view>(argv.begin(), argv.size()));
}

bool is_error_reply(const redisReply* r) noexcept {
  return r && r->type == REDIS_REPLY_ERROR;
}
bool is_nil_reply(const redisReply* r) noexcept {
  return !r || r->type == REDIS_REPLY_NIL;
}
std::string_view reply_text(const redisReply* r) noexcept {
  if (!r || !r->str) return {};
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
      r->type != REDIS_REPLY_ERROR)
    return {};
  return std::string_view(r->str, r->len);
}

}  // namespace cutover::ingest
