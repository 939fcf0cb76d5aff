#!/usr/bin/env bash
# Whole stack: requests/s of an axum hello-world with and without the session layer, over
# loopback, measured with wrk. The server runs on core 0, wrk on core 1.
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
  if [ "$mode" != plain ]; then
    auth=(-H "authorization: Bearer $(cat "$TOKEN_FILE")")
    # The token must be accepted, or we would measure refusals.
    test "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://$ADDR/")" = 200
  fi
  local rps
  rps=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "${auth[@]}" "http://$ADDR/" \
    | awk '/Requests\/sec/ {print $2}')
  kill $SERVER; wait $SERVER 2>/dev/null || true
  : > "$TOKEN_FILE"
  echo "$rps"
}

plain=$(run plain)
cached=$(run layer)
nocache=$(run layer-nocache)
echo "wrk -t1 -c$CONNECTIONS -d$DURATION, server pinned to core 0, wrk to core 1"
printf "%-42s %12s %8s\n" "server" "requests/s" "ratio"
printf "%-42s %12s %8s\n" "axum hello-world, no auth" "$plain" "1.00"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf "%-42s %12s %8s\n" "with layer, reused token (cache hit)" "$cached" "$(ratio "$cached" "$plain")"
printf "%-42s %12s %8s\n" "with layer, full verification every request" "$nocache" "$(ratio "$nocache" "$plain")"
