#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang, ASan + UBSan, build/fuzz) and runs
# each for N seconds (default 30) from its committed corpus. Exits non-zero if any target
# finds a crash, a leak, a timeout or a broken invariant; the input is then in
# build/fuzz/artifacts/ (add it to tests/fuzz/corpus/<target>/ with the fix).
#
#   tests/fuzz/run.sh [seconds] [target...]
#
# New inputs found on the way go to build/fuzz/corpus/<target>/ (not committed), so the
# committed seeds stay small; copy the interesting ones over by hand (or `-merge=1`).
# Fuzzing runs at nice 19: it shares the machine with whatever else is running.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-30}
shift || true
all=(query_fuzz cursor_fuzz ws_frame_fuzz entry_fuzz token_fuzz config_fuzz profile_fuzz sio_fuzz http_fuzz)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# clang and its libFuzzer runtime, installed the way tools/dev.sh installs the rest.
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: installing ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

out=build/fuzz
mkdir -p "$out/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$out/tests/fuzz/$t"
  seeds="tests/fuzz/corpus/$t"
  scratch="$out/corpus/$t"
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    failed+=("$t")
    summary+=("$(printf '%-14s no such target' "$t")")
    continue
  fi
  mkdir -p "$scratch"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
  log="$out/$t.log"
  echo "== $t: ${seconds}s (log $log)"
  set +e
  nice -n 19 "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$t-" "${dict[@]}" "$scratch" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  line=$(printf '%-14s execs %-10s cov %-6s ft %-6s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}")
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    summary+=("$line FAILED (exit $rc)")
    grep -E 'ERROR|invariant|SUMMARY|Test unit written' "$log" | head -5 >&2 || true
  else
    summary+=("$line ok")
  fi
done

echo "== fuzz summary (${seconds}s each)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in ${failed[*]}; inputs in $out/artifacts/" >&2
  exit 1
fi
