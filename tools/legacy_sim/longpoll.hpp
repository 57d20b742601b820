#pragma once
// The legacy long-poll endpoint (DESIGN §4) implemented THE OLD WAY, on purpose: the
// request holds an httplib worker thread for its whole life and re-reads the store once
// a second until something arrives or the poll timeout passes. This sleep loop is
// exactly what Cutover replaces (hub wake-ups, no thread per waiting client); it stays
// here as the reference behaviour and the benchmark baseline. Do not "fix" it.

#include <httplib.h>

#include <cstdint>
#include <span>
#include <string>

#include "notification_db.hpp"
#include "sim_state.hpp"

namespace cutover::legacy_sim {

// Runs on an httplib worker thread; blocks it for up to --poll-timeout.
void handle_poll(const httplib::Request& req, httplib::Response& res, sim_state& st);

// How many of `rows` (oldest first, read with a limit of batch + 1) to send so that no
// group of entries sharing one legacyId is cut (DESIGN §2). 0 means the first group
// fills the whole batch: the caller reads that group to its end and sends all of it.
std::size_t batch_count(std::span<const stored_notification> rows, std::size_t batch);

// {"notifications":[{"id":..,"type":..,"createdAt":..,"payload":..}],"lastId":N}
std::string render_poll_body(std::span<const stored_notification> rows, std::uint64_t last_id);

}  // namespace cutover::legacy_sim
