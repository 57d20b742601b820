#pragma once
// Server-side login sessions, as the old app kept them: an in-memory map from a random
// cookie value to a user id, behind one mutex. Shared by every worker thread.

#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cutover::legacy_sim {

class session_table {
 public:
  // Starts a session for `user`; returns its id (128 random bits as 32 hex digits).
  std::string create(const std::string& user);
  std::optional<std::string> find(const std::string& sid) const;
  bool erase(const std::string& sid);

 private:
  mutable std::mutex mu_;
  std::random_device random_;  // /dev/urandom: a session id must not be guessable
  std::unordered_map<std::string, std::string> users_by_sid_;
};

// The value of cookie `name` in a Cookie header (`a=1; sid=abc`), if present.
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

}  // namespace cutover::legacy_sim
