#pragma once
// Durations as operators write them (DESIGN §9): `500ms`, `30s`, `2m`, `1h`, `7d`, or a
// bare number of seconds. At most 100 years; anything longer is refused.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cutover {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace cutover
