#include "ingest/stream_reader.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace cutover::ingest {
namespace {

// Value of `name` in a RESP2 map reply (a flat array of name, value, ...).
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
      link_(ctx.log, "stream") {
  argv_ = {"XREAD",
           "COUNT",
           std::to_string(ctx.opt.batch),
           "BLOCK",
           std::to_string(ctx.opt.block.count()),
           "STREAMS"};
  for (const auto& s : ctx.opt.streams) argv_.push_back(s);
  argv_.resize(argv_.size() + ctx.opt.streams.size());
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
  auto c = redis_connection::connect(ctx_.endpoint, ctx_.connection_settings());
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
  std::string what = std::string(ever_connected_ ? "reconnected to " : "connected to ") +
                     ctx_.endpoint.display() + "; " + (ever_connected_ ? "resuming " : "reading ") +
                     positions();
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
    if (is_error_reply(r->get())) continue;  // no stream yet (lag 0), or a wrong type XREAD reports
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
    }
  }
  ctx_.board.set_lag(lag);
}

void stream_reader::read_once() {
  const std::size_t n = ctx_.opt.streams.size();
  for (std::size_t i = 0; i < n; ++i) argv_[6 + n + i] = pos_[i]->str();
  std::vector<std::string_view> views(argv_.begin(), argv_.end());
  auto r = conn_->command(views);
  if (!r) {
    on_connection_error(r.err());
    return;
  }
  const redisReply* reply = r->get();
  if (is_error_reply(reply)) {
    on_error_reply("XREAD", reply_text(reply));
    return;
  }
  on_read_ok();
  if (is_nil_reply(reply)) return;  // BLOCK timed out: nothing new
  work_batch wb;
  wb.epoch = epoch_;
  parse(reply, wb);
  if (wb.batch.offsets.empty()) return;
  wb.account();
  ctx_.queue.push(std::move(wb));  // false: a commit failed meanwhile; the loop re-syncs
}

void stream_reader::parse(const redisReply* reply, work_batch& out) {
  auto& b = out.batch;
  if (reply->type != REDIS_REPLY_ARRAY) return;
  for (std::size_t s = 0; s < reply->elements; ++s) {
    const redisReply* sr = reply->element[s];
    if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2) continue;
    auto key = reply_text(sr->element[0]);
    auto it = std::find(ctx_.opt.streams.begin(), ctx_.opt.streams.end(), key);
    if (it == ctx_.opt.streams.end()) continue;
    const std::size_t idx = static_cast<std::size_t>(it - ctx_.opt.streams.begin());
    const std::string_view source = *it;  // lives as long as the ingest
    const redisReply* entries = sr->element[1];
    if (entries->type != REDIS_REPLY_ARRAY) continue;
    std::optional<stream_id> last;
    b.entries.reserve(b.entries.size() + entries->elements);
    for (std::size_t e = 0; e < entries->elements; ++e) {
      const redisReply* er = entries->element[e];
      if (er->type != REDIS_REPLY_ARRAY || er->elements != 2) continue;
      auto id_text = reply_text(er->element[0]);
      auto id = parse_stream_id(id_text);
      if (!id) continue;  // Redis never sends one; without an id there is no offset to move past
      last = *id;
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
        b.dead.push_back(
            {std::string(key), std::string(id_text), raw_fields_json(fields_), std::move(reason)});
      };
      if (!id->fits_store()) {
        dead("id " + id->str() +
             " cannot be stored: its time or its sequence is beyond 64-bit legacyIds");
        continue;
      }
      if (pairs == 0) {
        dead("entry has no fields");
        continue;
      }
      auto d = decode_stream_fields(fields_, ctx_.opt.limits);
      if (!d.entry) {
        dead(std::move(d.reason));
        continue;
      }
      b.entries.push_back(store::pending_entry{*id, std::move(*d.entry), source});
    }
    if (last) {
      b.offsets.push_back({std::string(key), *last});
      pos_[idx] = last;
    }
  }
  // One stream is already in order; several interleave, and the store wants id order.
  if (b.offsets.size() > 1)
    std::stable_sort(
        b.entries.begin(), b.entries.end(),
        [](const store::pending_entry& x, const store::pending_entry& y) { return x.id < y.id; });
}

}  // namespace cutover::ingest
