#pragma once
// The legacy poll's own counters (its vocabulary, not the server's): answers by outcome,
// rendered into /metrics by the app as cutover_poll_responses_total{outcome=...}.

#include <string>

#include "net/metrics.hpp"

namespace cutover::legacy {

struct poll_metrics {
  net::counter data, timeout, reset, rejected;
};

poll_metrics& global_poll_metrics();
std::string render_poll_metrics();

}  // namespace cutover::legacy
