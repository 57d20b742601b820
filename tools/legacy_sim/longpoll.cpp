#include "longpoll.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>

#include "http_helpers.hpp"

namespace cutover::legacy_sim {
namespace {

// The most entries one poll returns to finish a legacyId group (a bulk publish within
// one millisecond) that is larger than --poll-batch. Same bound as Cutover's.
constexpr std::size_t kMaxGroupRead = 10'000;

// How often a waiting poll looks at the store again. The heart of the old design.
constexpr std::chrono::milliseconds kRecheckInterval{1000};

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

void append_number(std::string& out, std::uint64_t v) {
  char num[24];
  out.append(num, std::to_chars(num, num + sizeof num, v).ptr);
}

// Identity for a poll: the session cookie, else `?user=` when --allow-user-param.
std::optional<std::string> poll_identity(const httplib::Request& req, const sim_state& st) {
  if (auto user = session_user(req, st.sessions)) return user;
  if (st.options.allow_user_param && req.has_param("user")) {
    std::string user = req.get_param_value("user");
    if (!user.empty()) return user;
  }
  return std::nullopt;
}

void store_failure(httplib::Response& res, const std::string& error) {
  std::fprintf(stderr, "legacy_sim: poll failed: %s\n", error.c_str());
  send_error(res, 500, "store unavailable: " + error);
}

}  // namespace

std::size_t batch_count(std::span<const stored_notification> rows, std::size_t batch) {
  if (rows.size() <= batch) return rows.size();
  std::uint64_t boundary = rows[batch - 1].legacy();
  if (rows[batch].legacy() != boundary) return batch;
  // The batch would end inside a group: stop before the group instead...
  std::size_t start = batch - 1;
  while (start > 0 && rows[start - 1].legacy() == boundary) --start;
  // ...unless the group is all there is, then it goes out whole (larger than the batch).
  return start;
}

std::string render_poll_body(std::span<const stored_notification> rows, std::uint64_t last_id) {
  // Written by hand, not as a json::value: `payload` must be the stored text byte for
  // byte (a parse and re-serialise would change number spellings and escapes), and the
  // key order must match Cutover's so parity can compare bodies as text.
  std::string out = R"({"notifications":[)";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& n = rows[i];
    if (i) out += ',';
    out += R"({"id":)";
    append_number(out, n.legacy());
    out += R"(,"type":)";
    out += json_quote(n.type);
    out += R"(,"createdAt":")";
    out += iso8601_utc(n.ms);
    out += R"(","payload":)";
    out += n.data;  // validated JSON: ingest refuses anything else
    out += '}';
  }
  out += R"(],"lastId":)";
  append_number(out, last_id);
  out += '}';
  return out;
}

void handle_poll(const httplib::Request& req, httplib::Response& res, sim_state& st) {
  st.poll_requests.fetch_add(1);
  const sim_options& opt = st.options;

  // Identity first, as Cutover does: an anonymous request with a bad cursor is a 401.
  auto user = poll_identity(req, st);
  if (!user) return send_error(res, 401, "not logged in");

  std::optional<since_value> since;
  if (req.has_param("since")) {
    std::string error;
    since = parse_since(req.get_param_value("since"), error);
    if (!since) return send_error(res, 400, error);
  }

  std::vector<std::string> topics{"user:" + *user};
  for (const auto& t : opt.shared_topics)
    if (std::find(topics.begin(), topics.end(), t) == topics.end()) topics.push_back(t);

  // One connection per request, held while the request waits: how the old app did it.
  std::optional<notification_db> db;
  std::string error;
  if (!opt.db_path.empty()) {
    db = notification_db::open(opt.db_path, error);
    if (!db) return store_failure(res, error);
  }
  if (!since) {
    // No cursor: start at the newest entry of the whole store and wait for the next one.
    std::uint64_t newest = 0;
    if (db) {
      auto n = db->newest_legacy_id(error);
      if (!n) return store_failure(res, error);
      newest = *n;
    }
    since = since_from_legacy(newest);
  }

  // One look at the store: answers the request when anything is there.
  enum class look { nothing, answered, failed };
  auto answer_from_store = [&]() -> look {
    if (!db) return look::nothing;
    auto rows = db->read_after(topics, since->after, opt.poll_batch + 1, error);
    if (!rows) return look::failed;
    if (rows->empty()) return look::nothing;
    std::size_t count = batch_count(*rows, opt.poll_batch);
    if (count == 0) {
      // One legacyId group fills the batch: read on to its end and send it whole.
      rows =
          db->read_after(topics, since->after, std::max(kMaxGroupRead, opt.poll_batch + 1), error);
      if (!rows) return look::failed;
      if (rows->empty()) return look::nothing;  // pruned in between: keep waiting
      std::uint64_t group = rows->front().legacy();
      while (count < rows->size() && (*rows)[count].legacy() == group) ++count;
    }
    std::span<const stored_notification> sent(rows->data(), count);
    send_json(res, 200, render_poll_body(sent, sent.back().legacy()));
    return look::answered;
  };

  const auto deadline = std::chrono::steady_clock::now() + opt.poll_timeout;
  look seen = answer_from_store();
  if (seen == look::nothing) {
    waiting_guard waiting(st.waiting_polls);  // from here on the thread is parked
    while (seen == look::nothing) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      // DELIBERATE: sleep a second and look again, holding this worker thread the whole
      // time. An arrival waits for the next tick (up to 1 s of latency) and every waiting
      // client costs a thread, a connection and a store read per second. This is the
      // behaviour being replaced; the benchmarks measure it. Only shutdown cuts it short.
      auto nap = std::min<std::chrono::milliseconds>(
          kRecheckInterval, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
      if (st.stop.sleep_for(nap)) break;  // shutting down: answer empty, like Cutover
      seen = answer_from_store();
    }
  }
  if (seen == look::failed) return store_failure(res, error);
  if (seen == look::answered) return;
  send_json(res, 200, render_poll_body({}, since->legacy));
}

}  // namespace cutover::legacy_sim
