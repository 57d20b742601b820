#!/usr/bin/env bash
# Runs the Socket.IO maintainers' protocol suites (the test-suite/ folders of the socketio
# engine.io-protocol and socket.io-protocol repositories) against the test-only
# conformance server, which links cutover_sio (tests/sio_conformance).
#
#   tools/sio-conformance.sh SUITE_ROOT
#
# SUITE_ROOT holds fetched copies of both repositories (SUITE_ROOT/engine.io-protocol,
# SUITE_ROOT/socket.io-protocol). Each test-suite/ is copied to a temp dir, installed there
# with `npm ci` (its own lockfile), and run with mocha against the server on port 3000 (the
# suites hard-code http://localhost:3000), started with the timings each suite asserts
# (PING_INTERVAL / PING_TIMEOUT in its test-suite.js, connectTimeout from its README).
# Node's `ws` client is made to dispatch one WebSocket event per task, as the browsers the
# suites were written for do (tools/sio-conformance-events.mjs; the tests are untouched).
# Prints pass/fail counts per suite; exits 1 when any test fails or a suite cannot run.
# The server binary: $SIO_CONFORMANCE_SERVER, else build/dev's
# (cmake --build --preset dev --target sio_conformance_server).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 SUITE_ROOT" >&2; exit 2; }
root=$(cd "$1" && pwd)
server=${SIO_CONFORMANCE_SERVER:-$PWD/build/dev/tests/sio_conformance/sio_conformance_server}
[ -x "$server" ] || { echo "sio-conformance: no server at $server (build target sio_conformance_server)" >&2; exit 2; }

# Browser-like event dispatch for the suites' Node WebSocket client (see the file).
events=$PWD/tools/sio-conformance-events.mjs
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port_busy() { (exec 3<>/dev/tcp/127.0.0.1/3000) 2>/dev/null; }

status=0
summary=()
for suite in engine.io-protocol socket.io-protocol; do
  src="$root/$suite/test-suite"
  [ -f "$src/test-suite.js" ] || { echo "sio-conformance: $src/test-suite.js is missing" >&2; exit 2; }
  dir="$work/$suite"
  cp -r "$src" "$dir"
  echo "== $suite: npm ci"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

  interval=$(grep -oP 'const PING_INTERVAL = \K[0-9]+' "$dir/test-suite.js")
  timeout=$(grep -oP 'const PING_TIMEOUT = \K[0-9]+' "$dir/test-suite.js")
  readme=$(ls "$root/$suite"/[Rr][Ee][Aa][Dd][Mm][Ee].md)
  connect=$(grep -oP 'connectTimeout: \K[0-9]+' "$readme" || echo 45000)
  maxpayload=$(grep -oP 'maxPayload: \K[0-9e.]+' "$readme" | head -1)
  maxpayload=$(node -e "console.log(Number('${maxpayload:-1e6}'))")

  if port_busy; then echo "sio-conformance: port 3000 is in use" >&2; exit 2; fi
  mkfifo "$work/$suite.ready"
  "$server" --port 3000 --ping-interval "$interval" --ping-timeout "$timeout" \
    --connect-timeout "$connect" --max-payload "$maxpayload" >"$work/$suite.ready" 2>"$work/$suite.server.log" &
  server_pid=$!
  exec 3<"$work/$suite.ready"
  if ! read -r -t 10 -u 3 line || [[ "$line" != listening* ]]; then
    echo "sio-conformance: the server did not start" >&2; cat "$work/$suite.server.log" >&2; exit 2
  fi
  echo "== $suite: server up (pingInterval $interval, pingTimeout $timeout, connectTimeout $connect, maxPayload $maxpayload)"

  rc=0
  (cd "$dir" && NODE_OPTIONS="--import=$events" npx mocha --reporter spec test-suite.js) |
    tee "$work/$suite.out" || rc=$?
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  exec 3<&-

  passing=$(grep -oP '^\s*\K[0-9]+(?= passing)' "$work/$suite.out" || echo 0)
  failing=$(grep -oP '^\s*\K[0-9]+(?= failing)' "$work/$suite.out" || echo 0)
  summary+=("$suite: $passing passing, $failing failing")
  if [ "$rc" -ne 0 ] || [ "$failing" -ne 0 ] || [ "$passing" -eq 0 ]; then status=1; fi
done

echo
printf '%s\n' "${summary[@]}"
exit "$status"
