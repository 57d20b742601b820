#include "legacy_adapter/longpoll_route.hpp"

#include <algorithm>
#include <chrono>

#include "legacy_adapter/poll_answers.hpp"
#include "legacy_adapter/poll_metrics.hpp"
#include "legacy_adapter/poll_protocol.hpp"
#include "net/metrics.hpp"

namespace cutover::legacy {
namespace {

// Largest read used to finish one legacyId group that fills a whole batch.
constexpr std::size_t kMaxGroupRead = 10'000;

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::optional<std::string_view> raw_cursor(const cursor_spec& c, const net::request_view& req) {
  if (c.place == cursor_place::header) {
    auto it = req.headers.find(c.name);
    if (it == req.headers.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
  }
  if (const std::string* v = net::find_param(req.query, c.name)) return std::string_view(*v);
  return std::nullopt;
}

}  // namespace

void longpoll_route::refuse(net::exchange& ex, const answer_spec& a, std::string_view message,
                            std::vector<net::header> extra) {
  auto r = render_error_answer(a, message);
  for (auto& h : r.headers) extra.push_back(std::move(h));
  ex.respond(r.status, std::move(r.body), std::move(extra), r.content_type);
}

boost::beast::http::verb longpoll_route::method() const {
  return opt_.prof->method == "POST" ? boost::beast::http::verb::post
                                     : boost::beast::http::verb::get;
}

void longpoll_route::refused(int status, std::string_view reason, net::exchange& ex) {
  // The old app's own answers: no identity is its "unauthorized", an unreachable auth
  // backend its "unavailable".
  global_poll_metrics().rejected.add();
  if (status == 401 || status == 403) return refuse(ex, opt_.prof->unauthorized, reason, {});
  if (status == 503) return refuse(ex, opt_.prof->unavailable, reason, {});
  net::route::refused(status, reason, ex);
}

void longpoll_route::handle(const net::request_view& req, const net::caller& who,
                            net::exchange& ex) {
  const profile& p = *opt_.prof;
  auto parsed = read_cursor(p, raw_cursor(p.cursor, req));
  if (auto* err = std::get_if<std::string>(&parsed)) {
    net::global_metrics().bad_requests.add();
    global_poll_metrics().rejected.add();
    return refuse(ex, p.bad_cursor, *err, {});
  }
  auto q = std::get<poll_cursor>(parsed);
  if (!q.since) {
    switch (p.cursor.missing) {
      case missing_cursor::refuse:
        net::global_metrics().bad_requests.add();
        global_poll_metrics().rejected.add();
        return refuse(ex, p.bad_cursor, p.cursor.name + ": missing (this endpoint needs a cursor)",
                      {});
      case missing_cursor::oldest:
        q.since = cursor{};
        q.wire = 0;
        break;
      case missing_cursor::newest: {
        // Start at this instance's newest entry and wait for the next one.
        auto head = ex.head();
        std::uint64_t legacy = head ? head->legacy_id() : 0;
        q.since = cursor{stream_id::from_legacy(legacy), cursor_form::legacy_id, legacy};
        q.wire = to_wire(p, legacy);
        break;
      }
    }
  }
  wait(ex, who, *q.since, q.wire, opt_.batch + 1);
}

void longpoll_route::wait(net::exchange& ex, const net::caller& who, cursor since,
                          std::uint64_t since_wire, std::size_t limit, bool held) {
  // Per request: SIGHUP may have moved the cohort.
  bool cohort = opt_.rollout && opt_.rollout->in_cohort(who.user);
  ex.wait_for({since.after, limit}, [this, &ex, &who, since, since_wire, limit, cohort,
                                     held](net::wait_result r) {
    const profile& p = *opt_.prof;
    auto& m = net::global_metrics();
    std::vector<net::header> extra;
    if (cohort) extra.push_back({"X-Cutover-Upgrade", opt_.upgrade_path});
    if (r.error_status) {
      global_poll_metrics().rejected.add();
      return refuse(ex, p.unavailable, r.error, std::move(extra));
    }
    bool complete = r.entries.size() < limit;
    auto c = cut_batch(r.entries, opt_.batch, complete);
    if (c.need_more && limit < kMaxGroupRead)
      return wait(ex, who, since, since_wire, kMaxGroupRead);
    std::span<const notification_ptr> sent(r.entries.data(), c.count);
    const std::uint64_t ingested = opt_.head_ingested_ms ? opt_.head_ingested_ms() : 0;
    if (!sent.empty() && !r.shutting_down && sent.back()->id.seq >= stream_id::kLegacyTail &&
        tail_may_grow(sent.back()->id, ex.head(), ingested, wall_ms())) {
      // The batch ends in a millisecond's tail that may still grow: a lastId inside it would
      // make the client read it again. Send what comes before it; if the tail is all there
      // is, hold the poll once until something arrives after it (or the poll times out),
      // then answer: no repeats, and no client polling in a loop (DESIGN §2).
      if (std::size_t keep = before_last_group(sent); keep > 0) {
        sent = sent.first(keep);
      } else if (!held) {
        return ex.wait_for({sent.back()->id, 1},
                           [this, &ex, &who, since, since_wire, limit](net::wait_result) {
                             wait(ex, who, since, since_wire, limit, true);
                           });
      }
    }
    std::uint64_t last = since_wire;
    if (!sent.empty()) {
      last = to_wire(p, last_id_for(sent, 0, ex.head(), ingested, wall_ms()));
    } else if (r.expired && r.rewound_to) {
      // Inside a range Redis lost, with nothing after the last agreed entry yet: move the
      // client back to that entry, or every poll would be another reset, answered at once.
      // Short of a tail value, so entries later in that millisecond are not skipped.
      const stream_id& a = *r.rewound_to;
      last = to_wire(p, stream_id{a.ms, std::min(a.seq, stream_id::kLegacyTail - 1)}.legacy_id());
    } else if (r.expired && r.pruned_through) {
      // Nothing left of an expired range: move the client past what was removed, or it
      // would be told "reset" forever.
      last = std::max(last, to_wire(p, r.pruned_through->legacy_id()));
    }
    const answer_spec* a = &p.data;
    if (r.expired) {
      a = &p.reset;
      global_poll_metrics().reset.add();
    } else if (sent.empty()) {
      a = &p.timeout_answer;
      global_poll_metrics().timeout.add();
    } else {
      global_poll_metrics().data.add();
    }
    std::vector<std::string_view> items;
    items.reserve(sent.size());
    for (const auto& n : sent)
      items.push_back(n->rendered(wire_slot::legacy,
                                  [&p](const notification& x) { return render_item(p, x); }));
    m.deliveries[static_cast<std::size_t>(net::transport::longpoll)].add(sent.size());
    ex.delivering(sent);
    auto answer = render_list_answer(*a, items, last);
    for (auto& h : answer.headers) extra.push_back(std::move(h));
    ex.respond(answer.status, std::move(answer.body), std::move(extra), answer.content_type);
  });
}

}  // namespace cutover::legacy
