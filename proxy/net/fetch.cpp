#include "net/fetch.hpp"

#include <boost/asio/post.hpp>

namespace cutover::net {

std::optional<fetch_result> fetch_from_memory(shard& sh, const topic_list& topics, stream_id after,
                                              std::size_t limit) {
  auto& m = global_metrics();
  auto hit = sh.ctx().hub_->fetch(*topics, after, limit);
  if (!hit) {
    m.cache_misses.add();
    return std::nullopt;
  }
  m.cache_hits.add();
  fetch_result r;
  r.entries = std::move(*hit);
  return r;
}

void fetch_from_store(shard& sh, const topic_list& topics, stream_id after, std::size_t limit,
                      std::function<void(fetch_result)> done, read_claim_ptr claim) {
  hub* h = sh.ctx().hub_;
  // Shared so the refusal path below can still answer; moved to the I/O thread with the
  // result, so whatever it keeps alive (the session) is released there, never here.
  auto cb = std::make_shared<std::function<void(fetch_result)>>(std::move(done));
  auto job = [&sh, h, topics, after, limit, cb, claim = std::move(claim)](history_reader& rd) {
    auto& m = global_metrics();
    auto started = clock::now();
    fetch_result r;
    // Late first: a poll whose deadline passed also let go of its claim when it answered.
    if (claim && claim->start_by <= started) {
      r.skipped = true;
      m.store_reads_skipped_late.add();
    } else if (claim && !claim->wanted.load(std::memory_order_relaxed)) {
      r.skipped = true;
      m.store_reads_skipped_gone.add();
    } else {
      bool lost_range_resume = false;
      bool expired = h->expired(*topics, after);
      std::optional<stream_id> lost = expired ? h->lost_resume(after) : std::nullopt;
      if (lost) {
        // Inside a range Redis lost, a cursor naming an entry stored after the loss (the new
        // master filled the range with entries of its own) is that entry's position: only
        // retention can expire it. An id Redis reused for other content stays a loss.
        if (auto kept = rd.kept_after_loss(after); kept && *kept) {
          lost.reset();
          expired = false;
          for (const auto& mark : h->marks_for(*topics))
            expired = expired || (mark && after < *mark);
        }
      }
      if (expired) {
        r.expired = true;
        r.oldest = lost;  // inside a range Redis lost (DESIGN §3)
        lost_range_resume = r.oldest.has_value();
        // Only the caller's topics: their marks (or the floor) come from the hub.
        // `oldest` is where the retained history of those topics starts; a topic with none
        // left (often one the floor expired, with nothing ever pruned) says nothing about
        // it, unless no expired topic has any.
        auto marks = h->marks_for(*topics);
        std::optional<stream_id> retained, bare;
        for (std::size_t i = 0; i < topics->size(); ++i) {
          const auto& mark = marks[i];
          if (!mark || !(after < *mark)) continue;
          if (!r.pruned_through || *r.pruned_through < *mark) r.pruned_through = *mark;
          auto o = rd.oldest((*topics)[i]);
          if (o && *o) {
            if (!retained || **o < *retained) retained = **o;
          } else if (!bare || *mark < *bare) {
            bare = *mark;
          }
        }
        if (auto start = retained ? retained : bare; start && (!r.oldest || *start < *r.oldest))
          r.oldest = start;
      }
      stream_id from = after;
      if (r.expired && r.oldest && lost_range_resume) {
        // Inside a range Redis lost: delivery goes on after the last agreed entry (DESIGN §3).
        from = r.oldest->seq > 0 ? stream_id{r.oldest->ms, r.oldest->seq - 1}
                                 : stream_id{r.oldest->ms - 1, stream_id::kSeqTail - 1};
        r.rewound_to = from;
      }
      // Delivered before their commit: taken before the store read, so an entry committed in
      // between is in one answer or both, never in neither.
      auto early = h->uncommitted_after(*topics, from, limit);
      auto rows = rd.read_after(*topics, from, limit);
      if (rows) {
        r.entries = early.empty() ? std::move(*rows) : hub::merge(std::move(*rows), early, limit);
      } else {
        r.failed = true;
        r.error = rows.err().message;
      }
      m.store_reads.add();
      m.store_read_micros.add(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started).count()));
    }
    boost::asio::post(sh.io(),
                      [cb = std::move(cb), r = std::move(r)]() mutable { (*cb)(std::move(r)); });
  };
  if (!sh.ctx().readers->read(job)) {
    fetch_result r;
    r.failed = true;
    r.error = "store read queue is full";
    boost::asio::post(sh.io(),
                      [cb = std::move(cb), r = std::move(r)]() mutable { (*cb)(std::move(r)); });
  }
}

}  // namespace cutover::net
