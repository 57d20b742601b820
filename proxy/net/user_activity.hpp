#pragma once
// Migration signal (issue 5): which users reached us over which transport during the last
// hour, and how many used both (a user in the WebSocket cohort still polling is worth a
// look). Keyed by a 64-bit hash of the user id; striped locks so I/O threads rarely meet.

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "net/metrics.hpp"

namespace cutover::net {

class user_activity {
 public:
  using clock = std::chrono::steady_clock;
  explicit user_activity(std::size_t max_users = 1'000'000)
      : max_per_stripe_(max_users / kStripes + 1) {}

  void seen(transport t, std::string_view user, clock::time_point now = clock::now());

  struct counts {
    std::array<std::size_t, kTransports> by_transport{};
    std::size_t both = 0;      // long-poll and at least one push transport
    std::size_t two_plus = 0;  // two or more user-facing transports (any of them)
  };
  // Distinct users per transport within `window`; forgets users older than that.
  counts recent(std::chrono::minutes window = std::chrono::minutes(60),
                clock::time_point now = clock::now());

 private:
  static constexpr std::size_t kStripes = 16;
  using last_seen = std::array<clock::time_point, kTransports>;
  struct stripe {
    std::mutex mu;
    std::unordered_map<std::uint64_t, last_seen> users;
  };
  std::size_t max_per_stripe_;
  std::array<stripe, kStripes> stripes_;
};

user_activity& global_user_activity();

}  // namespace cutover::net
