#pragma once
// Small helpers shared by the unit tests.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/entry.hpp"
#include "store/store.hpp"

namespace cutover::unit {

class scratch_dir {
 public:
  scratch_dir() {
    std::string t = std::filesystem::temp_directory_path().string() + "/cutover-unit-XXXXXX";
    path_ = mkdtemp(t.data());
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& n) const { return path_ + "/" + n; }

 private:
  std::string path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline store::pending_entry entry(std::uint64_t ms, std::uint64_t seq, std::string topic,
                                  std::string data = "{}", std::string type = "t",
                                  std::optional<std::string> key = std::nullopt) {
  return {stream_id{ms, seq},
          decoded_entry{std::move(topic), std::move(type), std::move(data), std::move(key)}, "s"};
}

}  // namespace cutover::unit
