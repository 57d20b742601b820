#pragma once
// legacy_sim's configuration and the small parsers its flags need. Own code on purpose:
// legacy_sim stands for the old app and shares nothing with Cutover's libraries.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::legacy_sim {

struct sim_options {
  std::string listen = "127.0.0.1:8081";  // next to Cutover's default 8080, so both can run
  std::string db_path;                    // empty: a temporary file, removed at exit
  std::size_t threads = 64;
  std::chrono::milliseconds wait{25'000};  // how long an update poll waits
  std::size_t page_size = 50;              // most events per answer
  std::vector<std::string> channels;       // broadcast channels every user reads
  bool allow_user_param = false;
};

struct listen_address {
  std::string host;
  int port = 0;
};

// `HOST:PORT` or `[IPv6]:PORT`; nullopt when it is neither.
std::optional<listen_address> parse_listen(std::string_view text);

// `500ms`, `2s`, `1m`, `1h` or a bare number of seconds; nullopt otherwise.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Decimal digits only, at most 18 of them (no overflow); nullopt otherwise.
std::optional<std::uint64_t> parse_digits(std::string_view s);

}  // namespace cutover::legacy_sim
