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
#include "ingest/switch_signal.hpp"
#include "ingest/work_queue.hpp"

namespace cutover::ingest {

struct reader_context {
  const options& opt;
  const redis_endpoint& endpoint;
  work_queue& queue;
  status_board& board;
  const core::logger& log;
  stop_signal& stop;
  // --redis-read: where the stream reader reads (else null: `endpoint`, the master). Loss
  // detection, the pub/sub bridge and publishes always use `endpoint`.
  const redis_endpoint* read_endpoint = nullptr;
  // A Sentinel `endpoint`: raised when a Sentinel announces +switch-master (else null).
  switch_signal* switches = nullptr;
  delivery_gate* gate = nullptr;        // delivery before the commit; null: after it
  commit_listener* listener = nullptr;  // on_delivered / on_withdrawn (with `gate`)

  redis_connection::settings connection_settings() const {
    // Every reply has a deadline: the XREAD BLOCK time plus a margin for a slow network.
    redis_connection::settings s{opt.connect_timeout, opt.block + std::chrono::milliseconds(2000),
                                 stop.fd()};
    if (switches) s.first_sentinel = switches->preferred();
    return s;
  }
  // For a connection to `endpoint` that `who` uses: a Sentinel's +switch-master also cuts
  // its waits (each waiter takes its own announcement, so none is cut by another's).
  redis_connection::settings settings_for(switch_waiter who) const {
    auto s = connection_settings();
    if (switches) s.cut_fd = switches->fd(who);
    return s;
  }
};

}  // namespace cutover::ingest
