#pragma once
// A Prometheus-style histogram: fixed upper bounds chosen at construction, one relaxed atomic
// count per bucket, so record() is lock-free and cheap enough for the data path (any thread).
// read() takes a snapshot (cumulative counts, as Prometheus' `_bucket{le=..}` wants them);
// the snapshot of a histogram being written to is consistent enough for monitoring (a
// sample recorded during read() may be in the count and not yet in the sum, never lost).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace cutover::core {

class histogram {
 public:
  // `upper_bounds`: strictly increasing; +Inf is implied.
  explicit histogram(std::vector<double> upper_bounds);
  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  void record(double v) noexcept;

  struct snapshot {
    std::vector<double> bounds;             // upper bounds, +Inf not included
    std::vector<std::uint64_t> cumulative;  // bounds.size() + 1 entries; the last is the count
    double sum = 0;
    std::uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
    // The q-quantile (0 < q < 1) as Prometheus' histogram_quantile() estimates it: linear
    // within the bucket that holds rank q*count (from 0 for the first one); in the +Inf
    // bucket, the highest finite bound. nullopt while the histogram is empty.
    std::optional<double> quantile(double q) const;
  };
  snapshot read() const;

  // Bounds for durations in seconds: 100 µs .. 10 s, roughly ×2.5 apart.
  static std::vector<double> seconds_bounds();

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<std::uint64_t> sum_bits_{0};                // a double, updated by CAS
};

}  // namespace cutover::core
