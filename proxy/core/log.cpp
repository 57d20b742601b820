#include "core/log.hpp"

#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <ctime>

namespace cutover::core {
namespace {

std::atomic<log_format> g_format{log_format::text};

// RFC 3339 UTC with milliseconds.
std::string now_utc() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03lldZ", static_cast<long long>(ms % 1000));
  return buf;
}

}  // namespace

void set_log_format(log_format f) noexcept {
  g_format.store(f, std::memory_order_relaxed);
}
log_format current_log_format() noexcept {
  return g_format.load(std::memory_order_relaxed);
}

std::optional<log_format> parse_log_format(std::string_view s) {
  if (s == "text") return log_format::text;
  if (s == "json") return log_format::json;
  return std::nullopt;
}

logger::logger(std::string_view subsystem, log_sink sink)
    : component_(subsystem.empty() ? "cutover" : std::string(subsystem)),
      prefix_(subsystem.empty() ? std::string("cutover: ")
                                : "cutover: " + std::string(subsystem) + ": "),
      sink_(std::move(sink)) {}

void logger::line(std::string_view message, log_fields fields) const {
  if (current_log_format() != log_format::json) return emit("info", message, fields);
  std::string_view level = "info";
  for (std::string_view l : {"warning", "error"})
    if (message.size() > l.size() + 1 && message.substr(0, l.size()) == l &&
        message[l.size()] == ':') {
      level = l;
      message.remove_prefix(l.size() + 1);
      while (!message.empty() && message.front() == ' ') message.remove_prefix(1);
    }
  emit(level, message, fields);
}

void logger::at(log_level level, std::string_view message, log_fields fields) const {
  emit(level == log_level::error     ? "error"
       : level == log_level::warning ? "warning"
                                     : "info",
       message, fields);
}

void logger::emit(std::string_view level, std::string_view message, log_fields fields) const {
  std::string text;
  if (current_log_format() == log_format::json) {
    boost::json::object o;
    o["time"] = now_utc();
    o["level"] = level;
    o["component"] = component_;
    o["message"] = message;
    boost::json::object f;
    for (const auto& [k, v] : fields) f[k] = v;
    o["fields"] = std::move(f);
    text = boost::json::serialize(o);
  } else {
    text.reserve(prefix_.size() + message.size() + 1);
    text.append(prefix_).append(message);
    for (const auto& [k, v] : fields) {
      text.append(" ").append(k).append("=");
      // Quote values a reader could not split on spaces.
      if (v.empty() || v.find_first_of(" \"=") != std::string_view::npos)
        text.append(boost::json::serialize(boost::json::string(v)));
      else
        text.append(v);
    }
  }
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
