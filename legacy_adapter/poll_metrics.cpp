#include "legacy_adapter/poll_metrics.hpp"

#include "net/server_render.hpp"

namespace cutover::legacy {

poll_metrics& global_poll_metrics() {
  static poll_metrics m;
  return m;
}

std::string render_poll_metrics() {
  const auto& m = global_poll_metrics();
  std::string out;
  net::prometheus_help(out, "cutover_poll_responses_total", "counter",
                       "Long-poll answers by outcome.");
  const std::pair<const char*, const net::counter*> rows[] = {
      {"outcome=\"data\"", &m.data},
      {"outcome=\"timeout\"", &m.timeout},
      {"outcome=\"reset\"", &m.reset},
      {"outcome=\"rejected\"", &m.rejected}};
  for (const auto& [labels, c] : rows)
    net::prometheus_sample(out, "cutover_poll_responses_total", labels,
                           static_cast<double>(c->get()));
  return out;
}

}  // namespace cutover::legacy
