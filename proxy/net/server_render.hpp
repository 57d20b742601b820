#pragma once
// /metrics in the Prometheus text format.

#include <string>

#include "net/context.hpp"

namespace cutover::net {

std::string render_metrics(const server_context& ctx);

// Building blocks for other /metrics sections (ingest, upstream; see cmd_serve.cpp):
// one `# HELP`/`# TYPE` pair, and one sample line (`labels` empty or `k="v",...`).
void prometheus_help(std::string& out, const char* name, const char* type, const char* text);
void prometheus_sample(std::string& out, const char* name, const char* labels, double v);

}  // namespace cutover::net
