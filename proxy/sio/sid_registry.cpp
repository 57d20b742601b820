#include "sio/sid_registry.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

namespace cutover::sio {

std::string make_sid() {
  static constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char bytes[15];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();  // no kernel randomness: handing out guessable sids would be worse
    }
    got += static_cast<std::size_t>(n);
  }
  std::string sid;
  sid.reserve(20);
  for (std::size_t i = 0; i < sizeof bytes; i += 3) {
    unsigned v = (unsigned{bytes[i]} << 16) | (unsigned{bytes[i + 1]} << 8) | bytes[i + 2];
    sid += kUrl[(v >> 18) & 63];
    sid += kUrl[(v >> 12) & 63];
    sid += kUrl[(v >> 6) & 63];
    sid += kUrl[v & 63];
  }
  return sid;
}

}  // namespace cutover::sio
