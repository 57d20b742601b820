#include "ingest/pubsub_reader.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <random>

#include "ingest/publish.hpp"

namespace cutover::ingest {
namespace {

using clock = std::chrono::steady_clock;

// XADD only while this instance holds the lock. KEYS: lock, stream; ARGV: token, then the
// XADD arguments after the key (MAXLEN ~ n, *, fields).
constexpr std::string_view kBridgeScript =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then "
    "return redis.error_reply('NOTBRIDGE this instance no longer holds the pub/sub bridge lock') "
    "end "
    "return redis.call('XADD', KEYS[2], unpack(ARGV, 2))";

// Takes the lock when nobody holds it, or keeps it when this instance still does (after a
// reconnect): 1 held, 0 another instance holds it.
constexpr std::string_view kAcquireScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end "
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
    "return 0";

// Extends the lock only for its holder: 1 renewed, 0 someone else holds it (or nobody).
constexpr std::string_view kRenewScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "end return 0";

std::string make_token() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  std::random_device rd;
  std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r));
  return std::string(host) + " pid " + std::to_string(::getpid()) + " " + hex;
}

std::vector<std::string_view> views(const std::vector<std::string>& argv) {
  return std::vector<std::string_view>(argv.begin(), argv.end());
}

}  // namespace

std::string pubsub_bridge_key(const std::string& stream) {
  return "cutover:pubsub-bridge:" + stream;
}

pubsub_reader::pubsub_reader(reader_context ctx)
    : ctx_(ctx),
      stream_(ctx.opt.streams.front()),
      lock_key_(pubsub_bridge_key(stream_)),
      token_(make_token()),
      pace_(ctx.opt.backoff_base, ctx.opt.backoff_cap),
      link_(ctx.log, "pub/sub") {}

bool pubsub_reader::connect_command() {
  // A switch announced before this point is what this connect follows (see stream_reader).
  if (ctx_.switches) ctx_.switches->take(switch_waiter::bridge);
  auto c = redis_connection::connect(ctx_.endpoint, ctx_.settings_for(switch_waiter::bridge));
  if (!c) {
    if (c.err().code == errc::stopped) return false;
    ctx_.board.set_link(link_kind::pubsub, link_state::backing_off, c.err().message);
    link_.problem("down", c.err().message +
                              "; retrying with backoff (messages published meanwhile are lost "
                              "unless another instance bridges them)");
    ctx_.stop.wait_for(pace_.next());
    return false;
  }
  cmd_.emplace(std::move(*c));
  return true;
}

void pubsub_reader::step_down(const std::string& why) {
  if (holder_) link_.line("no longer the pub/sub bridge: " + why);
  holder_ = false;
  subscribed_ = false;
  sub_.reset();
  ctx_.board.set_bridge_active(false);
}

void pubsub_reader::lost(const error& e) {
  cmd_.reset();
  step_down(e.message);
  if (e.code == errc::stopped || ctx_.stop.requested()) return;
  if (e.code == errc::switched) {
    // Not a failure: take the lock and subscribe on the new master now (DESIGN §3).
    ctx_.board.set_link(link_kind::pubsub, link_state::connecting);
    link_.line(e.message + "; bridging from the new master");
    return;
  }
  ctx_.board.set_link(link_kind::pubsub, link_state::backing_off, e.message);
  link_.problem("down", e.message +
                            "; reconnecting with backoff (messages published meanwhile "
                            "are lost unless another instance bridges them)");
  ctx_.stop.wait_for(pace_.next());
}

bool pubsub_reader::try_acquire() {
  const auto ttl = std::to_string(ctx_.opt.pubsub_lock_ttl.count());
  auto r = cmd_->command({"EVAL", kAcquireScript, "1", lock_key_, token_, ttl});
  if (!r) {
    lost(r.err());
    return false;
  }
  if (is_error_reply(r->get())) {
    lost(error{"taking " + lock_key_ + " failed: " + std::string(reply_text(r->get())),
               errc::redis_reply});
    return false;
  }
  pace_.reset();
  if (link_.failing())
    link_.recovered("connected to " + ctx_.endpoint.display() + " for the pub/sub bridge lock");
  ctx_.board.set_link(link_kind::pubsub, link_state::connected);
  if (r->get()->type != REDIS_REPLY_INTEGER || r->get()->integer != 1)
    return false;  // another instance is the bridge
  holder_ = true;
  next_renew_ = clock::now() + ctx_.opt.pubsub_lock_ttl / 3;
  return true;
}

bool pubsub_reader::renew() {
  const auto ttl = std::to_string(ctx_.opt.pubsub_lock_ttl.count());
  auto r = cmd_->command({"EVAL", kRenewScript, "1", lock_key_, token_, ttl});
  if (!r) {
    lost(r.err());
    return false;
  }
  if (is_error_reply(r->get())) {
    lost(error{"renewing " + lock_key_ + " failed: " + std::string(reply_text(r->get())),
               errc::redis_reply});
    return false;
  }
  if (r->get()->type != REDIS_REPLY_INTEGER || r->get()->integer != 1) {
    step_down("the lock " + lock_key_ + " expired and another instance may hold it");
    return false;
  }
  next_renew_ = clock::now() + ctx_.opt.pubsub_lock_ttl / 3;
  return true;
}

bool pubsub_reader::subscribe() {
  auto c = redis_connection::connect(ctx_.endpoint, ctx_.settings_for(switch_waiter::bridge));
  if (c) {
    c->append(std::initializer_list<std::string_view>{"PSUBSCRIBE", kPubsubPattern});
    if (auto f = c->flush(); !f) c = f.err();
  }
  if (!c) {
    lost(c.err());
    return false;
  }
  sub_.emplace(std::move(*c));
  // Confirmed when Redis answers the PSUBSCRIBE; only then is the bridge active.
  auto r = sub_->receive(sub_->read_timeout());
  if (!r || !*r || is_error_reply(r->get())) {
    lost(r ? error{"PSUBSCRIBE failed: " + std::string(*r ? reply_text(r->get()) : "no answer"),
                   errc::redis_reply}
           : r.err());
    return false;
  }
  subscribed_ = true;
  ctx_.board.set_bridge_active(true);
  link_.line("this instance is the pub/sub bridge: subscribed to " + std::string(kPubsubPattern) +
             " on " + ctx_.endpoint.display() + ", copying each message into " + stream_ +
             " (lock " + lock_key_ + ")");
  return true;
}

void pubsub_reader::handle_message(const redisReply* reply,
                                   std::vector<std::vector<std::string>>& calls, work_batch& out) {
  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) return;
  if (reply_text(reply->element[0]) != "pmessage") return;
  auto channel = reply_text(reply->element[2]);
  auto message = reply_text(reply->element[3]);
  ctx_.board.add_pubsub_messages(1);
  std::string_view topic =
      channel.starts_with(kPubsubPrefix) ? channel.substr(kPubsubPrefix.size()) : channel;
  auto d = decode_pubsub_message(topic, message, ctx_.opt.limits);
  std::optional<std::vector<std::string>> argv;
  std::string reason;
  if (d.entry) {
    auto a = xadd_arguments(stream_, *d.entry, ctx_.opt.pubsub_maxlen, {}, ctx_.opt.limits);
    if (a)
      argv = std::move(*a);
    else
      reason = a.err().message;
  } else {
    reason = std::move(d.reason);
  }
  if (!argv) {
    // Only the bridge sees the message: it keeps the dead letter (it has no stream id).
    field_list raw{{"channel", std::string(channel)}, {"message", std::string(message)}};
    out.batch.dead.push_back(
        {std::string(channel), std::string(), raw_fields_json(raw), std::move(reason)});
    return;
  }
  std::vector<std::string> call = {"EVAL", std::string(kBridgeScript), "2", lock_key_, stream_,
                                   token_};
  call.insert(call.end(), std::make_move_iterator(argv->begin() + 2),
              std::make_move_iterator(argv->end()));
  calls.push_back(std::move(call));
}

bool pubsub_reader::bridge(std::vector<redisReply*> messages) {
  std::vector<std::vector<std::string>> calls;
  work_batch dead;
  dead.from = work_batch::origin::pubsub;
  for (auto* m : messages) handle_message(m, calls, dead);
  if (!dead.batch.dead.empty()) {
    dead.account();
    ctx_.queue.push(std::move(dead));
  }
  if (calls.empty()) return true;
  // One round trip for everything received at once, in the order it was published.
  for (const auto& c : calls) {
    auto v = views(c);
    cmd_->append(v);
  }
  if (auto f = cmd_->flush(); !f) {
    ctx_.board.add_pubsub_refused(calls.size());
    lost(f.err());
    return false;
  }
  std::uint64_t added = 0, refused = 0;
  std::string refusal;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    auto r = cmd_->receive(cmd_->read_timeout(), false, false);
    if (!r) {
      ctx_.board.add_pubsub_bridged(added);
      ctx_.board.add_pubsub_refused(refused + (calls.size() - i));
      lost(r.err());
      return false;
    }
    if (is_error_reply(r->get())) {
      ++refused;
      if (refusal.empty()) refusal = std::string(reply_text(r->get()));
    } else {
      ++added;
    }
  }
  ctx_.board.add_pubsub_bridged(added);
  if (refused > 0) {
    ctx_.board.add_pubsub_refused(refused);
    link_.line("warning: " + std::to_string(refused) + " pub/sub messages not copied into " +
               stream_ + ": " + refusal);
    if (refusal.starts_with("NOTBRIDGE")) step_down("the lock is held by another instance");
  }
  return true;
}

void pubsub_reader::run() {
  ctx_.board.set_link(link_kind::pubsub, link_state::connecting);
  while (!ctx_.stop.requested()) {
    if (!cmd_ && !connect_command()) continue;
    if (!holder_) {
      if (!try_acquire()) {
        if (cmd_) ctx_.stop.wait_for(ctx_.opt.pubsub_lock_ttl / 3);  // standby: retry
        continue;
      }
    }
    if (!subscribed_ && !subscribe()) continue;
    if (clock::now() >= next_renew_ && !renew()) continue;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_renew_ - clock::now());
    auto r = sub_->receive(std::max(wait, std::chrono::milliseconds(1)), true);
    if (!r) {
      lost(r.err());
      continue;
    }
    if (!*r) continue;  // time to renew
    // Take what is already buffered or readable without waiting, as one round trip.
    std::vector<reply_ptr> got;
    got.push_back(std::move(*r));
    std::optional<error> failed;
    while (got.size() < ctx_.opt.batch) {
      auto more = sub_->receive(std::chrono::milliseconds(0), true);
      if (!more) {
        failed = more.err();
        break;
      }
      if (!*more) break;
      got.push_back(std::move(*more));
    }
    std::vector<redisReply*> raw;
    raw.reserve(got.size());
    for (auto& g : got) raw.push_back(g.get());
    if (!bridge(std::move(raw))) continue;
    if (failed) lost(*failed);
  }
  sub_.reset();
  cmd_.reset();
  if (!holder_) return;
  // Hand the lock over at once instead of letting it expire: a connection of its own that
  // stop does not abandon, with deadlines short enough to keep stop() prompt.
  ctx_.board.set_bridge_active(false);
  auto c = redis_connection::connect(
      ctx_.endpoint, {std::chrono::milliseconds(300), std::chrono::milliseconds(300), -1});
  if (c)
    (void)c->command({"EVAL",
                      "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                      "return redis.call('DEL', KEYS[1]) end return 0",
                      "1", lock_key_, token_});
}

}  // namespace cutover::ingest
