#pragma once
// FNV-1a, 64-bit: a stable hash of a user id, the same on every instance and every build
// (std::hash promises neither). Rollout cohorts and user-activity keys both use it.

#include <cstdint>
#include <string_view>

namespace cutover {

constexpr std::uint64_t fnv1a64(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;  // offset basis
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;  // FNV prime
  }
  return h;
}

}  // namespace cutover
