#include "longpoll.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "http_helpers.hpp"

namespace cutover::legacy_sim {
namespace {

namespace json = boost::json;

// How often a waiting poll looks at the database again. The heart of the old design.
constexpr std::chrono::milliseconds kRecheckInterval{1000};

constexpr std::string_view kOwnKeys[] = {"eventId", "kind", "at", "via"};

// Keeps /stats' waiting_polls right on every way out of the handler.
class waiting_guard {
 public:
  explicit waiting_guard(std::atomic<std::uint64_t>& n) : n_(n) { n_.fetch_add(1); }
  ~waiting_guard() { n_.fetch_sub(1); }
  waiting_guard(const waiting_guard&) = delete;
  waiting_guard& operator=(const waiting_guard&) = delete;

 private:
  std::atomic<std::uint64_t>& n_;
};

// Identity for a poll: the session cookie, else `?user=` when --allow-user-param.
std::optional<std::string> poll_identity(const httplib::Request& req, const sim_state& st) {
  if (auto user = session_user(req, st.sessions)) return user;
  if (st.options.allow_user_param && req.has_param("user")) {
    std::string user = req.get_param_value("user");
    if (!user.empty()) return user;
  }
  return std::nullopt;
}

void db_failure(httplib::Response& res, const std::string& error) {
  std::fprintf(stderr, "legacy_sim: updates failed: %s\n", error.c_str());
  send_error(res, 500, "INTERNAL", "database unavailable");
}

}  // namespace

std::optional<std::uint64_t> parse_cursor(std::string_view text) {
  if (text.substr(0, kCursorPrefix.size()) != kCursorPrefix) return std::nullopt;
  std::string_view digits = text.substr(kCursorPrefix.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc{} || p != digits.data() + digits.size()) return std::nullopt;
  return v;
}

std::string format_cursor(std::uint64_t id) {
  return std::string(kCursorPrefix) + std::to_string(id);
}

std::string render_event(const inbox_event& e) {
  std::string out = "{\"eventId\":\"" + format_cursor(e.id) + "\",\"kind\":" + json_quote(e.kind) +
                    ",\"at\":" + std::to_string(e.created_at);
  boost::system::error_code ec;
  json::value body = json::parse(e.body, ec);
  if (!ec && body.is_object()) {
    for (const auto& kv : body.get_object()) {
      if (std::find(std::begin(kOwnKeys), std::end(kOwnKeys), kv.key()) != std::end(kOwnKeys))
        continue;
      out += "," + json_quote(kv.key()) + ":" + json::serialize(kv.value());
    }
  } else {
    out += ",\"value\":" + e.body;
  }
  out += ",\"via\":\"inbox\"}";
  return out;
}

std::string render_updates(std::span<const inbox_event> events) {
  std::string out = "{\"v\":2,\"events\":[";
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i) out += ',';
    out += render_event(events[i]);
  }
  out += "]}";
  return out;
}

void handle_updates(const httplib::Request& req, httplib::Response& res, sim_state& st) {
  st.poll_requests.fetch_add(1);
  const sim_options& opt = st.options;

  // Identity first: an anonymous request with a bad cursor is a 401.
  auto user = poll_identity(req, st);
  if (!user) return send_error(res, 401, "NO_SESSION", "log in first");

  std::uint64_t after = 0;  // no cursor: everything still in the inbox
  if (req.has_param("after")) {
    auto c = parse_cursor(req.get_param_value("after"));
    if (!c) return send_error(res, 400, "BAD_CURSOR", "after must be evt_ followed by digits");
    after = *c;
  }

  // One connection per request, held while the request waits: how the old app did it.
  std::string error;
  auto db = inbox_db::open(opt.db_path, error);
  if (!db) return db_failure(res, error);

  enum class look { nothing, answered, failed };
  auto answer_from_db = [&]() -> look {
    auto rows = db->read_after(*user, opt.channels, after, opt.page_size, error);
    if (!rows) return look::failed;
    if (rows->empty()) return look::nothing;
    res.set_header("X-Inbox-Cursor", format_cursor(rows->back().id));
    send_json(res, 200, render_updates(*rows));
    return look::answered;
  };

  const auto deadline = std::chrono::steady_clock::now() + opt.wait;
  look seen = answer_from_db();
  if (seen == look::nothing) {
    waiting_guard waiting(st.waiting_polls);  // from here on the thread is parked
    while (seen == look::nothing) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      // DELIBERATE: sleep a second and look again, holding this worker thread the whole
      // time. An arrival waits for the next tick (up to 1 s of latency) and every waiting
      // client costs a thread, a connection and a query per second. This is the behaviour
      // being replaced; the benchmarks measure it. Only shutdown cuts it short.
      auto nap = std::min<std::chrono::milliseconds>(
          kRecheckInterval, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
      if (st.stop.sleep_for(nap)) break;  // shutting down: answer "nothing new"
      seen = answer_from_db();
    }
  }
  if (seen == look::failed) return db_failure(res, error);
  if (seen == look::answered) return;
  // Nothing new: 204, with the cursor to come back with.
  res.status = 204;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Inbox-Cursor", format_cursor(after));
}

}  // namespace cutover::legacy_sim
