#pragma once
// Ingest's log lines: one line per event on stderr, prefixed "cutover: ingest: ", or into a
// sink the embedding code (or a test) supplies. Thread-safe: every ingest thread logs.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace cutover::ingest {

// Receives complete lines (prefix included, no trailing newline). Called from several ingest
// threads at once: must be thread-safe and must not block for long.
using log_sink = std::function<void(std::string_view line)>;

inline constexpr std::string_view kLogPrefix = "cutover: ingest: ";

class logger {
 public:
  explicit logger(log_sink sink = {}) : sink_(std::move(sink)) {}
  void line(std::string_view message) const;

 private:
  log_sink sink_;
};

// At most one line per `interval`; the next line that gets through says how many were held
// back, so a flood of bad entries costs one line a second, not one per entry.
class rate_limited_log {
 public:
  explicit rate_limited_log(const logger& log,
                            std::chrono::milliseconds interval = std::chrono::seconds(1))
      : log_(log), interval_(interval) {}
  void line(std::string_view message,
            std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  const logger& log_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_{};
  bool any_ = false;
  std::uint64_t suppressed_ = 0;
};

}  // namespace cutover::ingest
