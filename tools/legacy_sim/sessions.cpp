#include "sessions.hpp"

#include <cstdint>
#include <cstdio>

namespace cutover::legacy_sim {

std::string session_table::create(const std::string& user) {
  std::lock_guard lk(mu_);
  std::string sid;
  do {
    char hex[33];
    std::uint32_t words[4];
    for (auto& w : words) w = random_();
    std::snprintf(hex, sizeof hex, "%08x%08x%08x%08x", words[0], words[1], words[2], words[3]);
    sid = hex;
  } while (users_by_sid_.contains(sid));
  users_by_sid_.emplace(sid, user);
  return sid;
}

std::optional<std::string> session_table::find(const std::string& sid) const {
  std::lock_guard lk(mu_);
  auto it = users_by_sid_.find(sid);
  if (it == users_by_sid_.end()) return std::nullopt;
  return it->second;
}

bool session_table::erase(const std::string& sid) {
  std::lock_guard lk(mu_);
  return users_by_sid_.erase(sid) > 0;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view value = pair.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return std::nullopt;
}

}  // namespace cutover::legacy_sim
