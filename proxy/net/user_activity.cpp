#include "net/user_activity.hpp"

#include "core/fnv.hpp"

namespace cutover::net {

void user_activity::seen(transport t, std::string_view user, clock::time_point now) {
  const std::uint64_t h = fnv1a64(user);
  auto& s = stripes_[h % kStripes];
  std::lock_guard lk(s.mu);
  auto it = s.users.find(h);
  if (it == s.users.end()) {
    if (s.users.size() >= max_per_stripe_)
      return;  // bounded: past the cap, new users go uncounted until pruned
    it = s.users.emplace(h, last_seen{}).first;
  }
  it->second[static_cast<std::size_t>(t)] = now;
}

user_activity::counts user_activity::recent(std::chrono::minutes window, clock::time_point now) {
  counts c;
  auto cutoff = now - window;
  for (auto& s : stripes_) {
    std::lock_guard lk(s.mu);
    for (auto it = s.users.begin(); it != s.users.end();) {
      bool any = false, longpoll = false, push = false;
      int on = 0;  // user-facing transports this user was seen on
      for (const auto& t : transports()) {
        auto seen = it->second[static_cast<std::size_t>(t.id)];
        if (seen == clock::time_point{} || seen <= cutoff) continue;
        any = true;
        on += t.user_facing;
        ++c.by_transport[static_cast<std::size_t>(t.id)];
        if (t.id == transport::longpoll) longpoll = true;
        if (t.push) push = true;
      }
      if (!any) {
        it = s.users.erase(it);
        continue;
      }
      c.both += longpoll && push;
      c.two_plus += on >= 2;
      ++it;
    }
  }
  return c;
}

user_activity& global_user_activity() {
  static user_activity a;
  return a;
}

}  // namespace cutover::net
