#include "ingest/pubsub_reader.hpp"

#include <hiredis/hiredis.h>

namespace cutover::ingest {
namespace {

// Silence on a subscribed connection is normal; a PING after this long tells a dead peer
// from a quiet one.
constexpr std::chrono::milliseconds kIdlePing{5000};

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

pubsub_reader::pubsub_reader(reader_context ctx)
    : ctx_(ctx), pace_(ctx.opt.backoff_base, ctx.opt.backoff_cap), link_(ctx.log, "pub/sub") {}

bool pubsub_reader::connect() {
  auto c = redis_connection::connect(ctx_.endpoint, ctx_.connection_settings());
  if (c) {
    c->append(std::initializer_list<std::string_view>{"PSUBSCRIBE", kPubsubPattern});
    if (auto f = c->flush(); !f) c = f.err();
  }
  if (!c) {
    if (c.err().code == errc::stopped) return false;
    ctx_.board.set_link(link_kind::pubsub, link_state::backing_off, c.err().message);
    link_.problem("down", c.err().message +
                              "; retrying with backoff (messages published meanwhile are lost)");
    ctx_.stop.wait_for(pace_.next());
    return false;
  }
  conn_.emplace(std::move(*c));
  ping_outstanding_ = false;
  return true;  // "connected" once the subscription is confirmed
}

void pubsub_reader::lost(const error& e) {
  conn_.reset();
  if (e.code == errc::stopped || ctx_.stop.requested()) return;
  ctx_.board.set_link(link_kind::pubsub, link_state::backing_off, e.message);
  link_.problem("down",
                e.message + "; resubscribing with backoff (messages published meanwhile are lost)");
  ctx_.stop.wait_for(pace_.next());
}

bool pubsub_reader::handle(const redisReply* reply, work_batch& out) {
  if (is_error_reply(reply)) {
    lost(error{"PSUBSCRIBE failed: " + std::string(reply_text(reply)), errc::redis_reply});
    return false;
  }
  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) return false;
  auto kind = reply_text(reply->element[0]);
  if (kind == "psubscribe") {
    std::string what = std::string(ever_connected_ ? "resubscribed to " : "subscribed to ") +
                       kPubsubPattern + " on " + ctx_.endpoint.display();
    if (ever_connected_) ctx_.board.add_reconnect();
    ctx_.board.set_link(link_kind::pubsub, link_state::connected);
    if (link_.failing())
      link_.recovered(what);
    else
      link_.line(what);
    ever_connected_ = true;
    pace_.reset();
    return false;
  }
  if (kind != "pmessage" || reply->elements != 4) return false;  // "pong" and the like
  auto channel = reply_text(reply->element[2]);
  auto message = reply_text(reply->element[3]);
  std::string_view topic =
      channel.starts_with(kPubsubPrefix) ? channel.substr(kPubsubPrefix.size()) : channel;
  auto d = decode_pubsub_message(topic, message, ctx_.opt.limits);
  if (!d.entry) {
    field_list raw{{"channel", std::string(channel)}, {"message", std::string(message)}};
    out.batch.dead.push_back(
        {std::string(channel), std::string(), raw_fields_json(raw), std::move(d.reason)});
    return true;
  }
  out.batch.entries.push_back(
      store::pending_entry{stream_id{}, std::move(*d.entry), kPubsubPattern});
  out.received_ms.push_back(wall_ms());
  return true;
}

void pubsub_reader::run() {
  ctx_.board.set_link(link_kind::pubsub, link_state::connecting);
  while (!ctx_.stop.requested()) {
    if (!conn_ && !connect()) continue;
    auto r = conn_->receive(kIdlePing, true);
    if (!r) {
      lost(r.err());
      continue;
    }
    if (!*r) {
      if (ping_outstanding_) {
        lost(error{"no answer to PING from " + ctx_.endpoint.display() + " within " +
                       std::to_string(kIdlePing.count()) + " ms",
                   errc::connection});
        continue;
      }
      conn_->append(std::initializer_list<std::string_view>{"PING"});
      if (auto f = conn_->flush(); !f)
        lost(f.err());
      else
        ping_outstanding_ = true;
      continue;
    }
    ping_outstanding_ = false;
    work_batch wb;
    wb.from = work_batch::origin::pubsub;
    std::size_t taken = handle(r->get(), wb) ? 1 : 0;
    // Take what is already buffered or readable without waiting, as one batch.
    std::optional<error> failed;
    while (taken > 0 && taken < ctx_.opt.batch && conn_) {
      auto more = conn_->receive(std::chrono::milliseconds(0), true);
      if (!more) {
        failed = more.err();
        break;
      }
      if (!*more) break;
      if (handle(more->get(), wb)) ++taken;
    }
    if (taken > 0) {
      ctx_.board.add_pubsub_messages(taken);
      wb.account();
      ctx_.queue.push(std::move(wb));
    }
    if (failed) lost(*failed);
  }
  conn_.reset();
}

}  // namespace cutover::ingest
