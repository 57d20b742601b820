// The long-poll hold (the `exchange::wait_for` a route calls): answer at once from
// memory, else register, read again, and park until an arrival or --poll-timeout without
// holding a thread. Members of http_session, on its I/O thread.
#include "net/fetch.hpp"
#include "net/http_session.hpp"

namespace cutover::net {
namespace http = boost::beast::http;
namespace asio = boost::asio;

// ---- waiting polls ----------------------------------------------------------

void http_session::wait_for(const wait_spec& spec, std::function<void(wait_result)> done) {
  if (shutting_down_) {
    wait_result r;
    r.shutting_down = true;
    return done(std::move(r));
  }
  // A backlog in memory answers at once, with no registration at all.
  if (auto r = fetch_from_memory(shard_, caller_->topics, spec.after, spec.limit);
      r && !r->entries.empty()) {
    wait_result w;
    w.entries = std::move(r->entries);
    return done(std::move(w));
  }
  wait_ = std::make_unique<waiting>();
  wait_->spec = spec;
  wait_->done = std::move(done);
  // The poll's deadline runs from here, so a store read queued behind others is bounded by
  // it too: at the deadline the poll answers as a timeout does, and the read, if it has
  // not begun, never runs (issue 12: a 1 s poll held 44 s behind other users' reads).
  wait_->deadline = clock::now() + shard_.ctx().opt.poll_timeout;
  wait_->timed = true;
  shard_.park(*this, wait_->deadline);
  // Register before reading again, so nothing committed after that read can slip past.
  shard_.subscribe(*this, caller_->topics);
  wait_fetch();
}

void http_session::wait_fetch() {
  wait_->fetching = true;
  wait_->wake_pending = false;
  if (auto r = fetch_from_memory(shard_, caller_->topics, wait_->spec.after, wait_->spec.limit))
    return wait_fetched(std::move(*r));
  wait_->claim = std::make_shared<read_claim>();
  wait_->claim->start_by = wait_->deadline;
  fetch_from_store(
      shard_, caller_->topics, wait_->spec.after, wait_->spec.limit,
      [self = shared_from_this()](fetch_result r) { self->wait_fetched(std::move(r)); },
      wait_->claim);
}

void http_session::wait_fetched(fetch_result r) {
  if (!wait_ || phase_ == phase::closed) return;
  wait_->fetching = false;
  wait_->claim.reset();
  if (r.skipped) return wait_finish({});  // its deadline came first: the timeout's answer
  if (r.failed) {
    shard_.ctx().store_read_failures.line("poll: store read failed: " + r.error + "; answered 503");
    wait_result w;
    w.error_status = 503;
    w.error = "store unavailable, retry";
    return wait_finish(std::move(w));
  }
  if (!r.entries.empty() || r.expired) {
    wait_result w;
    w.entries = std::move(r.entries);
    w.expired = r.expired;
    w.pruned_through = r.pruned_through;
    w.rewound_to = r.rewound_to;
    return wait_finish(std::move(w));
  }
  if (wait_->wake_pending) return wait_fetch();  // something arrived while we read
  auto& m = global_metrics();
  if (static_cast<std::size_t>(m.waiting_polls.get()) >= shard_.ctx().opt.max_waiting_polls) {
    wait_result w;
    w.error_status = 503;
    w.error = "too many waiting polls on this instance, retry";
    return wait_finish(std::move(w));
  }
  wait_->parked = true;
  wait_->parked_at = clock::now();
  m.waiting_polls.add(1);
}

void http_session::on_entries(std::span<const notification_ptr> entries) {
  if (!wait_) return;
  if (wait_->fetching) {
    wait_->wake_pending = true;
    return;
  }
  if (!wait_->parked) return;
  wait_result r;
  for (const auto& n : entries) {
    if (!(wait_->spec.after < n->id)) continue;  // a cursor ahead of this instance keeps waiting
    r.entries.push_back(n);
    if (r.entries.size() >= wait_->spec.limit) break;
  }
  if (r.entries.empty()) return;
  wait_finish(std::move(r), true);
}

void http_session::on_lost(stream_id after, stream_id through) {
  if (!wait_) return;
  const stream_id& at = wait_->spec.after;
  if (!(after < at) || through < at) return;  // its cursor is outside what Redis lost
  if (wait_->fetching) {
    wait_->wake_pending = true;  // the read in flight may predate the loss: read again
    return;
  }
  if (!wait_->parked) return;
  // Parked on a cursor Redis no longer has: read again now, so the answer is the reset from
  // the last agreed entry, not the next arrival after that cursor (DESIGN §3).
  wait_->parked = false;
  global_metrics().waiting_polls.add(-1);
  wait_fetch();
}

void http_session::on_deadline() {
  if (!wait_) return;
  wait_->timed = false;  // the shard took it off its list
  wait_finish({});       // a read still queued is dropped with its claim
}

void http_session::wait_finish(wait_result r, bool woken) {
  shard_.unsubscribe(*this);
  answer_live_ = woken;
  if (wait_->claim) wait_->claim->drop();
  if (wait_->timed) shard_.unpark(*this);
  if (wait_->parked) {
    auto& m = global_metrics();
    m.waiting_polls.add(-1);
    const double held = std::chrono::duration<double>(clock::now() - wait_->parked_at).count();
    if (woken)
      m.hold_arrival.record(held);
    else if (!r.shutting_down && !r.error_status)
      m.hold_timeout.record(held);
  }
  auto done = std::move(wait_->done);
  wait_.reset();
  done(std::move(r));
}

void http_session::wait_cancel() {
  shard_.unsubscribe(*this);
  if (wait_->claim) wait_->claim->drop();  // the client left: a queued read never runs
  if (wait_->timed) shard_.unpark(*this);
  if (wait_->parked) global_metrics().waiting_polls.add(-1);
  wait_.reset();
}

}  // namespace cutover::net
