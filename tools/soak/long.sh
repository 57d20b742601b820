#!/usr/bin/env bash
# The long soak of issue 7: builds the release preset's `soak` (and the `cutover` it runs),
# then runs it for DURATION (default 10m) at the given publish rate with a fault every
# 5 s. Extra arguments go to soak as they are (`soak --help`). The per-client table and
# the PASS/FAIL line end the output; the exit code is soak's (0: nothing lost, duplicated
# or reordered).
#
#   tools/soak/long.sh [DURATION] [soak options...]
#
# With Sentinel failovers (issue 16; a failover keeps the deployment busy ~16 s):
#   tools/soak/long.sh 10m --faults failover,kill,lossy-failover,stop,redis-restart,client-kill
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=${1:-10m}
shift || true
cmake --preset release >/dev/null
cmake --build build/release -j2 --target soak cutover
exec build/release/tools/soak/soak --duration "$duration" --rate 100 --fault-every 5s "$@"
