#pragma once
// The old app's update poll, `GET /rest/inbox/updates?after=evt_<id>`, implemented THE OLD
// WAY, on purpose: the request holds an httplib worker thread for its whole life and
// re-reads the database once a second until something arrives or the wait passes. This
// sleep loop is exactly what Cutover replaces (hub wake-ups, no thread per waiting
// client); it stays here as the reference behaviour and the benchmark baseline. Do not
// "fix" it.
//
// Its wire format is its own (README.md), deliberately unlike Cutover's built-in one:
// docs/profiles/legacy_sim.json describes it to Cutover.

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "inbox_db.hpp"
#include "sim_state.hpp"

namespace cutover::legacy_sim {

inline constexpr std::string_view kUpdatesPath = "/rest/inbox/updates";
inline constexpr std::string_view kCursorPrefix = "evt_";

// Runs on an httplib worker thread; blocks it for up to --wait.
void handle_updates(const httplib::Request& req, httplib::Response& res, sim_state& st);

// `evt_<digits>` -> the event id; nullopt when malformed.
std::optional<std::uint64_t> parse_cursor(std::string_view text);
std::string format_cursor(std::uint64_t id);

// {"eventId":"evt_N","kind":..,"at":<unix s>,<the body's members>,"via":"inbox"}; a body
// that is not an object goes under "value"; the event's own keys win over the body's.
std::string render_event(const inbox_event& e);
// {"v":2,"events":[...]}
std::string render_updates(std::span<const inbox_event> events);

}  // namespace cutover::legacy_sim
