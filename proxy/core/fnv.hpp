#pragma once
// FNV-1a, 64-bit: a stable hash of a user id, the same on every instance and every build
// (std::hash promises neither). Rollout cohorts and user-activity keys both use it.

#include <cstdint>
#include <string_view>

namespace cutover {

constexpr std::uint64_t fnv1a64(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace cutover
