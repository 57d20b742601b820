#pragma once
// The WebSocket rollout cohort (DESIGN §4), a legacy-endpoint notion: the poll answers its
// members with X-Cutover-Upgrade. The WebSocket rollout cohort: a stable hash of the user id below
// a percentage, with allow and deny lists. The same answer on every instance and across restarts;
// swapped atomically on reload (SIGHUP) without touching connections.

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace cutover::legacy {

struct rollout_config {
  double percent = 0;           // 0..100
  std::set<std::string> allow;  // always in the cohort
  std::set<std::string> deny;   // never in the cohort (wins over allow)
};

// Bucket 0..9999 of a user id (FNV-1a 64 over the id bytes), stable everywhere.
std::uint32_t rollout_bucket(std::string_view user);

bool in_cohort(const rollout_config& cfg, std::string_view user);

// Holds the current configuration; readers take a snapshot, reload swaps it.
class rollout_policy {
 public:
  explicit rollout_policy(rollout_config cfg)
      : cfg_(std::make_shared<const rollout_config>(std::move(cfg))) {}
  bool in_cohort(std::string_view user) const {
    return legacy::in_cohort(*std::atomic_load(&cfg_), user);
  }
  void replace(rollout_config cfg) {
    std::atomic_store(&cfg_, std::make_shared<const rollout_config>(std::move(cfg)));
  }
  std::shared_ptr<const rollout_config> current() const { return std::atomic_load(&cfg_); }

 private:
  std::shared_ptr<const rollout_config> cfg_;
};

}  // namespace cutover::legacy
