#include "core/histogram.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <utility>

namespace cutover::core {

histogram::histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::invalid_argument("histogram bounds must be strictly increasing");
  sum_bits_.store(std::bit_cast<std::uint64_t>(0.0), std::memory_order_relaxed);
}

void histogram::record(double v) noexcept {
  if (v != v) return;  // NaN: no bucket holds it, and it would poison the sum
  // First bound >= v: Prometheus buckets are "less than or equal".
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  auto old = sum_bits_.load(std::memory_order_relaxed);
  while (!sum_bits_.compare_exchange_weak(
      old, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old) + v),
      std::memory_order_relaxed)) {
  }
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t run = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    run += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = run;
  }
  s.sum = std::bit_cast<double>(sum_bits_.load(std::memory_order_relaxed));
  return s;
}

std::vector<double> histogram::seconds_bounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::optional<double> histogram::snapshot::quantile(double q) const {
  if (count() == 0) return std::nullopt;
  double rank = q * static_cast<double>(count());
  double prev_bound = 0;
  std::uint64_t prev_count = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (static_cast<double>(cumulative[i]) >= rank) {
      std::uint64_t in = cumulative[i] - prev_count;
      if (in == 0) return bounds[i];
      double at = (rank - static_cast<double>(prev_count)) / static_cast<double>(in);
      return prev_bound + (bounds[i] - prev_bound) * at;
    }
    prev_bound = bounds[i];
    prev_count = cumulative[i];
  }
  return bounds.empty() ? std::nullopt : std::optional<double>(bounds.back());
}

}  // namespace cutover::core
