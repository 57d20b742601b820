#pragma once
// Log lines of every subsystem: one line per event on stderr, prefixed "cutover: <subsystem>: ",
// or into a sink the embedding code (or a test) supplies. Thread-safe: any thread may log.
// Anything that can repeat per request or per entry goes through rate_limited_log.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace cutover::core {

// Receives complete lines (prefix included, no trailing newline). Called from several threads
// at once: must be thread-safe and must not block for long.
using log_sink = std::function<void(std::string_view line)>;

class logger {
 public:
  // `subsystem` names the part that logs ("ingest", "net", "store"); it is in every line.
  explicit logger(std::string_view subsystem, log_sink sink = {})
      : prefix_("cutover: " + std::string(subsystem) + ": "), sink_(std::move(sink)) {}
  void line(std::string_view message) const;
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
  log_sink sink_;
};

// At most one line per `interval`; the next line that gets through says how many were held
// back, so a flood of bad entries or failing reads costs one line a second, not one per event.
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

}  // namespace cutover::core
