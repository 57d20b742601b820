#pragma once
// Shared by the libFuzzer targets: an invariant check that aborts (libFuzzer and the
// standalone driver both report an abort as a crash, with the input saved), and a reader
// that turns the fuzzer's bytes into structured values without ever failing, so every
// input reaches the parser under test.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace cutover::fuzz {

// An invariant, not an assert: stays on in every build type.
[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant violated: %s (%s:%d)\n", what, file, line);
  std::abort();
}

#define FUZZ_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::cutover::fuzz::invariant_failed(#cond, __FILE__, __LINE__))

// Consumes the input front to back. Past the end it yields zeros and empty strings, so a
// short input is still a complete (if dull) test case.
class byte_reader {
 public:
  byte_reader(const std::uint8_t* data, std::size_t size) : p_(data), left_(size) {}

  bool empty() const noexcept { return left_ == 0; }
  std::size_t left() const noexcept { return left_; }

  std::uint8_t u8() noexcept {
    if (left_ == 0) return 0;
    --left_;
    return *p_++;
  }
  // Big-endian; each byte is read in its own statement (operand order is unspecified).
  std::uint16_t u16() noexcept {
    std::uint16_t hi = u8();
    return static_cast<std::uint16_t>(hi << 8 | u8());
  }
  std::uint32_t u32() noexcept {
    std::uint32_t hi = u16();
    return hi << 16 | u16();
  }
  std::uint64_t u64() noexcept {
    std::uint64_t hi = u32();
    return hi << 32 | u32();
  }
  bool flag() noexcept { return u8() & 1; }

  // Up to `n` bytes (fewer at the end of the input).
  std::string_view bytes(std::size_t n) noexcept {
    if (n > left_) n = left_;
    std::string_view out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    left_ -= n;
    return out;
  }
  // A string whose length is one byte of the input (0-255).
  std::string_view short_string() noexcept { return bytes(u8()); }
  // A string whose length is two bytes of the input (0-65535).
  std::string_view string16() noexcept { return bytes(u16()); }
  // Everything not consumed yet.
  std::string_view rest() noexcept { return bytes(left_); }

 private:
  const std::uint8_t* p_;
  std::size_t left_;
};

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace cutover::fuzz
