#pragma once
// What the reader threads share with the ingest that owns them. Every member outlives the
// threads (ingest joins them before anything here is destroyed).

#include "core/commit_listener.hpp"
#include "core/log.hpp"
#include "ingest/delivery_gate.hpp"
#include "ingest/ingest.hpp"
#include "ingest/redis_connection.hpp"
#include "ingest/status_board.hpp"
#include "ingest/stop_signal.hpp"
#include "ingest/work_queue.hpp"

namespace cutover::ingest {

struct reader_context {
  const options& opt;
  const redis_endpoint& endpoint;
  work_queue& queue;
  status_board& board;
  const core::logger& log;
  stop_signal& stop;
  delivery_gate* gate = nullptr;        // delivery before the commit; null: after it
  commit_listener* listener = nullptr;  // on_delivered / on_withdrawn (with `gate`)

  redis_connection::settings connection_settings() const {
    // Every reply has a deadline: the XREAD BLOCK time plus a margin for a slow network.
    return {opt.connect_timeout, opt.block + std::chrono::milliseconds(2000), stop.fd()};
  }
};

}  // namespace cutover::ingest
