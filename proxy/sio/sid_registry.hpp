#pragma once
// The sessions of one process by sid, for polling requests that land on any I/O thread
// (accept is round-robin). Thread-safe: one mutex around a map, held only to find, add or
// drop an entry, never while a session runs. A sid this process did not make (another
// instance's, an expired one, a guess) is simply not found: the caller answers Engine.IO's
// 400 {"code":1,"message":"Session ID unknown"} and the client makes a new handshake.
//
// Sids are 20 characters of base64url from 15 bytes of the kernel's random generator
// (getrandom): a sid is the only thing that lets a POST into a session, so it must not be
// guessable.

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cutover::sio {

// A fresh random sid (thread-safe).
std::string make_sid();

template <class Session>
class sid_registry {
 public:
  explicit sid_registry(std::size_t max_sessions) : max_(max_sessions) {}

  // Makes a sid, builds the session with it (`make(sid)` returns shared_ptr<Session>) and
  // adds it; nullptr when the registry is full (the caller refuses the handshake).
  template <class Make>
  std::shared_ptr<Session> create(Make&& make) {
    for (;;) {
      std::string sid = make_sid();
      std::lock_guard lock(mu_);
      if (map_.size() >= max_) return nullptr;
      if (map_.count(sid)) continue;  // 120 random bits: never in practice, cheap to rule out
      std::shared_ptr<Session> s = make(sid);
      map_.emplace(std::move(sid), s);
      return s;
    }
  }

  std::shared_ptr<Session> find(std::string_view sid) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(std::string(sid));
    return it == map_.end() ? nullptr : it->second;
  }

  // Drops the entry when it still holds `s` (a late erase never drops a newer session).
  void erase(std::string_view sid, const Session* s) {
    std::lock_guard lock(mu_);
    auto it = map_.find(std::string(sid));
    if (it != map_.end() && it->second.get() == s) map_.erase(it);
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }

 private:
  mutable std::mutex mu_;
  std::size_t max_;
  std::unordered_map<std::string, std::shared_ptr<Session>> map_;
};

}  // namespace cutover::sio
