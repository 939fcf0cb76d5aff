#!/usr/bin/env bash
# Whole stack: requests/s of an axum hello-world with and without the session layer, over
# loopback, measured with wrk, and the server's CPU time per request (user + system, from
# /proc/<pid>/stat over the wrk run). The server runs on core 0, wrk on core 1.
#   DURATION=10s CONNECTIONS=32 bash benches/whole_stack.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-3999}
ADDR=127.0.0.1:$PORT

if ! command -v wrk >/dev/null; then
  echo "installing wrk (not found on this machine)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --example bench_server >&2
BIN=target/release/examples/bench_server
TOKEN_FILE=$(mktemp)
SERVER=""
trap 'kill $SERVER 2>/dev/null || true; rm -f "$TOKEN_FILE"' EXIT

run() {
  local mode=$1 auth=()
  MODE=$mode APP_ADDR=$ADDR TOKEN_FILE=$TOKEN_FILE taskset -c 0 "$BIN" &
  SERVER=$!
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://$ADDR/" -H "authorization: Bearer $(cat "$TOKEN_FILE" 2>/dev/null)" && break
    sleep 0.1
  done
  # Every run sends the token, so that all of them carry the same bytes; without the layer
  # the app ignores it. With the layer it must be accepted, or we would measure refusals.
  auth=(-H "authorization: Bearer $(cat "$TOKEN_FILE")")
  test "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://$ADDR/")" = 200
  local out rps requests before after
  before=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "${auth[@]}" "http://$ADDR/")
  after=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  kill $SERVER; wait $SERVER 2>/dev/null || true
  : > "$TOKEN_FILE"
  # Clock ticks to microseconds, per request.
  echo "$rps $(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "%.3f", t * 1e6 / hz / n }')"
}

read -r plain plain_cpu < <(run plain)
read -r identity identity_cpu < <(run identity)
read -r cached cached_cpu < <(run layer)
read -r nocache nocache_cpu < <(run layer-nocache)
echo "wrk -t1 -c$CONNECTIONS -d$DURATION, server pinned to core 0, wrk to core 1"
printf "%-44s %12s %7s %14s %12s\n" "server" "requests/s" "ratio" "CPU us/request" "added us"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'; }
printf "%-44s %12s %7s %14s %12s\n" "axum hello-world, no auth" "$plain" "1.00" "$plain_cpu" "-"
printf "%-44s %12s %7s %14s %12s\n" "with a layer that does nothing (Identity)" "$identity" \
  "$(ratio "$identity" "$plain")" "$identity_cpu" "$(added "$identity_cpu" "$plain_cpu")"
printf "%-44s %12s %7s %14s %12s\n" "with layer, reused token (cache hit)" "$cached" \
  "$(ratio "$cached" "$plain")" "$cached_cpu" "$(added "$cached_cpu" "$plain_cpu")"
printf "%-44s %12s %7s %14s %12s\n" "with layer, full verification every request" "$nocache" \
  "$(ratio "$nocache" "$plain")" "$nocache_cpu" "$(added "$nocache_cpu" "$plain_cpu")"
