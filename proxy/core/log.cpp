#include "core/log.hpp"

#include <cstdio>

namespace cutover::core {

void logger::line(std::string_view message) const {
  std::string text;
  text.reserve(prefix_.size() + message.size() + 1);
  text.append(prefix_).append(message);
  if (sink_) {
    sink_(text);
    return;
  }
  // One fwrite of the whole line: stderr is unbuffered, so lines from threads never interleave.
  text.push_back('\n');
  std::fwrite(text.data(), 1, text.size(), stderr);
}

void rate_limited_log::line(std::string_view message, std::chrono::steady_clock::time_point now) {
  std::uint64_t held = 0;
  {
    std::lock_guard lk(mu_);
    if (any_ && now - last_ < interval_) {
      ++suppressed_;
      return;
    }
    any_ = true;
    last_ = now;
    held = suppressed_;
    suppressed_ = 0;
  }
  if (held == 0) {
    log_.line(message);
    return;
  }
  std::string text(message);
  text += " (" + std::to_string(held) + " similar line" + (held == 1 ? "" : "s") + " suppressed)";
  log_.line(text);
}

}  // namespace cutover::core
