#pragma once
// /metrics in the Prometheus text format.

#include <string>

#include "net/context.hpp"

namespace cutover::net {

std::string render_metrics(const server_context& ctx);

}  // namespace cutover::net
