#include "net/upstream.hpp"

#include <httplib.h>
#include <openssl/evp.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>

#include "core/json_text.hpp"
#include "net/http_util.hpp"

namespace cutover::net {

result<upstream_target> parse_upstream_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, 8) == "https://")
    return error{
        "'" + std::string(url) +
        "': https upstreams are not supported; put the legacy app on plain http next to Cutover"};
  if (url.substr(0, scheme.size()) != scheme)
    return error{"'" + std::string(url) + "': expected http://host[:port][/path]"};
  url.remove_prefix(scheme.size());
  auto slash = url.find('/');
  std::string_view hostport = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  upstream_target t;
  auto colon = hostport.rfind(':');
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos)
      return error{"malformed IPv6 host in '" + std::string(url) + "'"};
    t.host = std::string(hostport.substr(1, close - 1));
    colon = hostport.size() > close + 1 && hostport[close + 1] == ':' ? close + 1
                                                                      : std::string_view::npos;
  } else {
    t.host = std::string(hostport.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    std::string p(hostport.substr(colon + 1));
    char* end = nullptr;
    long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end || v <= 0 || v > 65535)
      return error{"bad port in upstream URL '" + std::string(url) + "'"};
    t.port = static_cast<int>(v);
  }
  if (t.host.empty()) return error{"no host in upstream URL"};
  t.path = path.empty() ? "/" : std::string(path);
  std::string_view base = path.substr(0, path.find('?'));
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  t.base_path = std::string(base);
  return t;
}

bool is_hop_by_hop(std::string_view name, std::string_view connection_header) {
  static constexpr std::string_view fixed[] = {
      "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
      "te",         "trailer",    "trailers",           "transfer-encoding",   "upgrade"};
  for (auto f : fixed)
    if (iequals(name, f)) return true;
  while (!connection_header.empty()) {
    auto comma = connection_header.find(',');
    std::string_view tok = connection_header.substr(0, comma);
    connection_header =
        comma == std::string_view::npos ? std::string_view() : connection_header.substr(comma + 1);
    while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
    while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
    if (!tok.empty() && iequals(name, tok)) return true;
  }
  return false;
}

upstream_pool::upstream_pool(upstream_target target, upstream_options opt)
    : target_(std::move(target)), opt_(opt) {
  for (std::size_t i = 0; i < opt_.threads; ++i) threads_.emplace_back([this] { run(); });
}

upstream_pool::~upstream_pool() {
  stop();
}

void upstream_pool::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
    // Abort requests in flight (a legacy long-poll may hold one for 30 s).
    for (auto* c : clients_) c->stop();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  // Anything never started is answered, so no caller waits forever.
  for (auto& j : jobs_) {
    upstream_response r;
    r.why = upstream_response::failure::overloaded;
    r.error = "shutting down";
    j.done(std::move(r));
  }
  jobs_.clear();
}

bool upstream_pool::submit(upstream_request req, callback done) {
  {
    std::lock_guard lk(mu_);
    if (stopping_ || jobs_.size() >= opt_.queue_limit) {
      ++stats_.rejected;
      return false;
    }
    jobs_.push_back({std::move(req), std::move(done)});
  }
  cv_.notify_one();
  return true;
}

upstream_pool_stats upstream_pool::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void upstream_pool::run() {
  httplib::Client client(target_.host, target_.port);
  auto secs = [](std::chrono::milliseconds d) {
    return std::pair<time_t, time_t>(d.count() / 1000, (d.count() % 1000) * 1000);
  };
  auto [cs, cus] = secs(opt_.connect_timeout);
  auto [rs, rus] = secs(opt_.timeout);
  client.set_connection_timeout(cs, cus);
  client.set_read_timeout(rs, rus);
  client.set_write_timeout(rs, rus);
  client.set_keep_alive(true);
  client.set_decompress(false);  // bodies pass through byte for byte
  client.set_follow_location(false);
  {
    std::lock_guard lk(mu_);
    clients_.push_back(&client);
  }
  struct unregister {
    upstream_pool* p;
    httplib::Client* c;
    ~unregister() {
      std::lock_guard lk(p->mu_);
      std::erase(p->clients_, c);
    }
  } unreg{this, &client};
  while (true) {
    job j;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      j = std::move(jobs_.front());
      jobs_.pop_front();
    }
    httplib::Request req;
    req.method = j.req.method;
    req.path = j.req.target;
    for (auto& [k, v] : j.req.headers) req.headers.emplace(k, v);
    req.body = std::move(j.req.body);
    bool body_failed = false;  // the client's side of a streamed body: not the upstream's fault
    if (auto pipe = j.req.body_stream) {
      // The worker sends what the client sent so far, and waits for more (bounded by the
      // pipe's deadline); a failure on the client's side cancels the request.
      req.is_chunked_content_provider_ = !j.req.stream_length;
      req.content_length_ = j.req.stream_length.value_or(0);
      if (req.is_chunked_content_provider_) req.headers.emplace("Transfer-Encoding", "chunked");
      req.content_provider_ = [pipe, &body_failed, chunk = std::string()](
                                  std::size_t, std::size_t, httplib::DataSink& sink) mutable {
        switch (pipe->take(chunk)) {
          case body_pipe::taken::data:
            return sink.write(chunk.data(), chunk.size());
          case body_pipe::taken::end:
            if (sink.done) sink.done();
            return true;
          case body_pipe::taken::failed:
            break;
        }
        body_failed = true;
        return false;
      };
    }
    std::string body;
    bool too_large = false;
    std::size_t limit = opt_.max_response_bytes;
    req.content_receiver = [&](const char* data, std::size_t len, std::uint64_t, std::uint64_t) {
      if (body.size() + len > limit) {
        too_large = true;
        return false;
      }
      body.append(data, len);
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    auto started = std::chrono::steady_clock::now();
    bool ok = client.send(req, res, err);
    upstream_response out;
    if (ok) {
      out.status = res.status;
      out.reason = res.reason;
      for (auto& [k, v] : res.headers) out.headers.emplace_back(k, v);
      out.body = std::move(body);
    } else if (too_large) {
      out.why = upstream_response::failure::too_large;
      out.error = "upstream response larger than " + std::to_string(limit) + " bytes";
    } else {
      bool timed_out = std::chrono::steady_clock::now() - started >=
                           opt_.timeout - std::chrono::milliseconds(50) ||
                       err == httplib::Error::Read;
      out.why = (err == httplib::Error::Connection) ? upstream_response::failure::unreachable
                : timed_out                         ? upstream_response::failure::timeout
                                                    : upstream_response::failure::unreachable;
      out.error = httplib::to_string(err);
      client.stop();  // drop a half-used connection; the next request reconnects
    }
    if (body_failed) {
      out.status = 0;  // whatever the upstream made of a cut body, the client gets the 408
      out.why = upstream_response::failure::body;
    } else {
      std::lock_guard lk(mu_);
      switch (out.why) {
        case upstream_response::failure::none:
          ++stats_.answered;
          break;
        case upstream_response::failure::unreachable:
          ++stats_.unreachable;
          break;
        case upstream_response::failure::timeout:
          ++stats_.timeouts;
          break;
        case upstream_response::failure::too_large:
          ++stats_.too_large;
          break;
        case upstream_response::failure::overloaded:
          ++stats_.rejected;
          break;
        case upstream_response::failure::body:
          break;
      }
    }
    auto done = std::move(j.done);
    done(std::move(out));
  }
}

// ---- streamed request bodies -------------------------------------------------

bool body_pipe::put(std::string_view bytes) {
  std::lock_guard lk(mu_);
  buf_.append(bytes);
  deadline_ = next_deadline();
  cv_.notify_one();
  if (buf_.size() < capacity_) return true;
  paused_ = true;
  return false;
}

void body_pipe::finish() {
  std::lock_guard lk(mu_);
  finished_ = true;
  cv_.notify_one();
}

void body_pipe::abort() {
  std::lock_guard lk(mu_);
  aborted_ = true;
  cv_.notify_one();
}

body_pipe::taken body_pipe::take(std::string& out) {
  std::function<void()> resume;
  {
    std::unique_lock lk(mu_);
    cv_.wait_until(lk, deadline_, [&] { return aborted_ || finished_ || !buf_.empty(); });
    if (aborted_) return taken::failed;
    if (buf_.empty()) return finished_ ? taken::end : taken::failed;  // else: the deadline
    out.clear();
    out.swap(buf_);
    if (paused_) {
      paused_ = false;
      deadline_ = next_deadline();  // the client was not read while the pipe was full
      resume = on_room_;
    }
  }
  if (resume) resume();
  return taken::data;
}

// ---- upstream auth ------------------------------------------------------------

upstream_auth::upstream_auth(upstream_pool& pool, upstream_auth_options opt)
    : pool_(pool), opt_(opt) {}

std::optional<std::string> identity_from_body(std::string_view body,
                                              const std::vector<std::string>& path) {
  boost::json::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec) return std::nullopt;
  const boost::json::value* at = &v;
  for (const auto& key : path) {
    at = at->is_object() ? at->get_object().if_contains(key) : nullptr;
    if (!at) return std::nullopt;
  }
  if (at->is_string()) return std::string(at->get_string());
  if (at->is_int64() || at->is_uint64()) return boost::json::serialize(*at);
  return std::nullopt;
}

std::string upstream_auth::key_of(std::string_view cookie, std::string_view authorization) const {
  // Only the session counts when its cookie is known: other cookies change all the time.
  if (!opt_.session_cookie.empty()) cookie = find_cookie(cookie, opt_.session_cookie).value_or("");
  // Credentials are never kept as such: only a hash of them is a cache key.
  std::string material;
  material.reserve(cookie.size() + authorization.size() + 1);
  material.append(cookie).append("\n").append(authorization);
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(material.data(), material.size(), d, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(d), len);
}

std::optional<auth_outcome> upstream_auth::cached(std::string_view cookie,
                                                  std::string_view authorization) {
  if (cookie.empty() && authorization.empty())
    return auth_outcome{401, {}, "no credentials (Cookie or Authorization)"};
  if (!opt_.session_cookie.empty() && authorization.empty() &&
      !find_cookie(cookie, opt_.session_cookie))
    return auth_outcome{401, {}, "no " + opt_.session_cookie + " session cookie"};
  auto key = key_of(cookie, authorization);
  std::lock_guard lk(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end() || it->second.expires <= std::chrono::steady_clock::now())
    return std::nullopt;
  ++stats_.hits;
  return it->second.outcome;
}

void upstream_auth::lookup(std::string_view cookie, std::string_view authorization,
                           std::function<void(auth_outcome)> done) {
  auto key = key_of(cookie, authorization);
  std::optional<auth_outcome> answered;
  {
    std::lock_guard lk(mu_);
    // The caller missed the cache before coming here; a lookup of the same credentials
    // may have finished since. Its answer serves: asking again would defeat the cache.
    if (auto c = cache_.find(key);
        c != cache_.end() && c->second.expires > std::chrono::steady_clock::now()) {
      ++stats_.hits;
      answered = c->second.outcome;
    } else {
      ++stats_.misses;
      auto [it, fresh] = inflight_.try_emplace(key);
      it->second.push_back(std::move(done));
      if (!fresh) {
        ++stats_.coalesced;
        return;  // one request already asks for these credentials
      }
      ++stats_.calls;
    }
  }
  if (answered) {
    done(*answered);  // outside the lock: it may post, or look up again
    return;
  }
  upstream_request req;
  req.method = "GET";
  req.target = pool_.target().path;
  if (!cookie.empty()) req.headers.emplace_back("Cookie", std::string(cookie));
  if (!authorization.empty()) req.headers.emplace_back("Authorization", std::string(authorization));
  req.headers.emplace_back("Accept", "application/json");
  bool queued = pool_.submit(std::move(req), [this, key](upstream_response r) {
    auth_outcome o;
    if (r.status == 200) {
      std::string user = identity_from_body(r.body, opt_.user_field).value_or("");
      if (user.empty() || user.size() > 200 || !json_text::valid_utf8(user)) {
        std::string where;
        for (const auto& k : opt_.user_field) where += (where.empty() ? "" : ".") + k;
        o = {503, {}, "auth backend answered 200 without a usable " + where};
      } else {
        o = {0, std::move(user), {}};
      }
    } else if (r.status == 401 || r.status == 403) {
      o = {401, {}, "refused by the auth backend (" + std::to_string(r.status) + ")"};
    } else if (r.status != 0) {
      o = {503, {}, "auth backend answered " + std::to_string(r.status)};
    } else {
      o = {503, {}, "auth backend unreachable: " + r.error};
    }
    finish(key, o);
  });
  if (!queued) finish(key, {503, {}, "auth backend queue is full"});
}

void upstream_auth::finish(const std::string& key, const auth_outcome& o) {
  std::vector<std::function<void(auth_outcome)>> waiters;
  {
    std::lock_guard lk(mu_);
    auto now = std::chrono::steady_clock::now();
    if (o.ok() || o.status == 401) {
      if (cache_.size() >= opt_.max_entries) {
        for (auto it = cache_.begin(); it != cache_.end();)
          it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
        if (cache_.size() >= opt_.max_entries)
          cache_.clear();  // still full: start over rather than grow
      }
      cache_[key] = {o, now + (o.ok() ? opt_.ttl : opt_.refusal_ttl)};
    } else {
      ++stats_.failures;  // not cached: the next request asks again
    }
    auto it = inflight_.find(key);
    if (it != inflight_.end()) {
      waiters = std::move(it->second);
      inflight_.erase(it);
    }
  }
  for (auto& w : waiters) w(o);
}

upstream_auth_stats upstream_auth::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

}  // namespace cutover::net
