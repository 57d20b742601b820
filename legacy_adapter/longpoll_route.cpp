#include "legacy_adapter/longpoll_route.hpp"

#include <chrono>

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

}  // namespace

void longpoll_route::handle(const net::request_view& req, const net::caller& who,
                            net::exchange& ex) {
  auto parsed = parse_poll_query(req.query, opt_.since_param);
  if (auto* err = std::get_if<std::string>(&parsed)) {
    net::global_metrics().bad_requests.add();
    net::global_metrics().poll_rejected.add();
    return ex.respond(400, net::json_error_body(400, *err), {});
  }
  const auto& q = std::get<poll_query>(parsed);
  cursor since;
  if (q.since) {
    since = *q.since;
  } else {
    // No cursor: start at this instance's newest entry and wait for the next one.
    auto head = ex.head();
    std::uint64_t legacy = head ? head->legacy_id() : 0;
    since = cursor{stream_id::from_legacy(legacy), cursor_form::legacy_id, legacy};
  }
  std::uint64_t since_legacy =
      since.form == cursor_form::legacy_id ? since.legacy : since.after.legacy_id();
  wait(ex, who, since, since_legacy, opt_.batch + 1);
}

void longpoll_route::wait(net::exchange& ex, const net::caller& who, cursor since,
                          std::uint64_t since_legacy, std::size_t limit) {
  bool cohort = who.in_ws_cohort;
  ex.wait_for({since.after, limit},
              [this, &ex, &who, since, since_legacy, limit, cohort](net::wait_result r) {
                auto& m = net::global_metrics();
                std::vector<net::header> extra;
                if (cohort) extra.push_back({"X-Cutover-Upgrade", opt_.upgrade_path});
                if (r.error_status) {
                  m.poll_rejected.add();
                  extra.push_back({"Retry-After", "1"});
                  return ex.respond(r.error_status, net::json_error_body(r.error_status, r.error),
                                    std::move(extra));
                }
                bool complete = r.entries.size() < limit;
                auto c = cut_batch(r.entries, opt_.batch, complete);
                if (c.need_more && limit < kMaxGroupRead)
                  return wait(ex, who, since, since_legacy, kMaxGroupRead);
                std::span<const notification_ptr> sent(r.entries.data(), c.count);
                std::uint64_t empty_last = since_legacy;
                // Nothing left of an expired range: move the client past what was removed, or it
                // would be told "reset" forever.
                if (r.expired && sent.empty() && r.pruned_through)
                  empty_last = std::max(empty_last, r.pruned_through->legacy_id());
                std::uint64_t last = last_id_for(sent, empty_last, ex.head(), wall_ms());
                if (r.expired) {
                  extra.push_back({"X-Cutover-Reset", "1"});
                  m.poll_reset.add();
                } else if (sent.empty()) {
                  m.poll_timeout.add();
                } else {
                  m.poll_data.add();
                }
                m.deliveries[static_cast<std::size_t>(net::transport::longpoll)].add(sent.size());
                ex.respond(200, render_poll_body(sent, last, r.expired), std::move(extra));
              });
}

}  // namespace cutover::legacy
