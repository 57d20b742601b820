#!/usr/bin/env bash
# Socket.IO side by side (issue 14's figures): for each mode, a fresh `cutover serve`
# (release build) and a fresh Node socket.io 4 server (tools/bench/node/sio_server.js,
# polling and WebSocket), each measured by tools/bench/sio_bench.mjs with the same clients.
#
#   [MODES="fanout"] tools/bench/sio_compare.sh [CONNS (1000)] [FANOUT_MSGS (20)]
#
# Needs: build/release's cutover, redis-server, node, npm ci in tools/bench/node. Prints
# one JSON line per run and the load average before each.
set -euo pipefail
cd "$(dirname "$0")/../.."
conns=${1:-1000}
msgs=${2:-20}
cutover=${CUTOVER_BINARY:-$PWD/build/release/proxy/app/cutover}
bench=$PWD/tools/bench/sio_bench.mjs
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

wait_line() {  # FILE NEEDLE
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "sio_compare: no '$2' in $1" >&2; cat "$1" >&2; return 1
}

for mode in ${MODES:-idle-ws idle-poll fanout}; do
  for target in cutover node; do
    port=$(free_port)
    if [ "$target" = cutover ]; then
      rm -f "$work"/c.db*
      "$cutover" serve --listen "127.0.0.1:$port" --db "$work/c.db" --redis "redis://127.0.0.1:$rport" \
        --auth insecure-query --shared-topic all --stream-start '$' --max-connections 100000 \
        >"$work/server.log" 2>&1 &
      pid=$!
      wait_line "$work/server.log" 'listening on'
    else
      SIO_TRANSPORTS=polling,websocket node tools/bench/node/sio_server.js "$port" >"$work/server.log" 2>&1 &
      pid=$!
      wait_line "$work/server.log" 'listening on'
    fi
    pids+=("$pid")
    echo "# $(cut -d' ' -f1-3 /proc/loadavg) load; $target $mode"
    node "$bench" "{\"target\":\"$target\",\"port\":$port,\"pid\":$pid,\"redis\":$rport,\"mode\":\"$mode\",\"conns\":$conns,\"msgs\":$msgs}" ||
      echo "{\"target\":\"$target\",\"mode\":\"$mode\",\"failed\":true}"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
