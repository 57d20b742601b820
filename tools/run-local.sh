#!/usr/bin/env bash
# The main job on one machine: a redis-server on 127.0.0.1:6379 (started here, with its
# data under var/, when none answers) and the store under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/proxy/app/cutover
mkdir -p var/redis

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "run-local: no redis-server on 127.0.0.1:6379; starting one (data and log in var/redis/)" >&2
  redis-server --port 6379 --bind 127.0.0.1 --dir "$PWD/var/redis" --appendonly yes \
    --daemonize yes --logfile "$PWD/var/redis/redis.log" --pidfile "$PWD/var/redis/redis.pid"
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

"$bin" db migrate --db var/cutover.db
echo "run-local: the store is ready; \`cutover serve\` arrives with the serving work (issue 4)." >&2
