#include "options.hpp"

#include <charconv>

namespace cutover::legacy_sim {

std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;  // 18 digits: no overflow below
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<listen_address> parse_listen(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto p = parse_digits(port);
  if (!p || *p > 65535) return std::nullopt;
  listen_address out{std::string(host), static_cast<int>(*p)};
  if (out.host.empty() || out.host == "localhost") out.host = "127.0.0.1";
  return out;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  auto n = parse_digits(text.substr(0, digits));
  if (!n) return std::nullopt;
  std::string_view unit = text.substr(digits);
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "s")
    factor = 1000;
  else if (unit == "ms")
    factor = 1;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else
    return std::nullopt;
  if (*n > (std::uint64_t{1} << 40) / factor) return std::nullopt;  // years of waiting: a typo
  return std::chrono::milliseconds(static_cast<std::int64_t>(*n * factor));
}

}  // namespace cutover::legacy_sim
