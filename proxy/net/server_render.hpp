#pragma once
// /metrics in the Prometheus text format.

#include <string>

#include "core/histogram.hpp"
#include "net/context.hpp"

namespace cutover::net {

std::string render_metrics(const server_context& ctx);

// Building blocks for other /metrics sections (ingest, upstream; see cmd_serve.cpp):
// one `# HELP`/`# TYPE` pair, and one sample line (`labels` empty or `k="v",...`).
void prometheus_help(std::string& out, const char* name, const char* type, const char* text);
void prometheus_sample(std::string& out, const char* name, const char* labels, double v);
// The `_bucket{le=..}` lines (cumulative, +Inf last), `_sum` and `_count` of one histogram;
// `labels` (empty or `k="v",...`) go on every line. The # HELP/# TYPE pair is the caller's.
void prometheus_histogram(std::string& out, const char* name, const char* labels,
                          const core::histogram::snapshot& h);

}  // namespace cutover::net
