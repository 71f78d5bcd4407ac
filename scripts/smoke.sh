#!/usr/bin/env bash
# Smoke test of the compiled binary, copied alone into an empty directory: against the
# PostgreSQL at $1, then on its embedded database (data kept across a restart), each time
# posting a real v1 webhook, reading it back with psql, and stopping with SIGTERM (exit 0).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
database_url="$1"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cp "$root/dist/collector" "$work/"
fixture="$root/test/fixtures/pagerduty/v1/incident.trigger__pagerduty-developer-docs.json"
cd "$work"

wait_ready() {
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/ready" >/dev/null && return 0; sleep 0.2; done
  echo "smoke: collector on :$1 never became ready" >&2; cat "$work"/*.log >&2; return 1
}
post() {
  status=$(curl -s -o "$work/post.json" -w '%{http_code}' -XPOST -H 'content-type: application/json' --data-binary "@$fixture" "http://127.0.0.1:$1/com.pagerduty/v1?aid=smoke")
  [ "$status" = 202 ] || { echo "smoke: POST answered $status: $(cat "$work/post.json")" >&2; return 1; }
}
stop() {
  kill -TERM "$1"
  wait "$1" && return 0
  echo "smoke: collector exited $? on SIGTERM" >&2; return 1
}
count() { # psql args..., prints the count once the row is there
  for _ in $(seq 1 50); do
    n=$(psql "$@" -Atc "select count(*) from atomic.com_pagerduty_incident_1 i join atomic.events e on e.event_id = i.root_id where e.app_id = 'smoke'" 2>/dev/null || echo 0)
    [ "$n" -ge 1 ] && { echo "$n"; return 0; }
    sleep 0.2
  done
  echo 0
}

./collector --version
# 1. External PostgreSQL.
DATABASE_URL="$database_url" ./collector --port 18601 --data-dir ./ext > ext.log 2>&1 & pid=$!
wait_ready 18601; post 18601; post 18601 # the same message twice: loads once
[ "$(count "$database_url")" = 1 ] || { echo "smoke: external database does not hold exactly one row" >&2; exit 1; }
stop $pid

# 2. Embedded database, served to psql, kept across a restart.
./collector --port 18602 --embedded-pg-port 18603 > emb.log 2>&1 & pid=$!
wait_ready 18602; post 18602
[ "$(count -h 127.0.0.1 -p 18603 -U postgres postgres)" = 1 ] || { echo "smoke: embedded database lacks the row" >&2; exit 1; }
stop $pid
./collector --port 18602 --embedded-pg-port 18603 > emb2.log 2>&1 & pid=$!
wait_ready 18602
[ "$(count -h 127.0.0.1 -p 18603 -U postgres postgres)" = 1 ] || { echo "smoke: the row did not survive a restart" >&2; exit 1; }
stop $pid
echo "smoke: ok (binary $(du -h collector | cut -f1), external and embedded database)"
