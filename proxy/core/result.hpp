#pragma once
// Expected-style result for the data plane: a value or an error message, never an exception.

#include <string>
#include <utility>
#include <variant>

namespace cutover {

// Which subsystem an error code belongs to. Codes of different subsystems overlap (SQLite's
// SQLITE_ERROR is 1, and so is ingest's errc::connection), so a code is never a bare int:
// it carries its domain, and codes of different domains never compare equal.
enum class error_domain : unsigned char {
  none,    // no code: the message is all there is
  sqlite,  // an SQLite (extended) result code
  ingest,  // ingest::errc (Redis connections and publishing)
  store,   // the store's own refusals (store::owner_lock::kBusy)
};

struct error_code {
  error_domain domain = error_domain::none;
  int value = 0;

  constexpr error_code() = default;
  constexpr error_code(error_domain d, int v) : domain(d), value(v) {}
  friend constexpr bool operator==(error_code, error_code) = default;
  constexpr explicit operator bool() const { return domain != error_domain::none; }
};

struct error {
  std::string message;
  error_code code{};  // the subsystem's code, or none
};

template <class T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  result(error e) : v_(std::move(e)) {}      // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const error& err() const { return std::get<1>(v_); }

 private:
  std::variant<T, error> v_;
};

// For operations that only succeed or fail.
struct ok_t {};
using status = result<ok_t>;
inline status ok_status() {
  return ok_t{};
}

}  // namespace cutover
