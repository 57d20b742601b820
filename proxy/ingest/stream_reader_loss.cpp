// Loss detection (DESIGN §3 "A loss by Redis is never silent"), the stream reader's half.
// On every (re)connect and once a second, each stream's committed offset C is compared with
// what Redis shows (XINFO STREAM: last-generated-id L, first-entry, max-deleted-entry-id; the
// entry at C). Redis lost entries this store had when
//   - L < C (a failover to a replica that had not got them, a restart from an old file),
//   - the entry at C is gone although nothing trimmed or deleted it (a stream recreated), or
//   - the entry at C holds other content (its id was reused).
// Then the stored entries of that stream are walked back from C until one that Redis holds
// unchanged (or that Redis trimmed or deleted: both sides agree it is in the past); every
// stored entry on the way that Redis lacks or holds differently is lost. The writer moves
// those to orphans and rewinds the offset to the agreed entry (commit_worker_loss.cpp).
// A stream that is gone altogether (deleted, or Redis restarted without persistence) is
// compared again once it exists: new ids from the clock then look like a trim of everything.

#include <hiredis/hiredis.h>

#include "ingest/stream_reader.hpp"

namespace cutover::ingest {
namespace {

constexpr std::size_t kWalkStep = 256;
constexpr std::size_t kWalkMax = 1'000'000;  // stored entries compared at most per finding

stream_id before(stream_id id) {
  if (id.seq > 0) return {id.ms, id.seq - 1};
  if (id.ms > 0) return {id.ms - 1, stream_id::kSeqTail - 1};
  return {};
}

bool same(const decoded_entry& r, const notification& n) {
  return r.topic == n.topic && r.type == n.type && r.data == n.data;
}

}  // namespace

redis_connection* stream_reader::prober() {
  if (!ctx_.read_endpoint) return conn_ ? &*conn_ : nullptr;
  // --redis-read: what the store holds is judged against the master, never the replica it
  // was read from (a replica behind the offset is lag, not a loss).
  if (master_ && master_->broken()) master_.reset();
  if (!master_) {
    auto c = redis_connection::connect(ctx_.endpoint, ctx_.connection_settings());
    if (!c) {
      if (c.err().code != errc::stopped)
        master_link_.problem("down", "cannot reach the master " + ctx_.endpoint.display() +
                                         " to check for losses: " + c.err().message);
      return nullptr;
    }
    master_.emplace(std::move(*c));
    master_link_.recovered("reachable again at " + master_->peer());
  }
  return &*master_;
}

bool stream_reader::probe_failed(redis_connection* via, const error& e) {
  if (!master_ || via != &*master_) {
    on_connection_error(e);
    return false;
  }
  master_.reset();
  if (e.code != errc::stopped)
    master_link_.problem("down", "checking for losses on the master " + ctx_.endpoint.display() +
                                     " failed: " + e.message);
  return false;
}

bool stream_reader::redis_entries(redis_connection* via, std::size_t i,
                                  const std::vector<stream_id>& ids,
                                  std::vector<std::optional<decoded_entry>>& out,
                                  std::vector<bool>& held) {
  const std::string& key = ctx_.opt.streams[i];
  std::vector<std::string> texts;
  texts.reserve(ids.size());
  for (const auto& id : ids) texts.push_back(id.str());
  for (const auto& t : texts)
    via->append(std::initializer_list<std::string_view>{"XRANGE", key, t, t});
  if (auto st = via->flush(); !st) return probe_failed(via, st.err());
  out.assign(ids.size(), std::nullopt);
  held.assign(ids.size(), false);
  field_list fields;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    auto r = via->receive(via->read_timeout(), false, false);
    if (!r) return probe_failed(via, r.err());
    const redisReply* rep = r->get();
    if (is_error_reply(rep)) {
      if (master_ && via == &*master_)
        master_link_.problem("reply",
                             "XRANGE " + key + " on the master: " + std::string(reply_text(rep)));
      else
        on_error_reply("XRANGE " + key, reply_text(rep));
      return false;
    }
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) continue;
    const redisReply* e = rep->element[0];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    held[k] = true;
    const redisReply* fr = e->element[1];
    std::size_t pairs = fr->type == REDIS_REPLY_ARRAY ? fr->elements / 2 : 0;
    fields.resize(pairs);
    for (std::size_t f = 0; f < pairs; ++f) {
      fields[f].first = std::string(reply_text(fr->element[2 * f]));
      fields[f].second = std::string(reply_text(fr->element[2 * f + 1]));
    }
    auto d = decode_stream_fields(fields, ctx_.opt.limits);
    if (d.entry) out[k] = std::move(*d.entry);  // else held, but not as any stored entry
  }
  return true;
}

bool stream_reader::agreed(std::size_t i, stream_id c, std::optional<stream_id> read_last) {
  probed_[i] = c;
  started_from_[i] = false;
  if (ctx_.read_endpoint) {
    // The replica read from is behind what this store took (another replica than before,
    // or one cut off from the master): the master holds it all, so ingest waits for it.
    bool behind = read_last && *read_last < c;
    if (behind && !warned_behind_[i])
      link_.line("warning: " + ctx_.opt.streams[i] + ": the replica read from (" +
                 ctx_.read_endpoint->display() + ", last-generated-id " + read_last->str() +
                 ") is behind this store's offset " + c.str() +
                 "; the master holds it unchanged, so this is replication lag, not a loss: "
                 "waiting for the replica");
    warned_behind_[i] = behind;
  }
  if (ctx_.opt.on_loss_check) ctx_.opt.on_loss_check(ctx_.opt.streams[i], c);
  return false;
}

const redisReply* stream_reader::judged_info(redis_connection* via, std::size_t i,
                                             const redisReply* info, reply_ptr& holder,
                                             bool& failed) {
  if (!ctx_.read_endpoint) return info;
  auto r = via->command({"XINFO", "STREAM", ctx_.opt.streams[i]});
  if (!r) {
    failed = true;
    probe_failed(via, r.err());
    return nullptr;
  }
  if (is_error_reply(r->get())) return nullptr;
  holder = std::move(*r);
  return holder.get();
}

bool stream_reader::check_loss(std::size_t i, const redisReply* info) {
  auto committed = ctx_.board.committed(i);
  if (!committed || committed->is_zero()) return false;
  const stream_id c = *committed;
  redis_connection* via = prober();
  if (!via) return true;  // the master is unreachable: judged at the next check
  const auto read_last = id_field(info, "last-generated-id");  // of the stream as read
  reply_ptr master_info;
  bool failed = false;
  info = judged_info(via, i, info, master_info, failed);
  if (failed) return true;
  if (!info) return false;  // no such key on the master: judged later
  auto last = id_field(info, "last-generated-id");
  if (!last) return false;
  auto first = id_field(info, "first-entry");
  auto deleted = id_field(info, "max-deleted-entry-id");
  const std::string& key = ctx_.opt.streams[i];
  if (!store_) {
    if (ctx_.opt.loss_check_store_usable && !ctx_.opt.loss_check_store_usable()) {
      link_.problem("store", "cannot open the store to check for losses: unusable (test)");
      return false;
    }
    auto r = store::reader::open(ctx_.opt.db_path, ctx_.opt.store);
    if (!r) {
      link_.problem("store", "cannot open the store to check for losses: " + r.err().message);
      return false;
    }
    store_.emplace(std::move(*r));
  }
  auto at_c = rule_.encode(c, i);
  if (!at_c) return false;

  // Judges one stored point (the offset, or the offset agreed at the previous probe, so a
  // stream recreated under a running reader is caught even after it read past the change):
  // nullopt when Redis agrees (or trimmed/deleted it), else why not.
  struct verdict {
    bool io_failed = false;     // Redis could not be asked (the connection is handled)
    bool store_failed = false;  // the store could not be read: judged at the next check
    std::optional<std::string> why;
  };
  auto judge = [&](stream_id point, const char* what) -> verdict {
    auto at = rule_.encode(point, i);
    if (!at) return {};
    auto top = store_->stream_entries_back(*at, rule_.streams(), i, 1);
    if (!top) {
      // Not an agreement: judged at the next check (the point stays to be judged).
      link_.problem("store", "cannot read the store to check for losses: " + top.err().message);
      return {false, true, std::nullopt};
    }
    if (top->empty() || (*top)[0]->id != *at)
      return {};  // a dead letter, a repeat, or pruned since: nothing to compare
    std::vector<std::optional<decoded_entry>> got;
    std::vector<bool> held;
    if (!redis_entries(via, i, {point}, got, held)) return {true, false, std::nullopt};
    if (held[0]) {
      if (got[0] && same(*got[0], *(*top)[0])) return {};  // the normal case
      return {false, false, std::string(what) + " " + point.str() + " now holds other content"};
    }
    if (first && point < *first) return {};                              // trimmed since
    if (deleted && !deleted->is_zero() && point <= *deleted) return {};  // deleted (XDEL)
    return {false, false,
            std::string(what) + " " + point.str() +
                " is gone though nothing trimmed or deleted it (first-entry " +
                (first ? first->str() : std::string("none")) + ", last-generated-id " +
                last->str() + ")"};
  };
  std::string detail;
  stream_id from = c;  // where the walk back starts
  if (*last < c) {
    detail = "its last-generated-id " + last->str() + " is below the committed offset " + c.str();
  } else {
    auto v = judge(c, "the committed entry");
    if (v.io_failed) return true;
    if (v.store_failed) return false;  // the point stays to be judged; the other checks go on
    if (v.why) {
      detail = *v.why;
    } else if (probed_[i] && *probed_[i] < c) {
      auto p = judge(*probed_[i], "the entry");
      if (p.io_failed) return true;
      if (p.store_failed) return false;
      if (!p.why) return agreed(i, c, read_last);
      detail = *p.why + (started_from_[i] ? ", the offset this instance started from; the stream "
                                            "was replaced before a check could compare it"
                                          : ", agreed at the previous check; the stream was "
                                            "replaced under the reader");
      from = *probed_[i];
    } else {
      return agreed(i, c, read_last);
    }
  }
  // probed_ stays until a check agrees: if this finding never becomes a rewind (the walk or
  // the push fails, or the writer finds the offset moved on), the next check judges the same
  // point again instead of only the offset read past it. After a rewind its stored entry is
  // an orphan (nothing to compare) or Redis's own again, so it agrees.
  at_c = rule_.encode(from, i);
  if (!at_c) return false;

  // Walk back over what this store holds of the stream until both sides agree.
  store::redis_loss loss;
  loss.stream = key;
  loss.expect_offset = c;
  loss.kind = "lost";
  loss.detail = key + ": " + detail;
  std::optional<stream_id> agreed;
  std::optional<stream_id> lowest_lost;
  stream_id at = *at_c;
  std::size_t walked = 0;
  bool exhausted = false;
  while (!agreed && !exhausted && walked < kWalkMax) {
    auto rows = store_->stream_entries_back(at, rule_.streams(), i, kWalkStep);
    if (!rows) {
      link_.problem("store", "cannot read the store to check for losses: " + rows.err().message);
      return false;
    }
    exhausted = rows->size() < kWalkStep;
    if (rows->empty()) break;
    std::vector<stream_id> raws;
    for (const auto& n : *rows) raws.push_back(rule_.decode(n->id).raw);
    std::vector<std::optional<decoded_entry>> got;
    std::vector<bool> held;
    if (!redis_entries(via, i, raws, got, held)) return true;
    for (std::size_t k = 0; k < rows->size(); ++k) {
      const stream_id raw = raws[k];
      bool keep = false;
      if (held[k])
        keep = got[k] && same(*got[k], *(*rows)[k]);
      else if (raw <= *last)
        // Not reusable by Redis (below its last id) and trimmed or deleted there: the past.
        keep = (first && raw < *first) || (deleted && !deleted->is_zero() && raw <= *deleted);
      if (keep) {
        agreed = raw;
        break;
      }
      loss.lost.emplace_back((*rows)[k]->id, raw.str());
      lowest_lost = raw;
    }
    walked += rows->size();
    at = before(rows->back()->id);
    if (rows->back()->id.is_zero()) break;
  }
  if (!agreed && walked >= kWalkMax)
    link_.line("warning: " + key + ": compared " + std::to_string(walked) +
               " stored entries with Redis without finding one both hold; older ones are kept");
  stream_id rewind = agreed ? *agreed : lowest_lost ? before(*lowest_lost) : std::min(*last, c);
  loss.rewind_to = rewind;
  loss.after = rewind.is_zero() ? stream_id{} : rule_.encode(rewind, i).value_or(rewind);
  loss.through = *at_c;

  if (ctx_.gate) {
    // Delivered entries not yet committed are all above the rewind point: the batches that
    // hold them must not commit ahead of the finding, and the clients that have them get
    // the reset now, whether or not the store can record the loss yet (DESIGN §11).
    if (auto newest = withdraw(i, loss.after, loss.through, true); newest && loss.through < *newest)
      loss.through = *newest;
  }
  work_batch wb;
  wb.from = work_batch::origin::loss;
  wb.epoch = epoch_;
  wb.loss = std::move(loss);
  wb.account();
  if (!ctx_.queue.push(std::move(wb))) return true;
  // Read nothing more until the writer has rewound (it starts a new epoch either way).
  ctx_.queue.wait_epoch_past(epoch_, ctx_.stop, std::chrono::seconds(10));
  // The queue was emptied above: never read on from past what it held.
  if (ctx_.gate && ctx_.queue.epoch() == epoch_) resync();
  return true;
}

bool stream_reader::check_pending_loss(std::size_t i, const redisReply* info) {
  if (!ctx_.gate) return false;
  const std::uint64_t n = rule_.streams();
  auto top = ctx_.gate->pending_back(n, i, std::nullopt, 1);
  if (top.empty()) {
    probed_pending_[i].reset();
    return false;
  }
  // Judged on the master, as check_loss does: with --redis-read the entries came from a
  // replica, which holds only what the master gave it.
  redis_connection* via = prober();
  if (!via) return false;  // the master is unreachable: judged at the next check
  reply_ptr master_info;
  bool failed = false;
  info = judged_info(via, i, info, master_info, failed);
  if (!info) return failed;  // not asked now, or no such key on the master: judged later
  auto last = id_field(info, "last-generated-id");
  if (!last) return false;
  auto first = id_field(info, "first-entry");
  auto deleted = id_field(info, "max-deleted-entry-id");
  const std::string& key = ctx_.opt.streams[i];
  // Whether Redis holds each of `rows` as delivered (or trimmed/deleted it: both sides agree
  // it is in the past); false in `io` when Redis could not be asked.
  auto agree = [&](const notification_batch& rows, std::vector<bool>& out) {
    std::vector<stream_id> raws;
    for (const auto& r : rows) raws.push_back(rule_.decode(r->id).raw);
    std::vector<std::optional<decoded_entry>> got;
    std::vector<bool> held;
    if (!redis_entries(via, i, raws, got, held)) return false;
    out.assign(rows.size(), false);
    for (std::size_t k = 0; k < rows.size(); ++k) {
      if (held[k])
        out[k] = got[k] && same(*got[k], *rows[k]);
      else if (raws[k] <= *last)
        out[k] =
            (first && raws[k] < *first) || (deleted && !deleted->is_zero() && raws[k] <= *deleted);
    }
    return true;
  };
  std::vector<bool> ok;
  notification_batch probe{top[0]};
  if (probed_pending_[i] && *probed_pending_[i] < top[0]->id &&
      ctx_.gate->is_pending(*probed_pending_[i])) {
    auto p = ctx_.gate->pending_back(n, i, *probed_pending_[i], 1);
    if (!p.empty() && p[0]->id == *probed_pending_[i]) probe.push_back(p[0]);
  }
  if (!agree(probe, ok)) return true;
  std::optional<stream_id> from;  // the newest delivered entry Redis does not hold as delivered
  for (std::size_t k = 0; k < probe.size() && !from; ++k)
    if (!ok[k]) from = probe[k]->id;
  if (!from) {
    probed_pending_[i] = top[0]->id;
    return false;
  }
  probed_pending_[i].reset();
  // Walk back over the pending entries until one Redis holds as delivered.
  std::optional<stream_id> agreed;
  std::size_t lost = 0;
  std::optional<stream_id> at = from;
  while (!agreed) {
    auto rows = ctx_.gate->pending_back(n, i, at, kWalkStep);
    if (rows.empty()) break;
    if (!agree(rows, ok)) return true;
    for (std::size_t k = 0; k < rows.size() && !agreed; ++k) {
      if (ok[k])
        agreed = rows[k]->id;
      else
        ++lost;
    }
    if (rows.size() < kWalkStep) break;
    at = before(rows.back()->id);
  }
  // Nothing pending agrees: the committed offset did (check_loss), so delivery goes on there.
  stream_id after = agreed ? *agreed : stream_id{};
  if (!agreed)
    if (auto c = ctx_.board.committed(i))
      after = c->is_zero() ? stream_id{} : rule_.encode(*c, i).value_or(stream_id{});
  const stream_id through = top[0]->id;
  withdraw(i, after, through, true);
  ctx_.board.add_withdrawal(lost);
  std::string detail =
      key + ": the delivered entry " + rule_.decode(*from).raw.str() +
      (*last < rule_.decode(*from).raw ? " is above last-generated-id " + last->str()
                                       : std::string(" is gone or holds other content")) +
      " before this store committed it";
  link_.line("warning: Redis lost entries delivered before their commit (" + detail +
             "): " + std::to_string(lost) + " delivered entries after " + after.str() +
             " through " + through.str() +
             " withdrawn; clients that have them get the reset; re-reading from the committed "
             "offset");
  // The range is recorded like a lost one, so a cursor in it is expired after a restart too.
  store::redis_loss range;
  range.stream = key;
  range.kind = "withdrawn";
  range.after = after;
  range.through = through;
  range.detail = std::move(detail);
  work_batch wb;
  wb.from = work_batch::origin::loss;
  wb.epoch = epoch_;
  wb.loss = std::move(range);
  wb.account();
  ctx_.queue.push(std::move(wb));
  resync();
  return true;
}

}  // namespace cutover::ingest
