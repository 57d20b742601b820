#!/usr/bin/env bash
# Runs the Socket.IO maintainers' protocol suites (the test-suite/ folders of the socketio
# engine.io-protocol and socket.io-protocol repositories) against the test-only
# conformance server, which links cutover_sio (tests/sio_conformance).
#
#   tools/sio-conformance.sh SUITE_ROOT
#   tools/sio-conformance.sh --serve SUITE_ROOT
#
# --serve: the socket.io suite against `cutover serve` itself (a redis-server on a free
# port, --auth insecure-query with the identity the harness adds to every URL, see
# tools/sio-conformance-identity.mjs, the suite's timings), except the tests that need the
# README's handlers a push server does not have (listed in $serve_excluded below). The
# binary: $CUTOVER_BINARY, else build/dev's.
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
serve=0
if [ "${1:-}" = --serve ]; then serve=1; shift; fi
[ $# -ge 1 ] || { echo "usage: $0 [--serve] SUITE_ROOT" >&2; exit 2; }
root=$(cd "$1" && pwd)
if [ "$serve" = 1 ]; then
  server=${CUTOVER_BINARY:-$PWD/build/dev/proxy/app/cutover}
  [ -x "$server" ] || { echo "sio-conformance: no cutover at $server (build target cutover)" >&2; exit 2; }
  suites=(socket.io-protocol)
else
  server=${SIO_CONFORMANCE_SERVER:-$PWD/build/dev/tests/sio_conformance/sio_conformance_server}
  [ -x "$server" ] || { echo "sio-conformance: no server at $server (build target sio_conformance_server)" >&2; exit 2; }
  suites=(engine.io-protocol socket.io-protocol)
fi
# Tests of the socket.io suite that need the README's handlers (the "auth" echo and an ack
# holding exactly `sid`, "/custom", message-back, acks, binary echo): not run with --serve.
serve_excluded=(
  "should allow connection to the main namespace"
  "should allow connection to a custom namespace"
  "should connect then disconnect from a custom namespace"
  "should send a plain-text packet"
  "should send a packet with binary attachments"
)

# Browser-like event dispatch for the suites' Node WebSocket client (see the file).
events=$PWD/tools/sio-conformance-events.mjs
work=$(mktemp -d)
server_pid=
redis_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port_busy() { (exec 3<>/dev/tcp/127.0.0.1/3000) 2>/dev/null; }

status=0
summary=()
for suite in "${suites[@]}"; do
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
  preload="--import=$events"
  grep_args=()
  if [ "$serve" = 1 ]; then
    rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
    # serve says "listening on" on stdout once it accepts.
    "$server" serve --listen 127.0.0.1:3000 --db "$work/cutover.db" --redis "redis://127.0.0.1:$rport" \
      --auth insecure-query --sio-ping-interval "${interval}ms" --sio-ping-timeout "${timeout}ms" \
      --sio-connect-timeout "${connect}ms" >"$work/$suite.ready" 2>"$work/$suite.server.log" &
    server_pid=$!
    exec 3<"$work/$suite.ready"
    ok=0
    while read -r -t 20 -u 3 line; do
      echo "$line" >>"$work/$suite.server.log"
      if [[ "$line" == *"listening on"* ]]; then ok=1; break; fi
    done
    [ "$ok" = 1 ] || { echo "sio-conformance: cutover serve did not start" >&2; cat "$work/$suite.server.log" >&2; exit 2; }
    cat <&3 >>"$work/$suite.server.log" &
    preload="$preload --import=$PWD/tools/sio-conformance-identity.mjs"
    pattern=$(printf '%s|' "${serve_excluded[@]}"); pattern=${pattern%|}
    grep_args=(--grep "$pattern" --invert)
    echo "== $suite: cutover serve up (pingInterval $interval, pingTimeout $timeout, connectTimeout $connect); not run (need handlers):"
    printf '   - %s\n' "${serve_excluded[@]}"
  else
  "$server" --port 3000 --ping-interval "$interval" --ping-timeout "$timeout" \
    --connect-timeout "$connect" --max-payload "$maxpayload" >"$work/$suite.ready" 2>"$work/$suite.server.log" &
  server_pid=$!
  exec 3<"$work/$suite.ready"
  if ! read -r -t 10 -u 3 line || [[ "$line" != listening* ]]; then
    echo "sio-conformance: the server did not start" >&2; cat "$work/$suite.server.log" >&2; exit 2
  fi
  echo "== $suite: server up (pingInterval $interval, pingTimeout $timeout, connectTimeout $connect, maxPayload $maxpayload)"
  fi

  rc=0
  (cd "$dir" && NODE_OPTIONS="$preload" npx mocha --reporter spec "${grep_args[@]}" test-suite.js) |
    tee "$work/$suite.out" || rc=$?
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  if [ -n "$redis_pid" ]; then kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; redis_pid=; fi
  exec 3<&-

  passing=$(grep -oP '^\s*\K[0-9]+(?= passing)' "$work/$suite.out" || echo 0)
  failing=$(grep -oP '^\s*\K[0-9]+(?= failing)' "$work/$suite.out" || echo 0)
  summary+=("$suite: $passing passing, $failing failing")
  if [ "$rc" -ne 0 ] || [ "$failing" -ne 0 ] || [ "$passing" -eq 0 ]; then status=1; fi
done

echo
printf '%s\n' "${summary[@]}"
exit "$status"
