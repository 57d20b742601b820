#include "legacy_adapter/rollout.hpp"

#include "core/fnv.hpp"

namespace cutover::legacy {

std::uint32_t rollout_bucket(std::string_view user) {
  return static_cast<std::uint32_t>(fnv1a64(user) % 10000);
}

bool in_cohort(const rollout_config& cfg, std::string_view user) {
  std::string u(user);
  if (cfg.deny.count(u)) return false;
  if (cfg.allow.count(u)) return true;
  return rollout_bucket(user) < static_cast<std::uint32_t>(cfg.percent * 100 + 0.5);
}

}  // namespace cutover::legacy
