#!/usr/bin/env bash
# Benchmark driver (issue 6): the same workloads against Cutover and its peers, side by side.
#
#   tools/bench/run.sh [--scenarios idle,fanout,peruser,longpoll,repoll,ingest]
#                      [--targets cutover,cutover-after,cutover-sio,nchan,nchan-redis,pushpin,socketio,legacy]
#                      [--out DIR] [sizes, see --help]
#
# `cutover-after` is the same build with --deliver-after-commit (delivery only after the store
# commit, the path before issue 18), for a side-by-side comparison; it is not in the default list.
# Each target runs pinned to core 0 (`taskset -c 0`), the load client (tools/bench/loadgen),
# wrk, Redis and publishers on core 1. Every scenario starts each target fresh, runs the same
# workload, stops it, and at the end prints one Markdown table per scenario with absolute
# figures and the ratio Cutover/peer (DIR/tables.md) and writes every figure as JSON
# (DIR/results.json; the raw per-run JSON is in DIR/raw/). Installs what is missing (apt:
# nginx-light, libnginx-mod-nchan, pushpin, wrk, redis-server; npm: socket.io into
# tools/bench/node) and builds the release preset. Benchmarks print figures; nothing here
# passes or fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bench="$root/tools/bench"
build="${CUTOVER_BUILD_DIR:-$root/build/release}"

scenarios="idle,fanout,peruser,longpoll,repoll,ingest"
targets="cutover,nchan,nchan-redis,pushpin,socketio,legacy"
out=""
idle_n=10000
fanout_n=10000
fanout_steps="1:10,5:5,10:5,20:5,40:5,80:5,160:5"
peruser_n=10000
peruser_steps="200:10,1000:10,3000:5,6000:5"
peruser_warmup=60
lp_n=10000
legacy_n=5000
backlog=1000
wrk_conns=100
wrk_seconds=10
pipeline_depth=8
ingest_entries=200000
sustain_p99_ms=1000
connect_rate=2000
skip_build=0

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  cat <<EOF
Sizes (defaults in brackets):
  --idle-n N [$idle_n]              connections per target in the idle scenario
  --fanout-n N [$fanout_n]            subscribers of the shared topic
  --fanout-steps R:S,.. [$fanout_steps]
                                  publish rates (msg/s) and seconds; the first is the 1 msg/s
                                  reference, the rest ramp until one is not sustained
  --peruser-n N [$peruser_n]           users (one subscriber each, own topic)
  --peruser-steps R:S,.. [$peruser_steps]
  --peruser-warmup S [$peruser_warmup]       seconds of warm-up traffic before the measured steps
  --lp-n N [$lp_n]                parked long-polls released by one publish
  --legacy-n N [$legacy_n]             legacy_sim's share in idle and long-poll runs: it holds a
                                  thread, a socket and an SQLite handle per waiting poll and runs
                                  out of file descriptors (cap 20,000) at about 6,800 of them
  --backlog N [$backlog]              entries waiting during the re-poll run
  --wrk-conns N [$wrk_conns]  --wrk-seconds S [$wrk_seconds]  --pipeline-depth N [$pipeline_depth]
  --ingest-entries N [$ingest_entries]
  --sustain-p99-ms MS [$sustain_p99_ms]      a step is sustained when all is delivered and p99 <= MS
  --connect-rate R [$connect_rate]         new connections per second (Pushpin: a quarter of it)
  --skip-build                    use the binaries in \$CUTOVER_BUILD_DIR (default build/release) as they are
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --scenarios) scenarios=$2; shift ;;
    --targets) targets=$2; shift ;;
    --out) out=$2; shift ;;
    --idle-n) idle_n=$2; shift ;;
    --fanout-n) fanout_n=$2; shift ;;
    --fanout-steps) fanout_steps=$2; shift ;;
    --peruser-n) peruser_n=$2; shift ;;
    --peruser-steps) peruser_steps=$2; shift ;;
    --peruser-warmup) peruser_warmup=$2; shift ;;
    --lp-n) lp_n=$2; shift ;;
    --legacy-n) legacy_n=$2; shift ;;
    --backlog) backlog=$2; shift ;;
    --wrk-conns) wrk_conns=$2; shift ;;
    --wrk-seconds) wrk_seconds=$2; shift ;;
    --pipeline-depth) pipeline_depth=$2; shift ;;
    --ingest-entries) ingest_entries=$2; shift ;;
    --sustain-p99-ms) sustain_p99_ms=$2; shift ;;
    --connect-rate) connect_rate=$2; shift ;;
    --skip-build) skip_build=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
has() { [[ ",$1," == *",$2,"* ]]; }

[ -n "$out" ] || out="/tmp/cutover-bench-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out/raw" "$out/logs"
work=$(mktemp -d /tmp/cutover-bench-work.XXXXXX)
ulimit -n 20000 2>/dev/null || true

# ---------------------------------------------------------------- install and build

install_missing() {
  local pkgs=()
  command -v taskset >/dev/null || pkgs+=(util-linux)
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  # Only what the chosen targets and scenarios use.
  if has "$targets" nchan || has "$targets" nchan-redis; then
    command -v nginx >/dev/null || pkgs+=(nginx-light)
    [ -e /usr/lib/nginx/modules/ngx_nchan_module.so ] || pkgs+=(libnginx-mod-nchan)
  fi
  if has "$targets" pushpin; then command -v pushpin >/dev/null || pkgs+=(pushpin); fi
  if has "$scenarios" repoll; then command -v wrk >/dev/null || pkgs+=(wrk); fi
  if has "$targets" socketio; then
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
  fi
  if [ ${#pkgs[@]} -gt 0 ]; then
    log "installing ${pkgs[*]} (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >"$out/logs/apt.log" 2>&1 ||
      { apt-get update >>"$out/logs/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >>"$out/logs/apt.log" 2>&1; }
  fi
  # The packages start their own services; this script runs its own copies on free ports.
  if has "$targets" socketio && [ ! -d "$bench/node/node_modules/socket.io" ]; then
    log "installing socket.io (npm ci in tools/bench/node)"
    (cd "$bench/node" && npm ci --no-audit --no-fund >"$out/logs/npm.log" 2>&1)
  fi
}

build_all() {
  [ "$skip_build" = 1 ] && return
  [ -f "$build/CMakeCache.txt" ] || (cd "$root" && cmake --preset release >"$out/logs/configure.log" 2>&1)
  # The tree may be mid-edit by others: retry a failing build a few times.
  for attempt in 1 2 3 4 5; do
    if (cd "$root" && cmake --build "$build" -j2 --target cutover legacy_sim ingest_bench loadgen) \
        >"$out/logs/build.log" 2>&1; then
      return
    fi
    log "build failed (attempt $attempt, see $out/logs/build.log); retrying in 60 s"
    sleep 60
  done
  echo "run.sh: the release build does not compile; see $out/logs/build.log" >&2
  exit 1
}

install_missing
build_all
cutover_bin="$build/proxy/app/cutover"
legacy_bin="$build/tools/legacy_sim/legacy_sim"
ingest_bin="$build/tools/bench/ingest_bench"
loadgen_bin="$build/tools/bench/loadgen"
needed=("$cutover_bin" "$loadgen_bin")
has "$targets" legacy && needed+=("$legacy_bin")
has "$scenarios" ingest && needed+=("$ingest_bin")
for b in "${needed[@]}"; do
  [ -x "$b" ] || { echo "run.sh: missing $b" >&2; exit 1; }
done

# ---------------------------------------------------------------- processes

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 "$bench/report.py" free-port; }

# spawn NAME CORE CMD...: runs CMD in a session of its own (so its children stop with it),
# pinned to CORE; sets $spawned to its pid (= its process group).
spawn() {
  local name=$1 core=$2
  shift 2
  # A fresh file each time: wait_for must never read a previous run's "listening" line.
  rm -f "$work/$name.out" "$work/$name.err"
  : >"$work/$name.out"
  setsid taskset -c "$core" "$@" >>"$work/$name.out" 2>"$work/$name.err" </dev/null &
  spawned=$!
  pids+=("$spawned")
}

stop() {
  local p=$1 i
  kill -TERM -- "-$p" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# wait_for FILE REGEX SECONDS: prints the first matching line once it appears.
wait_for() {
  local file=$1 re=$2 secs=$3 i
  for i in $(seq $((secs * 10))); do
    if grep -m1 -E "$re" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "run.sh: timed out waiting for /$re/ in $file:" >&2
  tail -n 20 "$file" "${file%.out}.err" >&2 2>/dev/null || true
  return 1
}

wait_http() {  # PORT PATH SECONDS
  local i
  for i in $(seq $(($3 * 10))); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$1$2" && return 0
    sleep 0.1
  done
  return 1
}

start_redis() {
  redis_pid=""
  redis_port=$(free_port)
  spawn "redis-$redis_port" 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --protected-mode no --dir "$work"
  redis_pid=$spawned
  local i
  for i in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "run.sh: redis-server did not start" >&2
  return 1
}

# Per target: target_pid (the measured process tree), port, and the loadgen arguments that
# say how to subscribe and publish on it. Extra pids (redis, origin) go to aux_pids.
start_target() {
  local t=$1 extra_threads=${2:-0}
  aux_pids=()
  target_pid=""
  target_connect_rate=$connect_rate
  sse_path=''  # SSE runs only where a target sets it (Cutover /v1/events, Nchan eventsource)
  case "$t" in
    cutover|cutover-after|cutover-sio)
      start_redis || return 1
      aux_pids+=("$redis_pid")
      local db="$work/cutover-$RANDOM.db" after=()
      [ "$t" = cutover-after ] && after=(--deliver-after-commit)
      spawn cutover 0 "$cutover_bin" serve --listen 127.0.0.1:0 --db "$db" --redis "redis://127.0.0.1:$redis_port" \
        --auth insecure-query --threads 1 --shared-topic all --poll-timeout 600 \
        --max-connections 19900 --max-waiting-polls 19900 --stream-start '$' ${after[@]+"${after[@]}"}
      target_pid=$spawned
      port=$(wait_for "$work/cutover.out" 'listening on' 20 | sed -E 's/.*:([0-9]+)$/\1/')
      [ -n "$port" ] || return 1
      wait_http "$port" /readyz 20 || true
      ws_path='/v1/ws?user={i}'; lp_path='/api/notifications/poll?user={i}'; lp_style=cutover
      sse_path='/v1/events?user={i}'
      shared_topic=all; user_topic='user:{i}'; idle_topic='user:{i}'
      pub=(--pub redis --pub-port "$redis_port" --pub-stream cutover:notifications)
      if [ "$t" = cutover-sio ]; then
        # Socket.IO over the Engine.IO WebSocket transport (issue 14), the same server.
        ws_path='/socket.io/?EIO=4&transport=websocket&user={i}'; lp_path=''; sse_path=''
      fi
      ;;
    legacy)
      # legacy_sim is its own app: its own database, fed through its own admin route.
      local db="$work/legacy-$RANDOM.db"
      spawn legacy 0 "$legacy_bin" --listen 127.0.0.1:0 --db "$db" --threads $((64 + extra_threads)) \
        --channel all --wait 600 --page-size 100 --allow-user-param
      target_pid=$spawned
      port=$(wait_for "$work/legacy.out" 'listening on' 20 | sed -E 's/.*:([0-9]+)$/\1/')
      [ -n "$port" ] || return 1
      ws_path=''; lp_path='/rest/inbox/updates?user={i}'; lp_style=inbox
      shared_topic=all; user_topic='user:{i}'; idle_topic='user:{i}'
      pub=(--pub http --pub-port "$port" --pub-path '/admin/events?to={topic}&kind=bench')
      ;;
    nchan|nchan-redis)
      port=$(free_port)
      local dir="$work/nginx-$port"
      mkdir -p "$dir"
      local store="" upstream=""
      if [ "$t" = nchan-redis ]; then
        start_redis || return 1
        aux_pids+=("$redis_pid")
        upstream="upstream bench_redis { nchan_redis_server redis://127.0.0.1:$redis_port; }"
        store="nchan_redis_pass bench_redis;"
      fi
      cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 19900; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_timeout 600s;
  keepalive_requests 10000000;
  nchan_shared_memory_size 512M;
  $upstream
  server {
    listen 127.0.0.1:$port backlog=4096;
    location ~ ^/sub/(.+)\$ {
      nchan_subscriber websocket longpoll eventsource;
      nchan_channel_id \$1;
      nchan_subscriber_timeout 3600;
      nchan_subscriber_first_message newest;
      $store
    }
    location ~ ^/pub/(.+)\$ {
      nchan_publisher http;
      nchan_channel_id \$1;
      nchan_message_buffer_length $((backlog > 100 ? backlog : 100));
      nchan_message_timeout 1h;
      $store
    }
  }
}
EOF
      spawn "nginx-$port" 0 nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log"
      target_pid=$spawned
      wait_http "$port" /nothing 20 || return 1
      ws_path='/sub/{topic}'; lp_path='/sub/{topic}'; lp_style=nchan; sse_path='/sub/{topic}'
      shared_topic=all; user_topic='u{i}'; idle_topic='u{i}'
      pub=(--pub http --pub-port "$port" --pub-path '/pub/{topic}')
      ;;
    pushpin)
      port=$(free_port)
      local origin_port push_port dir
      origin_port=$(free_port); push_port=$(free_port)
      dir="$work/pushpin-$port"
      mkdir -p "$dir/run" "$dir/log"
      echo "* 127.0.0.1:$origin_port,over_http" >"$dir/routes"
      # message_rate/message_hwm raised from 2,500/25,000: the default caps deliveries per
      # second far below what a fan-out to 10,000 subscribers needs.
      cat >"$dir/pushpin.conf" <<EOF
[global]
include={libdir}/internal.conf
rundir=$dir/run
ipc_prefix=bench-
port_offset=0
stats_connection_ttl=120
[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=$port
logdir=$dir/log
log_level=2
client_buffer_size=8192
client_maxconn=50000
[proxy]
routesfile=routes
zurl_out_specs=ipc://{rundir}/{ipc_prefix}zurl-in
zurl_out_stream_specs=ipc://{rundir}/{ipc_prefix}zurl-in-stream
zurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out
debug=false
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
sig_iss=pushpin
sig_key=bench-$RANDOM$RANDOM
updates_check=off
[handler]
push_in_spec=ipc://{rundir}/{ipc_prefix}push-in
push_in_sub_specs=ipc://{rundir}/{ipc_prefix}push-in-sub
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port=$push_port
stats_spec=ipc://{rundir}/{ipc_prefix}stats
command_spec=ipc://{rundir}/{ipc_prefix}command
message_rate=10000000
message_hwm=10000000
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
EOF
      spawn grip 0 python3 "$bench/grip_origin.py" "$origin_port"
      aux_pids+=("$spawned")
      wait_for "$work/grip.out" 'listening' 10 >/dev/null || return 1
      spawn "pushpin-$port" 0 pushpin --config "$dir/pushpin.conf"
      target_pid=$spawned
      wait_http "$push_port" /publish/ 30 || true
      wait_http "$port" /nothing 30 || return 1
      ws_path='/ws/{topic}'; lp_path='/lp/{topic}'; lp_style=plain
      shared_topic=all; user_topic='u{i}'; idle_topic='u{i}'
      pub=(--pub http --pub-port "$push_port" --pub-path /publish/ --pub-format pushpin)
      target_connect_rate=$((connect_rate / 4))
      ;;
    socketio)
      spawn sio 0 node "$bench/node/sio_server.js" 0
      target_pid=$spawned
      port=$(wait_for "$work/sio.out" 'listening on' 20 | sed -E 's/.*:([0-9]+)$/\1/')
      [ -n "$port" ] || return 1
      ws_path='/socket.io/?EIO=4&transport=websocket&room={topic}'; lp_path=''; lp_style=plain
      shared_topic=all; user_topic='u{i}'; idle_topic='u{i}'
      pub=(--pub http --pub-port "$port" --pub-path '/publish/{topic}')
      ;;
    *) echo "run.sh: unknown target $t" >&2; exit 2 ;;
  esac
  sleep 1  # let the target finish starting before the baseline RSS is taken
}

# up TARGET [threads]: start_target, or say why not and clean up (the run goes on).
up() {
  if start_target "$@"; then return 0; fi
  log "$1 did not start; skipping it here (logs in $out/logs/)"
  stop_target
  return 1
}

stop_target() {
  [ -n "$target_pid" ] && stop "$target_pid"
  local p
  for p in "${aux_pids[@]}"; do stop "$p"; done
  # keep the targets' own logs next to the figures
  for p in "$work"/*.err "$work"/*/log/*.log "$work"/nginx-*/error.log; do
    [ -s "$p" ] && cp "$p" "$out/logs/target-$(basename "$(dirname "$p")")-$(basename "$p")" 2>/dev/null
  done
  return 0
}

has_sse() {  # target: does it serve Server-Sent Events here (sets sse_path when started)
  case "$1" in cutover|cutover-after|nchan|nchan-redis) return 0 ;; *) return 1 ;; esac
}

kind_for() {  # target -> loadgen --kind for its WebSocket-like transport
  case "$1" in socketio|cutover-sio) echo sio ;; *) echo ws ;; esac
}

loadgen() {  # NAME ARGS...: loadgen on core 1 against the current target; JSON into raw/NAME.json
  local name=$1
  shift
  log "$name"
  taskset -c 1 "$loadgen_bin" --label "$name" --port "$port" --server-pid "$target_pid" \
    --connect-rate "$target_connect_rate" --sustain-p99-ms "$sustain_p99_ms" \
    --json "$out/raw/$name.json" "$@" 2>"$out/logs/$name.err" | tee -a "$out/logs/summary.txt" || true
  cat "$out/logs/$name.err" >&2
}

# ---------------------------------------------------------------- scenarios

scenario_idle() {
  local t
  for t in ${targets//,/ }; do
    if [ "$t" != legacy ]; then
      up "$t" && loadgen "idle__${t}__ws" --kind "$(kind_for "$t")" --path "$ws_path" --topic "$idle_topic" --conns "$idle_n" \
        --pub none --hold 5
      stop_target
    fi
    if has_sse "$t"; then
      up "$t" && loadgen "idle__${t}__sse" --kind sse --path "$sse_path" --topic "$idle_topic" --conns "$idle_n" \
        --pub none --hold 5
      stop_target
    fi
    if [ "$t" != socketio ] && [ "$t" != cutover-sio ]; then
      local n=$idle_n
      [ "$t" = legacy ] && [ "$legacy_n" -lt "$n" ] && n=$legacy_n
      up "$t" "$n" && loadgen "idle__${t}__lp" --kind lp --lp-style "$lp_style" --path "$lp_path" --topic "$idle_topic" \
        --conns "$n" --pub none --hold 5
      stop_target
    fi
  done
}

scenario_fanout() {
  local t
  for t in ${targets//,/ }; do
    [ "$t" = legacy ] && continue
    up "$t" || continue
    loadgen "fanout__${t}__ws" --kind "$(kind_for "$t")" --path "$ws_path" --topic "$shared_topic" \
      --conns "$fanout_n" "${pub[@]}" --steps "$fanout_steps" --drain 10
    stop_target
    has_sse "$t" || continue
    up "$t" || continue
    loadgen "fanout__${t}__sse" --kind sse --path "$sse_path" --topic "$shared_topic" \
      --conns "$fanout_n" "${pub[@]}" --steps "$fanout_steps" --drain 10
    stop_target
  done
}

scenario_peruser() {
  local t
  for t in ${targets//,/ }; do
    [ "$t" = legacy ] && continue
    up "$t" || continue
    loadgen "peruser__${t}__ws" --kind "$(kind_for "$t")" --path "$ws_path" --topic "$user_topic" \
      --conns "$peruser_n" "${pub[@]}" --steps "$peruser_steps" --drain 10 --warmup-seconds "$peruser_warmup"
    stop_target
  done
}

# wrk against the current target: NAME WHAT URL [wrk options, e.g. -H 'Header: value'] [-- script args]
run_wrk() {
  local name=$1 what=$2 url=$3
  shift 3
  local before after
  log "$name: wrk -c$wrk_conns -d${wrk_seconds}s $* $url"
  before=$(python3 "$bench/report.py" procstat "$target_pid")
  local pre=() post=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pre+=("$1"); shift; done
  [ $# -gt 0 ] && shift && post=(-- "$@")
  taskset -c 1 wrk -t1 -c"$wrk_conns" -d"${wrk_seconds}s" --latency "${pre[@]}" "$url" "${post[@]}" \
    >"$out/logs/$name.wrk" 2>&1 || true
  after=$(python3 "$bench/report.py" procstat "$target_pid")
  local cpu_pct
  cpu_pct=$(python3 -c "import sys; b=float('$before'.split()[1]); a=float('$after'.split()[1]); print(100*(a-b)/$wrk_seconds)")
  python3 "$bench/report.py" wrk "$out/logs/$name.wrk" "$name" "$out/raw/$name.json" \
    "{\"what\": \"$what\", \"server_cpu_pct\": $cpu_pct, \"connections\": $wrk_conns, \"seconds\": $wrk_seconds}"
  grep -E "Requests/sec|Non-2xx" "$out/logs/$name.wrk" | sed "s/^/$name: /" | tee -a "$out/logs/summary.txt" >&2 || true
}

legacy_id_of() {  # stream id <ms>-<seq> -> legacyId
  local ms=${1%-*} seq=${1#*-}
  [ "$seq" -gt 1023 ] && seq=1023
  echo $((ms * 1024 + seq))
}

scenario_longpoll() {
  local t
  # 4a: parked polls released by one publish. No warm-up message: every first poll already
  # waits for the next entry, and a warm-up would make all of them re-poll at once (Pushpin
  # then answers most with 502: zurl allows 2,000 open requests to the origin).
  for t in ${targets//,/ }; do
    case "$t" in socketio|cutover-sio) continue ;; esac
    local n=$lp_n
    [ "$t" = legacy ] && [ "$legacy_n" -lt "$n" ] && n=$legacy_n
    up "$t" "$n" || continue
    loadgen "lprelease__${t}__lp" --kind lp --lp-style "$lp_style" --path "$lp_path" --topic "$shared_topic" \
      --conns "$n" "${pub[@]}" --steps 1:1 --drain 30 --settle 5 --no-warmup
    stop_target
  done
}

scenario_repoll() {
  local t
  # 4b: re-poll throughput with a backlog waiting: every request is answered at once.
  # Plain keep-alive requests (what legacy clients send), then the same pipelined, because
  # one wrk thread on core 1 cannot offer more than ~30,000 unpipelined requests/s here.
  for t in ${targets//,/ }; do
    case "$t" in
      legacy)
        up "$t" "$wrk_conns" || continue
        # Its own ids: the backlog is evt_1 .. evt_$backlog.
        python3 "$bench/report.py" post "$port" "/admin/events?to=all&kind=bench" "$backlog"
        run_wrk "repoll__${t}__one" "newest entry (1 per answer)" \
          "http://127.0.0.1:$port/rest/inbox/updates?user=1&after=evt_$((backlog - 1))"
        # legacy_sim (cpp-httplib) serves pipelined requests at a few per second: not measured.
        run_wrk "repoll__${t}__batch" "after=evt_0 (a page of 100)" \
          "http://127.0.0.1:$port/rest/inbox/updates?user=1&after=evt_0"
        stop_target
        ;;
      cutover|cutover-after)
        up "$t" "$wrk_conns" || continue
        python3 "$bench/report.py" xadd "$redis_port" cutover:notifications all "$backlog"
        local ids second newest
        ids=$(redis-cli -p "$redis_port" XREVRANGE cutover:notifications + - COUNT 2 | grep -E '^[0-9]+-[0-9]+$')
        newest=$(legacy_id_of "$(echo "$ids" | sed -n 1p)")
        second=$(legacy_id_of "$(echo "$ids" | sed -n 2p)")
        # wait until the store holds the newest entry
        local i
        for i in $(seq 100); do
          curl -s -m 2 "http://127.0.0.1:$port/api/notifications/poll?user=1&since=$second" | grep -q "\"lastId\":$newest" && break
          sleep 0.2
        done
        run_wrk "repoll__${t}__one" "newest entry (1 per answer)" \
          "http://127.0.0.1:$port/api/notifications/poll?user=1&since=$second"
        run_wrk "repoll__${t}__pipelined" "newest entry, $pipeline_depth pipelined per write" \
          "http://127.0.0.1:$port/api/notifications/poll?user=1&since=$second" -s "$bench/pipeline.lua" -- "$pipeline_depth"
        run_wrk "repoll__${t}__batch" "since=0 (a batch of 100)" \
          "http://127.0.0.1:$port/api/notifications/poll?user=1&since=0"
        stop_target
        ;;
      nchan|nchan-redis)
        up "$t" || continue
        python3 "$bench/report.py" post "$port" /pub/all "$backlog"
        run_wrk "repoll__${t}__one" "oldest buffered message (1 per answer)" "http://127.0.0.1:$port/sub/all" \
          -H "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT" -H "If-None-Match: 0"
        run_wrk "repoll__${t}__pipelined" "oldest buffered message, $pipeline_depth pipelined per write" \
          "http://127.0.0.1:$port/sub/all" -H "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT" \
          -H "If-None-Match: 0" -s "$bench/pipeline.lua" -- "$pipeline_depth"
        stop_target
        ;;
    esac
  done
}

scenario_ingest() {
  has "$targets" cutover || return 0
  start_redis
  log "ingest__cutover__stream: ingest_bench --entries $ingest_entries (ingest on core 0, redis on core 1)"
  taskset -c 0 "$ingest_bin" --redis "redis://127.0.0.1:$redis_port" --entries "$ingest_entries" \
    --json "$out/raw/ingest__cutover__stream.json" 2>&1 | tee -a "$out/logs/summary.txt" >&2 || true
  stop "$redis_pid"
}

# ---------------------------------------------------------------- main

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "cutover: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release build, $build)"
  echo "nginx: $(nginx -v 2>&1 | sed 's/.*\///'), nchan: $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)"
  echo "pushpin: $(dpkg-query -W -f='${Version}' pushpin 2>/dev/null), node: $(node --version), socket.io: $(node -p "require('$bench/node/node_modules/socket.io/package.json').version" 2>/dev/null)"
  echo "redis: $(redis-server --version | awk '{print $3}'), wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
  echo "args: scenarios=$scenarios targets=$targets idle_n=$idle_n fanout_n=$fanout_n fanout_steps=$fanout_steps peruser_n=$peruser_n peruser_steps=$peruser_steps lp_n=$lp_n legacy_n=$legacy_n backlog=$backlog wrk=${wrk_conns}x${wrk_seconds}s pipeline_depth=$pipeline_depth ingest_entries=$ingest_entries"
} >"$out/environment.txt"
cat "$out/environment.txt" >&2

for s in ${scenarios//,/ }; do
  case "$s" in
    idle) scenario_idle ;;
    fanout) scenario_fanout ;;
    peruser) scenario_peruser ;;
    longpoll) scenario_longpoll ;;
    repoll) scenario_repoll ;;
    ingest) scenario_ingest ;;
    *) echo "run.sh: unknown scenario $s" >&2; exit 2 ;;
  esac
done

python3 "$bench/report.py" tables "$out/raw" "$out/results"
mv "$out/results.md" "$out/tables.md"
log "tables: $out/tables.md, figures: $out/results.json, raw runs: $out/raw/"
