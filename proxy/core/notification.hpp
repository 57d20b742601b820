#pragma once
// A stored notification (DESIGN §2) and its wire renderings. Immutable once shared:
// every recipient holds the same std::shared_ptr<const notification>, and each wire
// format is rendered at most once per notification, whoever asks first.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/cursor.hpp"

namespace cutover {

// Rendering slots, one per wire format (not per transport: formats are shared where the
// bytes are); a transport picks one and renders into it lazily. Core knows the slot
// numbers, not the formats (the legacy format lives in legacy_adapter/). A new format is
// one value before `count`.
enum class wire_slot : std::size_t { ws_frame, legacy, sse, socketio, count };

struct notification {
  stream_id id;
  std::string topic;
  std::string type;
  std::string data;  // compact JSON text, validated at ingest
  // The entry's own time when it is not its id's: an entry imported from the old app
  // keeps the export's time (DESIGN §4). createdAt and age retention use created_ms().
  std::optional<std::uint64_t> kept_time_ms;

  notification() = default;
  notification(stream_id i, std::string t, std::string ty, std::string d,
               std::optional<std::uint64_t> kept_time = std::nullopt)
      : id(i),
        topic(std::move(t)),
        type(std::move(ty)),
        data(std::move(d)),
        kept_time_ms(kept_time) {}
  notification(const notification&) = delete;
  notification& operator=(const notification&) = delete;

  std::uint64_t legacy_id() const noexcept { return id.legacy_id(); }
  std::uint64_t created_ms() const noexcept { return kept_time_ms.value_or(id.ms); }

  // The rendering for `slot`, produced by `render(*this)` on first use. Thread-safe. Not
  // std::call_once: glibc's pthread_once makes a futex system call after every first
  // rendering, one per notification on the I/O thread (issue 18's profile).
  template <class Render>
  const std::string& rendered(wire_slot slot, Render&& render) const {
    render_slot& s = slots_[static_cast<std::size_t>(slot)];
    if (s.state.load(std::memory_order_acquire) == kRendered) return s.text;
    std::uint8_t expected = kEmpty;
    if (s.state.compare_exchange_strong(expected, kRendering, std::memory_order_acquire)) {
      try {
        s.text = render(*this);
      } catch (...) {
        s.state.store(kEmpty, std::memory_order_release);
        throw;
      }
      s.state.store(kRendered, std::memory_order_release);
      return s.text;
    }
    // Another I/O thread renders it right now (a fan-out reaches every thread at once).
    while (s.state.load(std::memory_order_acquire) != kRendered) {
      if (s.state.load(std::memory_order_acquire) == kEmpty) return rendered(slot, render);
      std::this_thread::yield();
    }
    return s.text;
  }

  // Estimated bytes this notification holds with its renderings, for cache budgets;
  // stable over its lifetime.
  std::size_t footprint() const noexcept;

 private:
  static constexpr std::uint8_t kEmpty = 0, kRendering = 1, kRendered = 2;
  struct render_slot {
    std::atomic<std::uint8_t> state{kEmpty};
    std::string text;  // written once, by the thread that moved state to kRendering
  };
  mutable std::array<render_slot, static_cast<std::size_t>(wire_slot::count)> slots_;
};

using notification_ptr = std::shared_ptr<const notification>;
using notification_batch = std::vector<notification_ptr>;

// The WebSocket notification object of DESIGN §5; also one NDJSON line of `cutover replay`.
std::string render_notification_json(const notification& n);

// `render_notification_json` already wrapped in an unmasked WebSocket text frame, so
// every recipient writes the same bytes. json() gives the JSON part back.
const std::string& ws_frame(const notification& n);
std::string_view ws_frame_json(const notification& n);

// Header of an unmasked, final WebSocket frame with `opcode` and `len` payload bytes.
// Returns the header length (2, 4 or 10) written into `out`.
std::size_t ws_frame_header(unsigned char opcode, std::uint64_t len,
                            unsigned char out[10]) noexcept;
std::string make_ws_frame(unsigned char opcode, std::string_view payload);

}  // namespace cutover
