#pragma once
// The +switch-master watcher (DESIGN §3 "drop a blocked read as soon as a Sentinel announces
// +switch-master"). Runs on a thread of its own (never an I/O thread) with its own connection:
// SUBSCRIBE +switch-master on one Sentinel of the URL at a time (the next one when it fails),
// and when the event names the configured master, raises a switch_signal. The stream reader's
// and the pub/sub bridge's waits poll that signal: the blocked XREAD ends at once and they
// resolve the master again, asking the announcing Sentinel first (the others may learn of the
// switch up to seconds later).

#include <string>
#include <string_view>

#include "ingest/backoff.hpp"
#include "ingest/reader_context.hpp"
#include "ingest/status_board.hpp"
#include "ingest/switch_signal.hpp"

namespace cutover::ingest {

// "<name> <old-ip> <old-port> <new-ip> <new-port>": the new master's "ip:port" when the
// event is about `master`, else empty.
std::string switched_to(std::string_view payload, std::string_view master);

class switch_watcher {
 public:
  switch_watcher(reader_context ctx, switch_signal& signal);
  void run();  // the thread body; returns once stop is requested

 private:
  // Subscribed to Sentinel `i` until its connection fails or stop is requested; false when
  // it could not subscribe at all.
  bool watch(std::size_t i);
  // The Sentinel URL of the master (--redis).
  const redis_endpoint& ep() const { return ctx_.endpoint; }

  reader_context ctx_;
  switch_signal& signal_;
  link_log link_;
  backoff pace_;
};

}  // namespace cutover::ingest
