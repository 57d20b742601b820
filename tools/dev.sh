#!/usr/bin/env bash
# Newcomer entry point (README): installs what is missing, builds, and either runs the
# main job or the whole test suite. Idempotent; quiet when everything is present.
#
#   tools/dev.sh run    install, build (release), start redis-server if none answers, cutover serve
#   tools/dev.sh test   install, build (dev preset: warnings are errors), run all tests
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

packages=(g++ make cmake pkg-config libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
          libhiredis-dev libsqlite3-dev libcpp-httplib-dev libcli11-dev googletest libgtest-dev
          libssl-dev redis-server redis-tools sqlite3 curl dpkg-dev haproxy)

install_missing() {  # [PACKAGE...]: the base set plus these
  local missing=()
  for p in "${packages[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  # apt's own chatter (debconf notes, triggers) only when something fails.
  local log
  log=$(mktemp)
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "dev.sh: installing ${missing[*]} failed (apt-get output above)" >&2
    return 1
  fi
  rm -f "$log"
}

install_test_clients() {  # the npm clients of tests/js, exactly as locked, once per lock
  local stamp=tests/js/node_modules/.package-lock.json
  [ -f "$stamp" ] && [ "$stamp" -nt tests/js/package-lock.json ] && return 0
  echo "dev.sh: installing the test clients of tests/js (npm ci)" >&2
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null
}

build() {  # PRESET [TARGET...]: configure, then build everything or just the targets named
  local preset=$1
  shift
  cmake --preset "$preset" >/dev/null
  if [ $# -gt 0 ]; then
    cmake --build --preset "$preset" --target "$@"
  else
    cmake --build --preset "$preset"
  fi
}

case "${1:-}" in
  run)
    install_missing
    build release cutover  # the server only: tests and benchmarks are not needed to run it
    mkdir -p var
    exec tools/run-local.sh
    ;;
  test)
    # Node from Debian only when none is installed (a newer one may already be there).
    # chromium: the browser tests; prometheus: promtool checks docs/prometheus/alerts.yml.
    extra=(chromium prometheus)
    command -v node >/dev/null && command -v npm >/dev/null || extra+=(nodejs npm)
    install_missing "${extra[@]}"
    install_test_clients
    build dev
    ctest --preset dev
    ;;
  *)
    echo "usage: tools/dev.sh run|test" >&2
    exit 2
    ;;
esac
