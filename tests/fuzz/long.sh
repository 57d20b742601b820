#!/usr/bin/env bash
# Long fuzzing by CPU time, not wall time: each target runs until it has used N CPU
# seconds (default 3600, one CPU-hour), all targets at once under SCHED_IDLE, so they use
# only the CPU nothing else wants and a busy machine slows them without being slowed.
#
#   tests/fuzz/long.sh [cpu-seconds] [target...]
#
# Uses the binaries tests/fuzz/run.sh builds (preset `fuzz`), copied to build/fuzz/long/
# first so a rebuild while this runs does not change what is being fuzzed. New inputs go to
# build/fuzz/corpus/<target>/ as with run.sh. At the end (or on Ctrl-C) prints, per target,
# the CPU seconds used, executions, coverage and whether it stopped on a finding; exits
# non-zero if any target found a crash, a leak, a timeout or a broken invariant.
set -euo pipefail
cd "$(dirname "$0")/../.."

budget=${1:-3600}
shift || true
all=(query_fuzz cursor_fuzz ws_frame_fuzz entry_fuzz token_fuzz config_fuzz http_fuzz sio_fuzz profile_fuzz)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

out=build/fuzz
long=$out/long
mkdir -p "$long" "$out/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

declare -A pids
for t in "${targets[@]}"; do
  bin="$out/tests/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "long.sh: $bin missing: build it first (tests/fuzz/run.sh 0 or cmake --build --preset fuzz)" >&2
    exit 2
  fi
  cp "$bin" "$long/$t"
  mkdir -p "$out/corpus/$t"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
  # ulimit -t ends the fuzzer with SIGXCPU once it has used the budget; libFuzzer has
  # written every new input to the corpus by then. -max_total_time is a wall-clock backstop.
  (
    ulimit -S -t "$budget"
    ulimit -H -t $((budget + 60))
    exec chrt -i 0 "$long/$t" -max_total_time=$((budget * 20)) -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "${dict[@]}" \
      "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$long/$t.log" 2>&1
  ) &
  pids[$t]=$!
  echo "== $t: pid ${pids[$t]}, up to ${budget} CPU seconds (log $long/$t.log)"
done

report() {
  local failed=0
  echo "== long fuzz summary (budget ${budget} CPU seconds each)"
  for t in "${targets[@]}"; do
    local log="$long/$t.log"
    local last execs cov cpu verdict rc=0
    wait "${pids[$t]}" 2>/dev/null || rc=$?
    last=$(grep -aE '^#[0-9]+' "$log" | tail -1 || true)
    execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -z "$execs" ] && execs=">=$(grep -ao '^#[0-9]*' <<<"$last" | tr -d '#' || true)"
    cov=$(grep -ao 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    cpu=$(grep -ao 'CPU seconds: [0-9]*' "$log.cpu" 2>/dev/null | grep -o '[0-9]*$' || true)
    if grep -aqE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|invariant|Test unit written' "$log"; then
      verdict="FINDING (see $log, inputs in $out/artifacts/)"
      failed=1
    elif [ "${cpu:-0}" -ge $((budget - 11)) ] && [ $rc -ne 0 ]; then
      # stopped by the SIGINT above, or by the CPU limit (the last sample is <= 10 s old)
      verdict="ok (budget used)"
    elif [ $rc -eq 72 ]; then
      verdict="ok (interrupted before the budget)"
    elif [ $rc -eq 0 ]; then
      verdict="ok (stopped by -max_total_time)"
    else
      verdict="ended with exit $rc (see $log)"
      failed=1
    fi
    printf '%-14s cpu %-6s execs %-11s cov %-6s %s\n' "$t" "${cpu:-?}" "${execs:-?}" "${cov:-?}" "$verdict"
  done
  return $failed
}

# Each fuzzer's CPU time (utime + stime, fields 14 and 15 of /proc/PID/stat) is sampled
# every 10 s while it runs; ulimit ends it at the budget, a finding ends it earlier.
tick=$(getconf CLK_TCK)
while :; do
  alive=0
  for t in "${targets[@]}"; do
    pid=${pids[$t]}
    if read -r -a st 2>/dev/null <"/proc/$pid/stat" && [ ${#st[@]} -gt 15 ]; then
      used=$(((st[13] + st[14]) / tick))
      echo "CPU seconds: $used" >"$long/$t.log.cpu"
      # A SIGINT makes libFuzzer print its final stats (the exact execution count) and
      # exit 72; the CPU limit above is only the backstop.
      [ "$used" -ge $((budget - 10)) ] && kill -INT "$pid" 2>/dev/null
    fi
    kill -0 "$pid" 2>/dev/null && alive=$((alive + 1))
  done
  [ $alive -eq 0 ] && break
  sleep 10
done
report
