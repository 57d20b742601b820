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
  (t == transport::websocket ? it->second.websocket : it->second.longpoll) = now;
}

user_activity::counts user_activity::recent(std::chrono::minutes window, clock::time_point now) {
  counts c;
  auto cutoff = now - window;
  for (auto& s : stripes_) {
    std::lock_guard lk(s.mu);
    for (auto it = s.users.begin(); it != s.users.end();) {
      bool lp = it->second.longpoll > cutoff && it->second.longpoll != clock::time_point{};
      bool ws = it->second.websocket > cutoff && it->second.websocket != clock::time_point{};
      if (!lp && !ws) {
        it = s.users.erase(it);
        continue;
      }
      c.longpoll += lp;
      c.websocket += ws;
      c.both += lp && ws;
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
