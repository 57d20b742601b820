#include "ingest/switch_watcher.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace cutover::ingest {
namespace {

// How long the subscription may be silent before a PING checks that the Sentinel is there;
// a PING unanswered for as long again moves to the next Sentinel.
constexpr std::chrono::milliseconds kQuiet{5000};

}  // namespace

std::string switched_to(std::string_view payload, std::string_view master) {
  std::string_view words[5];
  std::size_t n = 0;
  while (!payload.empty() && n < 5) {
    auto sp = payload.find(' ');
    words[n++] = payload.substr(0, sp);
    payload = sp == std::string_view::npos ? std::string_view() : payload.substr(sp + 1);
  }
  if (n != 5 || !payload.empty() || words[0] != master) return {};
  return std::string(words[3]) + ":" + std::string(words[4]);
}

switch_watcher::switch_watcher(reader_context ctx, switch_signal& signal)
    : ctx_(ctx),
      signal_(signal),
      link_(ctx.log, "sentinel watch"),
      pace_(ctx.opt.backoff_base, ctx.opt.backoff_cap) {}

void switch_watcher::run() {
  const std::size_t n = ep().sentinels.size();
  std::size_t i = 0;
  while (!ctx_.stop.requested() && n > 0) {
    if (!watch(i) && !ctx_.stop.requested()) ctx_.stop.wait_for(pace_.next());
    i = (i + 1) % n;  // a Sentinel that failed: the next one
  }
}

bool switch_watcher::watch(std::size_t i) {
  const auto& [host, port] = ep().sentinels[i];
  redis_endpoint sen;
  sen.host = host;
  sen.port = port;
  sen.user = ep().sentinel_user;
  sen.password = ep().sentinel_password;
  connection_settings s{std::min(ctx_.opt.connect_timeout, std::chrono::milliseconds(500)), kQuiet,
                        ctx_.stop.fd()};
  auto c = redis_connection::connect(sen, s);
  if (!c) {
    if (c.err().code != errc::stopped)
      link_.problem("down", c.err().message + "; trying the next Sentinel with backoff");
    return false;
  }
  c->append(std::initializer_list<std::string_view>{"SUBSCRIBE", "+switch-master"});
  if (auto st = c->flush(); !st) {
    link_.problem("down", st.err().message + "; trying the next Sentinel with backoff");
    return false;
  }
  auto first = c->receive(kQuiet);
  if (!first || !*first || (*first)->type != REDIS_REPLY_ARRAY) {
    link_.problem("down", "Sentinel " + sen.display() +
                              " did not confirm SUBSCRIBE +switch-master" +
                              (first ? std::string() : ": " + first.err().message) +
                              "; trying the next Sentinel with backoff");
    return false;
  }
  pace_.reset();
  std::string what =
      "watching Sentinel " + sen.display() + " for +switch-master of '" + ep().master_name + "'";
  if (link_.failing())
    link_.recovered(what);
  else
    link_.line(what);
  bool ping_due = false;
  while (!ctx_.stop.requested()) {
    auto r = c->receive(kQuiet, true);
    if (!r) {
      if (r.err().code != errc::stopped)
        link_.problem("down", r.err().message + "; trying the next Sentinel");
      return true;
    }
    if (!*r) {  // quiet: is the Sentinel still there?
      if (ping_due) {
        link_.problem("down", "Sentinel " + sen.display() + " did not answer PING within " +
                                  std::to_string(kQuiet.count()) + " ms; trying the next Sentinel");
        return true;
      }
      c->append(std::initializer_list<std::string_view>{"PING"});
      if (auto st = c->flush(); !st) {
        link_.problem("down", st.err().message + "; trying the next Sentinel");
        return true;
      }
      ping_due = true;
      continue;
    }
    const redisReply* m = r->get();
    if (m->type != REDIS_REPLY_ARRAY || m->elements < 1) continue;
    auto kind = reply_text(m->element[0]);
    if (kind == "pong") {
      ping_due = false;
      continue;
    }
    if (kind != "message" || m->elements != 3) continue;
    auto to = switched_to(reply_text(m->element[2]), ep().master_name);
    if (to.empty()) continue;  // another master this Sentinel monitors
    signal_.announce(i);
    ctx_.board.add_master_switch();
    link_.line("Sentinel " + sen.display() + " announced +switch-master: '" + ep().master_name +
               "' is now " + to + "; cutting the blocked read");
    ping_due = false;
  }
  return true;
}

}  // namespace cutover::ingest
