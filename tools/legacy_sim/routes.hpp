#pragma once
// Every route of the old app, registered on one httplib thread-pool server: login
// sessions and who-am-I (for Cutover's upstream auth), the legacy poll, counters for
// tests, and a few ordinary routes so pass-through has something to forward.

#include <httplib.h>

#include "sim_state.hpp"

namespace cutover::legacy_sim {

// Handlers run on httplib's worker threads and share `st`, which must outlive `svr`.
void install_routes(httplib::Server& svr, sim_state& st);

}  // namespace cutover::legacy_sim
