#include "ingest/stream_reader.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

namespace cutover::ingest {

const redisReply* map_field(const redisReply* map, std::string_view name) {
  if (!map || map->type != REDIS_REPLY_ARRAY) return nullptr;
  for (std::size_t i = 0; i + 1 < map->elements; i += 2)
    if (reply_text(map->element[i]) == name) return map->element[i + 1];
  return nullptr;
}

std::optional<stream_id> id_field(const redisReply* map, std::string_view name) {
  const redisReply* v = map_field(map, name);
  if (!v) return std::nullopt;
  if (v->type == REDIS_REPLY_ARRAY)
    v = v->elements ? v->element[0] : nullptr;  // first-entry: [id, fields]
  return v ? parse_stream_id(reply_text(v)) : std::nullopt;
}

namespace {

// Calls fn(index, entries) for each stream of an XREAD reply that is one of `streams`.
template <class Fn>
void for_each_stream(const redisReply* reply, const std::vector<std::string>& streams, Fn&& fn) {
  if (!reply || reply->type != REDIS_REPLY_ARRAY) return;
  for (std::size_t s = 0; s < reply->elements; ++s) {
    const redisReply* sr = reply->element[s];
    if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2) continue;
    auto it = std::find(streams.begin(), streams.end(), reply_text(sr->element[0]));
    if (it == streams.end() || sr->element[1]->type != REDIS_REPLY_ARRAY) continue;
    fn(static_cast<std::size_t>(it - streams.begin()), sr->element[1]);
  }
}

std::string first_word(std::string_view text) {
  return std::string(text.substr(0, std::min(text.find(' '), std::size_t{32})));
}

std::string seconds_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s"
                               : std::to_string(d.count()) + " ms";
}

}  // namespace

stream_reader::stream_reader(reader_context ctx, std::vector<std::optional<stream_id>> start)
    : ctx_(ctx),
      initial_(start),
      pos_(std::move(start)),
      warned_deleted_(pos_.size()),
      warned_trimmed_(pos_.size()),
      pace_(ctx.opt.backoff_base, ctx.opt.backoff_cap),
      commit_pace_(ctx.opt.backoff_base, ctx.opt.backoff_cap),
      link_(ctx.log, "stream"),
      master_link_(ctx.log, "stream (loss checks on the master)"),
      warned_missing_(ctx.opt.streams.size(), false),
      warned_behind_(ctx.opt.streams.size(), false),
      probed_(ctx.opt.streams.size()),
      started_from_(ctx.opt.streams.size(), false),
      probed_pending_(ctx.opt.streams.size()),
      gate_log_(ctx.log),
      rule_(ctx.opt.streams.size()),
      held_(ctx.opt.streams.size()),
      complete_(ctx.opt.streams.size(), 0) {
  argv_ = {"XREAD",
           "COUNT",
           std::to_string(ctx.opt.batch),
           "BLOCK",
           std::to_string(ctx.opt.block.count()),
           "STREAMS"};
  for (const auto& s : ctx.opt.streams) argv_.push_back(s);
  argv_.resize(argv_.size() + ctx.opt.streams.size());
  // The committed offsets are the first points to judge (DESIGN §3): if the check at connect
  // cannot be made (the store locked, the master unreachable), entries read meanwhile move the
  // offset on, and a later check still compares where this instance started.
  for (std::size_t i = 0; i < probed_.size(); ++i) {
    auto c = ctx_.board.committed(i);
    if (!c || c->is_zero()) continue;
    probed_[i] = c;
    started_from_[i] = true;
  }
}

void stream_reader::run() {
  epoch_ = ctx_.queue.epoch();
  ctx_.board.set_link(link_kind::stream, link_state::connecting);
  while (!ctx_.stop.requested()) {
    if (!conn_ && !connect()) continue;
    if (ctx_.queue.epoch() != epoch_) {
      resync();
      continue;
    }
    if (!resolve_ends()) continue;
    if (std::chrono::steady_clock::now() >= next_lag_) {
      measure_lag();
      if (!conn_) continue;
    }
    if (ctx_.opt.streams.size() > 1)
      read_several();
    else
      read_once();
  }
  conn_.reset();
}

std::string stream_reader::positions() const {
  std::string out;
  for (std::size_t i = 0; i < pos_.size(); ++i) {
    if (i) out += ", ";
    out += ctx_.opt.streams[i] +
           (pos_[i] ? " after " + pos_[i]->str() : std::string(" from its current end ($)"));
  }
  return out;
}

bool stream_reader::connect() {
  // A switch announced before this point is what this connect follows; one announced later
  // cuts the new connection's next wait, so none is missed.
  const redis_endpoint& from = ctx_.read_endpoint ? *ctx_.read_endpoint : ctx_.endpoint;
  // Reading a replica (--redis-read) is not moved by a switch of the master.
  const bool follows = ctx_.switches && !ctx_.read_endpoint;
  if (follows) ctx_.switches->take(switch_waiter::stream);
  auto c = redis_connection::connect(
      from, follows ? ctx_.settings_for(switch_waiter::stream) : ctx_.connection_settings());
  if (!c) {
    if (c.err().code == errc::stopped) return false;
    // State first, then the line: whoever sees the line sees the state too.
    ctx_.board.set_link(link_kind::stream, link_state::backing_off, c.err().message);
    link_.problem("down", c.err().message + "; retrying with backoff (at most every " +
                              seconds_text(ctx_.opt.backoff_cap) + ")");
    ctx_.stop.wait_for(pace_.next());
    return false;
  }
  conn_.emplace(std::move(*c));
  next_lag_ = {};  // check for a trim before the first read: a restart is when it shows
  std::string where = from.display();
  if (conn_->peer() != where) where += " (master " + conn_->peer() + ")";
  if (ctx_.read_endpoint) where += " (reading; the master is " + ctx_.endpoint.display() + ")";
  std::string what = std::string(ever_connected_ ? "reconnected to " : "connected to ") + where +
                     "; " + (ever_connected_ ? "resuming " : "reading ") + positions();
  if (ever_connected_) ctx_.board.add_reconnect();
  ctx_.board.set_link(link_kind::stream, link_state::connected);
  if (link_.failing())
    link_.recovered(what);
  else
    link_.line(what);
  ever_connected_ = true;
  return true;
}

void stream_reader::on_connection_error(const error& e) {
  conn_.reset();
  if (e.code == errc::stopped || ctx_.stop.requested()) return;
  if (e.code == errc::switched) {
    // Not a failure: follow the new master now, without backoff (DESIGN §3).
    ctx_.board.set_link(link_kind::stream, link_state::connecting);
    link_.line(e.message + "; resolving the master again, then resuming " + positions());
    return;
  }
  ctx_.board.set_link(link_kind::stream, link_state::backing_off, e.message);
  ctx_.board.set_lag(-1);
  link_.problem("down", e.message + "; reconnecting with backoff, then resuming " + positions());
  ctx_.stop.wait_for(pace_.next());
}

void stream_reader::on_error_reply(const std::string& what, std::string_view text) {
  std::string message = what + " failed: " + std::string(text);
  if (text.starts_with("WRONGTYPE") && conn_) {
    // Name the culprit: an operator sees which key to fix.
    for (const auto& key : ctx_.opt.streams) {
      auto t = conn_->command({"TYPE", key});
      if (!t) break;
      auto type = reply_text(t->get());
      if (type != "stream" && type != "none")
        message += " (key '" + key + "' holds a " + std::string(type) + ", not a stream)";
    }
  }
  if (conn_ && conn_->broken()) {
    on_connection_error(error{conn_->last_error(), errc::connection});
    return;
  }
  ctx_.board.set_link(link_kind::stream, link_state::backing_off, message);
  link_.problem("reply:" + first_word(text), message + "; retrying with backoff");
  ctx_.stop.wait_for(pace_.next());
}

void stream_reader::on_read_ok() {
  pace_.reset();
  if (link_.failing()) {
    ctx_.board.set_link(link_kind::stream, link_state::connected);
    link_.recovered("stream reads recovered; reading " + positions());
  }
}

void stream_reader::resync() {
  epoch_ = ctx_.queue.epoch();
  // Everything read after the last committed batch was dropped: read it again from there.
  auto committed = ctx_.board.committed_all();
  for (std::size_t i = 0; i < pos_.size(); ++i) pos_[i] = committed[i] ? committed[i] : initial_[i];
  clear_held();
  if (ctx_.board.consecutive_commit_failures() <= 1) commit_pace_.reset();
  ctx_.stop.wait_for(commit_pace_.next());
}

bool stream_reader::resolve_ends() {
  for (std::size_t i = 0; i < pos_.size(); ++i) {
    if (pos_[i]) continue;
    const std::string& key = ctx_.opt.streams[i];
    auto r = conn_->command({"XINFO", "STREAM", key});
    if (!r) {
      on_connection_error(r.err());
      return false;
    }
    stream_id end{};
    if (is_error_reply(r->get())) {
      auto text = reply_text(r->get());
      // No stream yet: its end is 0-0, every entry it will get is "from now on".
      if (text.find("no such key") == std::string_view::npos) {
        on_error_reply("XINFO STREAM " + key, text);
        return false;
      }
    } else {
      auto last = id_field(r->get(), "last-generated-id");
      if (!last) {
        on_error_reply("XINFO STREAM " + key, "reply has no last-generated-id");
        return false;
      }
      end = *last;
    }
    // Committed at once, so a restart resumes exactly here and not at a later "$".
    work_batch wb;
    wb.epoch = epoch_;
    wb.batch.offsets.push_back({key, end});
    wb.account();
    if (!ctx_.queue.push(std::move(wb))) return false;
    pos_[i] = end;
    link_.line(key + ": stream_start $ is " + end.str() + "; storing entries added after it");
  }
  return true;
}

void stream_reader::measure_lag() {
  next_lag_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  std::int64_t lag = 0;
  for (std::size_t i = 0; i < pos_.size(); ++i) {
    const std::string& key = ctx_.opt.streams[i];
    auto r = conn_->command({"XINFO", "STREAM", key});
    if (!r) {
      on_connection_error(r.err());
      return;
    }
    if (is_error_reply(r->get())) {
      // No such key: a stream deleted, or a Redis restarted without persistence. Nothing to
      // compare yet; the entries it gets next are judged against the offset (DESIGN §3).
      auto c = ctx_.board.committed(i);
      if (c && !c->is_zero() && !warned_missing_[i] &&
          reply_text(r->get()).find("no such key") != std::string_view::npos) {
        link_.line("warning: " + key + " no longer exists in Redis (this store committed up to " +
                   c->str() +
                   "): deleted, or Redis restarted without persistence; stored entries stay, "
                   "and what the stream holds when it is back is compared with them");
        warned_missing_[i] = true;
      }
      continue;  // no stream yet (lag 0), or a wrong type XREAD reports
    }
    warned_missing_[i] = false;
    if (check_loss(i, r->get())) return;
    if (check_pending_loss(i, r->get())) return;
    auto newest = id_field(r->get(), "last-generated-id");
    if (!newest) continue;
    auto committed = ctx_.board.committed(i);
    auto first = id_field(r->get(), "first-entry");
    stream_id base = committed ? *committed : first ? *first : *newest;
    if (*newest > base) lag = std::max(lag, static_cast<std::int64_t>(newest->ms - base.ms));

    // Redis 7 tells the newest id it ever deleted (XDEL, MAXLEN): past our read position
    // means entries were lost before this store read them. Said once per episode.
    auto deleted = id_field(r->get(), "max-deleted-entry-id");
    bool losing = deleted && pos_[i] && !pos_[i]->is_zero() && *deleted > *pos_[i];
    if (losing && !warned_deleted_[i]) {
      link_.line("warning: " + key + ": entries up to " + deleted->str() +
                 " were trimmed or deleted in Redis before this store read them (read position " +
                 pos_[i]->str() + "); they are lost here: raise MAXLEN or reduce the ingest lag");
    }
    warned_deleted_[i] = losing ? deleted : std::nullopt;

    // A trim (XTRIM, MAXLEN ~) does not move max-deleted-entry-id (Redis 7.0): it shows only
    // as a first entry newer than the read position. Counted and logged once per gap; the
    // reset to clients belongs to the loss detection of DESIGN §3. (A trim that removed
    // exactly up to the read position looks the same; it is counted too.)
    bool trimmed = first && pos_[i] && !pos_[i]->is_zero() && *first > pos_[i]->next();
    if (trimmed && warned_trimmed_[i] != first) {
      ctx_.board.add_trimmed_gap();
      link_.line("warning: " + key + ": entries after " + pos_[i]->str() + " and before " +
                 first->str() +
                 " were trimmed in Redis (XTRIM or MAXLEN) before this store read them; they "
                 "are lost here: raise MAXLEN or reduce the ingest lag");
      warned_trimmed_[i] = first;
      // Recorded like a retention mark (DESIGN §3): a cursor inside the gap is expired.
      work_batch wb;
      wb.from = work_batch::origin::loss;
      wb.epoch = epoch_;
      store::redis_loss gap;
      gap.stream = key;
      gap.kind = "trimmed";
      gap.after = rule_.encode(*pos_[i], i).value_or(*pos_[i]);
      auto end = rule_.encode(*first, i).value_or(*first);
      gap.through = end.seq > 0 ? stream_id{end.ms, end.seq - 1}
                                : stream_id{end.ms - 1, stream_id::kSeqTail - 1};
      gap.detail =
          key + ": trimmed in Redis before this store read it (first-entry " + first->str() + ")";
      wb.loss = std::move(gap);
      wb.account();
      ctx_.queue.push(std::move(wb));
    }
  }
  ctx_.board.set_lag(lag);
}

reply_ptr stream_reader::send_argv(const std::string& what) {
  std::vector<std::string_view> views(argv_.begin(), argv_.end());
  auto r = conn_->command(views);
  if (!r) {
    on_connection_error(r.err());
    return nullptr;
  }
  if (is_error_reply(r->get())) {
    on_error_reply(what, reply_text(r->get()));
    return nullptr;
  }
  return std::move(*r);
}

void stream_reader::read_once() {
  const std::size_t n = ctx_.opt.streams.size();
  for (std::size_t i = 0; i < n; ++i) argv_[6 + n + i] = pos_[i]->str();
  auto r = send_argv("XREAD");
  if (!r) return;
  const redisReply* reply = r.get();
  on_read_ok();
  if (is_nil_reply(reply)) return;  // BLOCK timed out: nothing new
  work_batch wb;
  wb.epoch = epoch_;
  parse(reply, wb);
  if (wb.batch.offsets.empty()) return;
  pass_gate(wb);
  wb.account();
  ctx_.queue.push(std::move(wb));  // false: a commit failed meanwhile; the loop re-syncs
}

bool stream_reader::decode_one(const redisReply* er, std::size_t idx, held_item& out) {
  if (er->type != REDIS_REPLY_ARRAY || er->elements != 2) return false;
  auto id_text = reply_text(er->element[0]);
  auto id = parse_stream_id(id_text);
  if (!id) return false;  // Redis never sends one; without an id there is no offset to move past
  out.raw = *id;
  out.entry.reset();
  out.dead.reset();
  const std::string_view source = ctx_.opt.streams[idx];  // lives as long as the ingest
  const redisReply* fr = er->element[1];
  std::size_t pairs = fr->type == REDIS_REPLY_ARRAY ? fr->elements / 2 : 0;
  fields_.resize(pairs);
  for (std::size_t f = 0; f < pairs; ++f) {
    auto name = reply_text(fr->element[2 * f]);
    auto value = reply_text(fr->element[2 * f + 1]);
    fields_[f].first.assign(name.data(), name.size());
    fields_[f].second.assign(value.data(), value.size());
  }
  auto dead = [&](std::string reason) {
    out.dead = store::dead_letter{std::string(source), std::string(id_text),
                                  raw_fields_json(fields_), std::move(reason)};
    return true;
  };
  auto stored = rule_.encode(*id, idx);
  if (!stored) {
    if (rule_.streams() == 1)
      return dead("id " + id->str() +
                  " cannot be stored: its time or its sequence is beyond 64-bit legacyIds");
    return dead("id " + id->str() + " cannot be stored: its time or its sequence times " +
                std::to_string(rule_.streams()) +
                " streams (DESIGN §11, the id rule of several streams) is beyond 64-bit legacyIds");
  }
  if (pairs == 0) return dead("entry has no fields");
  auto d = decode_stream_fields(fields_, ctx_.opt.limits);
  if (!d.entry) return dead(std::move(d.reason));
  out.entry = store::pending_entry{*stored, std::move(*d.entry), source, nullptr};
  return true;
}

void stream_reader::parse(const redisReply* reply, work_batch& out) {
  auto& b = out.batch;
  held_item item;
  for_each_stream(reply, ctx_.opt.streams, [&](std::size_t idx, const redisReply* entries) {
    const std::string& key = ctx_.opt.streams[idx];
    std::optional<stream_id> last;
    b.entries.reserve(b.entries.size() + entries->elements);
    for (std::size_t e = 0; e < entries->elements; ++e) {
      if (!decode_one(entries->element[e], idx, item)) continue;
      last = item.raw;
      if (item.entry)
        b.entries.push_back(std::move(*item.entry));
      else
        b.dead.push_back(std::move(*item.dead));
    }
    if (last) {
      b.offsets.push_back({key, *last});
      pos_[idx] = last;
    }
  });
}

// ---- several streams ---------------------------------------------------------

namespace {

// TIME and a non-blocking XREAD in one atomic step: Redis's clock at the instant the read
// saw every stream, so a stream read to its end is known complete below that millisecond
// (an XADD with an automatic id after it gets at least that time).
constexpr std::string_view kTimedRead =
    "local t = redis.call('TIME') "
    "local a = {'XREAD', 'COUNT', ARGV[1], 'STREAMS'} "
    "for i = 1, #KEYS do a[#a + 1] = KEYS[i] end "
    "for i = 2, #ARGV do a[#a + 1] = ARGV[i] end "
    "return {t, redis.call(unpack(a))}";

}  // namespace

void stream_reader::clear_held() {
  for (auto& h : held_) h.clear();
  std::fill(complete_.begin(), complete_.end(), 0);
  held_count_ = 0;
  caught_up_ = false;
}

void stream_reader::read_several() {
  const std::size_t n = ctx_.opt.streams.size();
  // A stream far ahead of the others would fill memory while they catch up: it is left out
  // of the read until its held entries drain (its completeness stays what it was). The
  // streams that hold the watermark back are always read: only they can move it.
  const std::uint64_t low = *std::min_element(complete_.begin(), complete_.end());
  std::vector<std::size_t> in;
  for (std::size_t i = 0; i < n; ++i)
    if (held_[i].size() < ctx_.opt.batch || complete_[i] == low) in.push_back(i);
  std::optional<std::uint64_t> held_min;
  for (const auto& h : held_)
    if (!h.empty()) held_min = std::min(held_min.value_or(UINT64_MAX), h.front().raw.ms);

  bool timed = !caught_up_ || in.size() < n;
  std::chrono::milliseconds block = ctx_.opt.block;
  if (!timed && held_min) {
    // Everything is read; held entries wait only for the clock to pass their millisecond.
    std::uint64_t ahead = *held_min >= redis_ms_ ? *held_min - redis_ms_ + 1 : 1;
    if (ahead <= 2) {
      ctx_.stop.wait_for(std::chrono::milliseconds(1));
      timed = true;
    } else {
      block = std::min(block, std::chrono::milliseconds(static_cast<std::int64_t>(ahead)));
    }
  }
  argv_.clear();
  if (timed) {
    argv_ = {"EVAL", std::string(kTimedRead), std::to_string(in.size())};
    for (auto i : in) argv_.push_back(ctx_.opt.streams[i]);
    argv_.push_back(std::to_string(ctx_.opt.batch));
    for (auto i : in) argv_.push_back(pos_[i]->str());
  } else {
    argv_ = {
        "XREAD",  "COUNT", std::to_string(ctx_.opt.batch), "BLOCK", std::to_string(block.count()),
        "STREAMS"};
    for (auto i : in) argv_.push_back(ctx_.opt.streams[i]);
    for (auto i : in) argv_.push_back(pos_[i]->str());
  }
  auto r = send_argv(timed ? "XREAD (with TIME, in a script)" : "XREAD");
  if (!r) return;
  const redisReply* reply = r.get();
  on_read_ok();
  if (timed) {
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2) {
      on_error_reply("XREAD (with TIME, in a script)", "unexpected reply shape");
      return;
    }
    auto number = [](std::string_view t) {
      std::uint64_t v = 0;
      std::from_chars(t.data(), t.data() + t.size(), v);
      return v;
    };
    const std::uint64_t redis_ms = number(reply_text(reply->element[0]->element[0])) * 1000 +
                                   number(reply_text(reply->element[0]->element[1])) / 1000;
    const redisReply* streams = reply->elements > 1 ? reply->element[1] : nullptr;
    std::vector<std::size_t> got(n, 0);  // entries returned per stream
    if (streams) {
      for_each_stream(streams, ctx_.opt.streams, [&](std::size_t i, const redisReply* entries) {
        got[i] = entries->elements;
      });
      apply_read(streams);
    }
    // Streams that returned fewer than COUNT entries are at their end: complete below
    // Redis's clock (or below their own newest id, when it is ahead of that clock).
    bool all = in.size() == n;
    for (auto i : in) {
      if (got[i] < ctx_.opt.batch) {
        complete_[i] = std::max({complete_[i], redis_ms, pos_[i]->ms});
      } else {
        complete_[i] = std::max(complete_[i], pos_[i]->ms);
        all = false;
      }
    }
    redis_ms_ = std::max(redis_ms_, redis_ms);
    caught_up_ = all;
  } else {
    if (!is_nil_reply(reply)) {
      apply_read(reply);
      caught_up_ = false;  // the next read tells how far they are complete
    }
  }
  release();
}

void stream_reader::apply_read(const redisReply* reply) {
  for_each_stream(reply, ctx_.opt.streams, [&](std::size_t idx, const redisReply* entries) {
    for (std::size_t e = 0; e < entries->elements; ++e) {
      held_item item;
      if (!decode_one(entries->element[e], idx, item)) continue;
      pos_[idx] = item.raw;
      held_[idx].push_back(std::move(item));
      ++held_count_;
    }
  });
}

void stream_reader::release() {
  if (held_count_ == 0) return;
  const std::size_t n = held_.size();
  const std::uint64_t watermark = *std::min_element(complete_.begin(), complete_.end());
  // An id further ahead of Redis's clock than --max-clock-skew would hold every stream back
  // until the clock reaches it: it leaves at once instead (stored, counted, DESIGN §2).
  const auto skew =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, ctx_.opt.max_clock_skew.count()));
  const std::uint64_t far = redis_ms_ ? redis_ms_ + skew : UINT64_MAX;
  auto releasable = [&](const held_item& h) {
    return h.raw.ms < watermark || (h.raw.ms > far && far != UINT64_MAX);
  };
  work_batch wb;
  wb.epoch = epoch_;
  std::vector<std::optional<stream_id>> last(n);
  while (true) {
    std::size_t best = n;
    for (std::size_t i = 0; i < n; ++i) {
      if (held_[i].empty() || !releasable(held_[i].front())) continue;
      const auto& a = held_[i].front().raw;
      if (best == n) {
        best = i;
        continue;
      }
      const auto& b = held_[best].front().raw;
      if (a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq)) best = i;  // ties: lower index first
    }
    if (best == n) break;
    held_item& h = held_[best].front();
    if (h.entry && last_released_ && h.entry->id < *last_released_) {
      // Only an explicit id below Redis's clock, added after the other streams were read
      // past it, gets here: stored and delivered, but behind cursors already past it.
      auto now = std::chrono::steady_clock::now();
      if (now >= next_late_log_) {
        link_.line("warning: " + ctx_.opt.streams[best] + ": entry " + h.raw.str() +
                   " came after the other streams were read past its millisecond (an explicit "
                   "id below Redis's clock); stored as " +
                   h.entry->id.str() + ", behind entries already delivered");
        next_late_log_ = now + std::chrono::seconds(1);
      }
    }
    if (h.entry) last_released_ = std::max(last_released_.value_or(h.entry->id), h.entry->id);
    if (h.entry)
      wb.batch.entries.push_back(std::move(*h.entry));
    else
      wb.batch.dead.push_back(std::move(*h.dead));
    last[best] = h.raw;
    held_[best].pop_front();
    --held_count_;
  }
  for (std::size_t i = 0; i < n; ++i)
    if (last[i]) wb.batch.offsets.push_back({ctx_.opt.streams[i], *last[i]});
  if (wb.batch.offsets.empty()) return;
  pass_gate(wb);
  wb.account();
  ctx_.queue.push(std::move(wb));  // false: a commit failed meanwhile; the loop re-syncs
}

// ---- delivery before the commit (DESIGN §11) -----------------------------------

void stream_reader::pass_gate(work_batch& wb) {
  if (!ctx_.gate || wb.batch.entries.empty()) return;
  using verdict = delivery_gate::verdict;
  notification_batch early;
  early.reserve(wb.batch.entries.size());
  std::vector<store::pending_entry> kept;
  kept.reserve(wb.batch.entries.size());
  for (auto& p : wb.batch.entries) {
    auto d = ctx_.gate->admit(p);
    if (d.what == verdict::changed) {
      // Re-read after a failed commit, and Redis now holds other content at an id that was
      // delivered: a loss by Redis of delivered entries. Withdrawn from this id on, then
      // decided again.
      const std::size_t i = rule_.decode(p.id).index;
      const stream_id before = p.id.seq > 0 ? stream_id{p.id.ms, p.id.seq - 1}
                                            : stream_id{p.id.ms - 1, stream_id::kSeqTail - 1};
      gate_log_.line("warning: " + ctx_.opt.streams[i] + ": Redis now holds other content at " +
                     p.id.str() +
                     ", delivered before its commit; clients that have it get the reset");
      withdraw(i, before, p.id, false);
      d = ctx_.gate->admit(p);
    }
    switch (d.what) {
      case verdict::deliver:
        early.push_back(d.entry);
        p.shared = std::move(d.entry);  // the writer hands this one to the hub at its commit
        kept.push_back(std::move(p));
        break;
      case verdict::undecided:
        gate_log_.line("warning: the delivery gate could not read the store (" + d.why +
                       "); entry " + p.id.str() + " is delivered after its commit");
        p.shared = std::move(d.entry);
        kept.push_back(std::move(p));
        break;
      case verdict::recommit:
        p.shared = std::move(d.entry);  // the pending one: same content, already delivered
        kept.push_back(std::move(p));
        break;
      case verdict::changed:
        kept.push_back(std::move(p));
        break;
      case verdict::duplicate_id:
        ++wb.batch.skipped_duplicate_ids;
        break;
      case verdict::duplicate_key:
        ++wb.batch.skipped_duplicate_keys;
        break;
      case verdict::collision:
        wb.batch.dead.push_back(store::collision_dead_letter(p));
        break;
    }
  }
  wb.batch.entries = std::move(kept);
  if (early.empty()) return;
  for (const auto& n : early) wb.delivered_bytes += n->footprint();
  ctx_.listener->on_delivered(early);
}

std::optional<stream_id> stream_reader::withdraw(std::size_t i, stream_id after, stream_id through,
                                                 bool drop_queued) {
  if (!ctx_.gate) return std::nullopt;
  auto held = ctx_.queue.hold_commits();
  if (drop_queued) {
    ctx_.queue.invalidate_streams();
    epoch_ = ctx_.queue.epoch();
  }
  auto newest = ctx_.gate->forget_after(after, rule_.streams(), i);
  if (!newest) return std::nullopt;
  ctx_.listener->on_withdrawn(after, std::max(through, *newest), rule_.streams(), i);
  return newest;
}

}  // namespace cutover::ingest
