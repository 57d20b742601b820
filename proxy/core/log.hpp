#pragma once
// Log lines of every subsystem, one line per event on stderr (or into a sink the embedding
// code or a test supplies). Thread-safe: any thread may log. Anything that can repeat per
// request or per entry goes through rate_limited_log.
//
// Two formats, chosen once per process (--log-format):
//   text  "cutover: <subsystem>: <message> key=value ..."  (the default, for people)
//   json  {"time":"2026-12-02T05:23:01.123Z","level":"warning","component":"ingest",
//          "message":"...","fields":{"key":"value"}}       (one object per line, for shippers)
// The level is read off the message: "warning: ..." and "error: ..." (the prefix is dropped
// from a JSON message); anything else is "info".

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cutover::core {

enum class log_format { text, json };
enum class log_level { info, warning, error };
void set_log_format(log_format f) noexcept;
log_format current_log_format() noexcept;
std::optional<log_format> parse_log_format(std::string_view s);

// Receives complete lines (no trailing newline). Called from several threads at once: must
// be thread-safe and must not block for long.
using log_sink = std::function<void(std::string_view line)>;
using log_fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class logger {
 public:
  // `subsystem` names the part that logs ("ingest", "net", "store"): the component of every
  // line. An empty one is the program itself ("cutover: ..." in text, component "cutover").
  explicit logger(std::string_view subsystem, log_sink sink = {});
  // The level read off the message (see above).
  void line(std::string_view message, log_fields fields = {}) const;
  // The level given; the text line is the message as it is.
  void at(log_level level, std::string_view message, log_fields fields = {}) const;
  const std::string& prefix() const { return prefix_; }

 private:
  void emit(std::string_view level, std::string_view message, log_fields fields) const;
  std::string component_;
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
