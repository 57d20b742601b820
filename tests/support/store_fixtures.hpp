#pragma once
// Small helpers shared by the store and app unit tests (temp dirs and files: subprocess.hpp).

#include <optional>
#include <string>

#include "core/entry.hpp"
#include "store/store.hpp"
#include "subprocess.hpp"

namespace cutover::unit {

using testing::slurp;
using testing::temp_dir;

inline store::pending_entry entry(std::uint64_t ms, std::uint64_t seq, std::string topic,
                                  std::string data = "{}", std::string type = "t",
                                  std::optional<std::string> key = std::nullopt) {
  return {stream_id{ms, seq},
          decoded_entry{std::move(topic), std::move(type), std::move(data), std::move(key)}, "s",
          nullptr};
}

}  // namespace cutover::unit
