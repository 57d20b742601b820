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
#
# libFuzzer's -timeout is wall-clock time, and a SCHED_IDLE process gets no CPU at all while
# anything else wants both cores (a build, a test suite), so a unit can "time out" without
# being slow. A timeout is therefore run again at normal priority with the same limit: when
# it passes there, the input is kept as <artifact>.not-reproduced, the summary counts it, and
# the target goes on with the rest of its budget in a new run (build/fuzz/long/<t>.runN.log).
# A timeout that reproduces is a finding like any other.
set -euo pipefail
cd "$(dirname "$0")/../.."

budget=${1:-3600}
shift || true
all=(query_fuzz cursor_fuzz ws_frame_fuzz entry_fuzz token_fuzz config_fuzz http_fuzz sio_fuzz profile_fuzz)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

out=${FUZZ_OUT:-build/fuzz}  # where run.sh built the targets (tests/fuzz/<t> under it)
long=$out/long
mkdir -p "$long" "$out/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
tick=$(getconf CLK_TCK)

for t in "${targets[@]}"; do
  if [ ! -x "$out/tests/fuzz/$t" ]; then
    echo "long.sh: $out/tests/fuzz/$t missing: build it first (tests/fuzz/run.sh 0 or cmake --build --preset fuzz)" >&2
    exit 2
  fi
done

# One target until it has used the budget. Its summary line goes to $long/<t>.summary.
supervise() {
  local t=$1 bin="$long/$1" used=0 execs=0 run=0 starved=0 cov="?" verdict=""
  local dict=() log pid now rc e c unit left
  [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
  # Ctrl-C reaches the fuzzer (it prints its final stats and exits 72); this loop lives on
  # to write the summary. A trap, unlike ignoring the signal, is not inherited by the fuzzer.
  trap 'true' INT
  while [ "$used" -lt "$budget" ]; do
    run=$((run + 1))
    log="$long/$t.log"
    [ "$run" -gt 1 ] && log="$long/$t.run$run.log"
    left=$((budget - used))
    # ulimit -t ends the fuzzer with SIGXCPU just past the budget (the backstop; the SIGINT
    # below comes first); -max_total_time is a wall-clock backstop.
    (
      ulimit -S -t $((left + 5))
      ulimit -H -t $((left + 60))
      exec chrt -i 0 "$bin" -max_total_time=$((left * 20)) -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "${dict[@]}" \
        "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    ) &
    pid=$!
    now=0
    # CPU time (utime + stime, fields 14 and 15 of /proc/PID/stat), sampled every 10 s and
    # every second near the budget. A SIGINT makes libFuzzer print its final stats (the
    # exact execution count) and exit 72.
    while kill -0 "$pid" 2>/dev/null; do
      if read -r -a st 2>/dev/null <"/proc/$pid/stat" && [ ${#st[@]} -gt 15 ]; then
        now=$(((st[13] + st[14]) / tick))
        echo "CPU seconds: $((used + now))" >"$long/$t.log.cpu"
        [ $((used + now)) -ge "$budget" ] && kill -INT "$pid" 2>/dev/null
      fi
      if [ $((budget - used - now)) -le 15 ]; then sleep 1 || true; else sleep 10 || true; fi
    done
    rc=0
    while :; do
      wait "$pid" && break
      rc=$?
      kill -0 "$pid" 2>/dev/null || break  # >128 only because a trapped SIGINT woke us
    done
    used=$((used + now))
    # SIGXCPU (exit 152): the ulimit backstop ended it at its soft limit, past the budget,
    # before a sample saw the budget reached (the samples can lag): the budget is used.
    [ "$rc" -eq 152 ] && used=$((budget + 5))
    e=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -z "$e" ] && e=$(grep -aoE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
    execs=$((execs + ${e:-0}))
    c=$(grep -aE '^#[0-9]+' "$log" | tail -1 | grep -ao 'cov: [0-9]*' | grep -o '[0-9]*' || true)
    [ -n "$c" ] && cov=$c
    if grep -aq 'ERROR: libFuzzer: timeout' "$log"; then
      unit=$(grep -ao 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/^Test unit written to //')
      if [ -n "$unit" ] && timeout 300 "$bin" -timeout=10 -runs=1 "$unit" >"$log.recheck" 2>&1; then
        starved=$((starved + 1))
        mv "$unit" "$unit.not-reproduced"
        if [ "$starved" -ge 20 ]; then
          verdict="ended: $starved timeouts in a row did not reproduce (too busy a machine for SCHED_IDLE)"
          break
        fi
        continue
      fi
      verdict="FINDING (a timeout that reproduces at normal priority: see $log, $log.recheck)"
      break
    fi
    if grep -aqE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|invariant|Test unit written' "$log"; then
      verdict="FINDING (see $log, inputs in $out/artifacts/)"
      break
    fi
    if [ "$used" -ge "$budget" ]; then
      break
    elif [ "$rc" -eq 72 ]; then
      verdict="ok (interrupted before the budget)"
      break
    elif [ "$rc" -eq 0 ]; then
      verdict="ok (stopped by -max_total_time)"
      break
    else
      verdict="ended with exit $rc (see $log)"
      break
    fi
  done
  [ -z "$verdict" ] && verdict="ok (budget used)"
  local note=""
  [ "$starved" -gt 0 ] && note=", $starved timeout(s) not reproduced at normal priority (starved), runs $run"
  printf '%-14s cpu %-6s execs %-11s cov %-6s %s%s\n' "$t" "$used" "$execs" "$cov" "$verdict" "$note" \
    >"$long/$t.summary"
}

rm -f "$long"/*.summary
for t in "${targets[@]}"; do
  cp "$out/tests/fuzz/$t" "$long/$t"
  mkdir -p "$out/corpus/$t"
  supervise "$t" &
  echo "== $t: up to ${budget} CPU seconds (log $long/$t.log, CPU so far in $long/$t.log.cpu)"
done

trap 'true' INT  # Ctrl-C: the fuzzers stop, their supervisors report, then so does this
until wait; do :; done

echo "== long fuzz summary (budget ${budget} CPU seconds each)"
failed=0
for t in "${targets[@]}"; do
  if [ -f "$long/$t.summary" ]; then
    cat "$long/$t.summary"
    grep -qE 'FINDING|ended' "$long/$t.summary" && failed=1
  else
    printf '%-14s no summary (its supervisor died)\n' "$t"
    failed=1
  fi
done
exit $failed
