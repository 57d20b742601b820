#include "ingest/publish.hpp"

#include <hiredis/hiredis.h>

#include <cstdio>
#include <optional>
#include <random>

#include "core/log.hpp"
#include "ingest/backoff.hpp"
#include "ingest/stop_signal.hpp"

namespace cutover::ingest {

result<std::vector<std::string>> xadd_arguments(const std::string& stream, const decoded_entry& e,
                                                std::size_t maxlen, const extra_fields& extra,
                                                const entry_limits& lim) {
  if (stream.empty()) return error{"invalid notification: empty stream key", errc::invalid_entry};
  field_list fields;
  fields.reserve(4 + extra.size());
  fields.emplace_back("topic", e.topic);
  if (!e.type.empty()) fields.emplace_back("type", e.type);
  fields.emplace_back("data", e.data);
  if (e.key) fields.emplace_back("key", *e.key);
  fields.insert(fields.end(), extra.begin(), extra.end());
  // The same rules ingest applies, so nothing refused here could have been stored anyway.
  auto d = decode_stream_fields(fields, lim);
  if (!d.entry) return error{"invalid notification: " + d.reason, errc::invalid_entry};

  std::vector<std::string> argv;
  argv.reserve(6 + 2 * fields.size());
  argv.emplace_back("XADD");
  argv.push_back(stream);
  if (maxlen > 0) {
    argv.emplace_back("MAXLEN");
    argv.emplace_back("~");
    argv.push_back(std::to_string(maxlen));
  }
  argv.emplace_back("*");
  for (auto& [name, value] : fields) {
    argv.push_back(name);
    // The stream carries data in the compact form the store keeps.
    argv.push_back(name == "data" ? d.entry->data : value);
  }
  return argv;
}

namespace {

result<stream_id> id_from_reply(const redisReply* r) {
  if (is_error_reply(r))
    return error{"XADD refused: " + std::string(reply_text(r)), errc::redis_reply};
  if (!r || r->type != REDIS_REPLY_STRING)
    return error{"XADD: unexpected reply", errc::redis_reply};
  auto id = parse_stream_id(reply_text(r));
  if (!id)
    return error{"XADD: reply is not a stream id: " + std::string(reply_text(r)),
                 errc::redis_reply};
  return *id;
}

std::vector<std::string_view> views(const std::vector<std::string>& argv) {
  return std::vector<std::string_view>(argv.begin(), argv.end());
}

}  // namespace

result<stream_id> xadd_notification(redis_connection& c, const std::string& stream,
                                    const decoded_entry& e, std::size_t maxlen,
                                    const extra_fields& extra, const entry_limits& lim) {
  auto argv = xadd_arguments(stream, e, maxlen, extra, lim);
  if (!argv) return argv.err();
  auto v = views(*argv);
  auto r = c.command(v);
  if (!r) return r.err();
  return id_from_reply(r->get());
}

// ---- publisher -----------------------------------------------------------------

namespace {

// Connection state of the publisher thread; touched only by that thread.
struct publisher_link {
  std::optional<redis_connection> conn;
  backoff pace{std::chrono::milliseconds(100), std::chrono::seconds(5)};
  std::chrono::steady_clock::time_point retry_at{};
  std::string down_reason;
  bool was_down = false;
};

}  // namespace

publisher::publisher(std::string redis_url, std::string stream, std::size_t maxlen,
                     std::size_t queue_limit, entry_limits lim, int replicas,
                     std::chrono::milliseconds wait_timeout)
    : url_(std::move(redis_url)),
      stream_(std::move(stream)),
      maxlen_(maxlen),
      queue_limit_(queue_limit == 0 ? 1 : queue_limit),
      limits_(lim),
      replicas_(replicas),
      wait_timeout_(wait_timeout),
      wake_(std::make_unique<stop_signal>()) {
  thread_ = std::thread([this] { run(); });
}

publisher::~publisher() {
  stop();
}

bool publisher::publish(decoded_entry e, callback done) {
  {
    std::lock_guard lk(mu_);
    if (stopping_ || queue_.size() >= queue_limit_) return false;
    queue_.push_back(item{std::move(e), std::move(done)});
  }
  cv_.notify_one();
  return true;
}

bool publisher::connected() const {
  std::lock_guard lk(mu_);
  return connected_;
}

void publisher::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_->request();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {
// An idempotency key for an entry published without one, so a retry is stored once.
std::string generated_key() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[48];
  std::snprintf(buf, sizeof buf, "cutover-%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}
}  // namespace

void publisher::run() {
  struct {
    publisher_link link;
    core::logger log{"ingest"};
  } st;
  auto ep = parse_redis_url(url_);
  if (!ep) st.log.line("publisher: " + ep.err().message);

  while (true) {
    std::vector<item> items;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      // Everything queued goes out as one pipeline: one write, replies read in order.
      while (!queue_.empty() && items.size() < 512) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    auto fail_all = [&](std::size_t from, const error& why) {
      for (std::size_t i = from; i < items.size(); ++i)
        if (items[i].done) items[i].done(why);
    };
    if (!ep) {
      fail_all(0, ep.err());
      continue;
    }
    auto& link = st.link;
    if (link.conn && link.conn->peer_closed())
      link.conn.reset();  // e.g. Redis restarted while idle
    if (!link.conn) {
      auto now = std::chrono::steady_clock::now();
      if (now < link.retry_at) {
        fail_all(0, error{"Redis unavailable: " + link.down_reason, errc::connection});
        continue;
      }
      auto c = redis_connection::connect(
          *ep, {std::chrono::seconds(2), std::chrono::seconds(5), wake_->fd()});
      if (!c) {
        if (!link.was_down || link.down_reason != c.err().message)
          st.log.line("publisher: " + c.err().message + "; publishes fail until Redis is back");
        link.down_reason = c.err().message;
        link.was_down = true;
        link.retry_at = now + link.pace.next();
        fail_all(0, error{"Redis unavailable: " + link.down_reason, errc::connection});
        continue;
      }
      link.conn.emplace(std::move(*c));
      link.pace.reset();
      if (link.was_down) st.log.line("publisher: connected to " + ep->display());
      link.was_down = false;
      std::lock_guard lk(mu_);
      connected_ = true;
    }

    std::vector<std::size_t> sent;
    sent.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      // A retry after an unconfirmed WAIT must be stored once: it needs a key.
      if (replicas_ > 0 && !items[i].entry.key) items[i].entry.key = generated_key();
      auto argv = xadd_arguments(stream_, items[i].entry, maxlen_, {}, limits_);
      if (!argv) {
        if (items[i].done) items[i].done(argv.err());
        continue;
      }
      auto v = views(*argv);
      link.conn->append(v);
      sent.push_back(i);
    }
    auto lost = [&](std::size_t from, const std::string& why, bool maybe_added) {
      for (std::size_t k = from; k < sent.size(); ++k)
        if (items[sent[k]].done)
          items[sent[k]].done(
              error{(maybe_added ? "lost connection to Redis; the entry may or may not have been "
                                   "added: "
                                 : "lost connection to Redis before the entry was sent: ") +
                        why,
                    errc::connection});
      link.conn.reset();
      link.was_down = true;
      link.down_reason = why;
      st.log.line("publisher: " + why);
      std::lock_guard lk(mu_);
      connected_ = false;
    };
    if (sent.empty()) continue;
    std::string wait_n = std::to_string(replicas_), wait_ms = std::to_string(wait_timeout_.count());
    if (replicas_ > 0)
      link.conn->append(std::initializer_list<std::string_view>{"WAIT", wait_n, wait_ms});
    if (auto f = link.conn->flush(); !f) {
      lost(0, f.err().message, true);
      continue;
    }
    std::vector<result<stream_id>> ids;
    bool broke = false;
    for (std::size_t k = 0; k < sent.size(); ++k) {
      // A reply already due is awaited even during stop(): the entry is in Redis or not.
      auto r = link.conn->receive(link.conn->read_timeout(), false, false);
      if (!r) {
        // With replicas, those answered before the link broke were not confirmed: they fail
        // with the rest (maybe added, never confirmed).
        if (replicas_ > 0) k = 0;
        lost(k, r.err().message, true);
        broke = true;
        break;
      }
      ids.push_back(id_from_reply(r->get()));
      if (replicas_ == 0 && items[sent[k]].done) items[sent[k]].done(std::move(ids.back()));
    }
    if (broke || replicas_ == 0) continue;
    // WAIT waits up to its timeout; the reply deadline allows for that.
    auto w = link.conn->receive(link.conn->read_timeout() + wait_timeout_, false, false);
    long long confirmed = w && (*w)->type == REDIS_REPLY_INTEGER ? (*w)->integer : -1;
    if (confirmed >= replicas_) {
      for (std::size_t k = 0; k < sent.size(); ++k)
        if (items[sent[k]].done) items[sent[k]].done(std::move(ids[k]));
      continue;
    }
    std::string why = !w ? w.err().message
                      : is_error_reply(w->get())
                          ? std::string(reply_text(w->get()))
                          : "WAIT " + wait_n + " " + wait_ms + " confirmed " +
                                std::to_string(std::max(0LL, confirmed)) + " replicas";
    // Not confirmed: the master may be gone (a failover). Resolve again and send once more
    // with the same keys; a second failure is the publisher's answer.
    link.conn.reset();
    {
      std::lock_guard lk(mu_);
      connected_ = false;
    }
    std::vector<item> again;
    for (std::size_t k = 0; k < sent.size(); ++k) {
      item& it = items[sent[k]];
      if (!ids[k]) {
        if (it.done) it.done(std::move(ids[k]));
      } else if (++it.attempts >= 2) {
        if (it.done)
          it.done(error{"not confirmed by " + wait_n + " replicas after a retry: " + why,
                        errc::connection});
      } else {
        again.push_back(std::move(it));
      }
    }
    if (!again.empty()) {
      st.log.line("publisher: " + why + "; resolving the master again and retrying " +
                  std::to_string(again.size()) + " entries with their idempotency keys");
      std::lock_guard lk(mu_);
      for (auto it = again.rbegin(); it != again.rend(); ++it) queue_.push_front(std::move(*it));
    }
  }

  std::deque<item> left;
  {
    std::lock_guard lk(mu_);
    left.swap(queue_);
    connected_ = false;
  }
  for (auto& it : left)
    if (it.done) it.done(error{"publisher stopped before the entry was sent", errc::stopped});
}

}  // namespace cutover::ingest
