#!/usr/bin/env bash
# The main job on one machine: a redis-server on 127.0.0.1:6379 (started here, with its
# data under var/redis/, when none answers), the store in var/cutover.db, and
# `cutover serve` on 127.0.0.1:8080 with token auth, a development secret in var/, and
# --demo: the page at /demo connects over any transport and publishes with one click.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/proxy/app/cutover
mkdir -p var/redis

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "run-local: no redis-server on 127.0.0.1:6379; starting one (data and log in var/redis/)" >&2
  redis-server --port 6379 --bind 127.0.0.1 --dir "$PWD/var/redis" --appendonly yes \
    --daemonize yes --logfile "$PWD/var/redis/redis.log" --pidfile "$PWD/var/redis/redis.pid"
  for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "run-local: that redis-server keeps running after Cutover stops (the stream is its data); stop it with: redis-cli -p 6379 shutdown" >&2
fi

[ -s var/dev-secret ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > var/dev-secret
secret=$(cat var/dev-secret)
token=$("$bin" token --secret "$secret" --user demo --ttl 30d)

cat >&2 <<INFO
run-local: serving on http://127.0.0.1:8080 (Ctrl-C stops it). In another terminal:
  # publish to user "demo" (either way):
  redis-cli XADD cutover:notifications '*' topic user:demo type task.completed data '{"task":1}'
  $bin publish --redis redis://127.0.0.1:6379 --topic user:demo --type task.completed '{"task":2}'
  # the legacy long-poll (answers at once with the backlog, else waits up to 30 s):
  curl -s 'http://127.0.0.1:8080/api/notifications/poll?since=0' -H 'Authorization: Bearer $token'
  # the WebSocket:
  node --experimental-websocket tools/ws-watch.mjs 'ws://127.0.0.1:8080/v1/ws?since=0&access_token=$token'
Or open the demo page (pick a transport, Connect, Publish; cutover prints its URL last once listening):
  http://127.0.0.1:8080/demo
INFO

exec "$bin" serve --listen 127.0.0.1:8080 --db var/cutover.db --redis redis://127.0.0.1:6379 \
  --token-secret "$secret" --shared-topic all --demo
