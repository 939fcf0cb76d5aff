#!/usr/bin/env bash
# Whole stack: requests/s of an axum hello-world with and without the session layer, over
# loopback, measured with wrk, and the server's CPU time per request (user + system, from
# /proc/<pid>/stat over the wrk run). The server runs on core 0, wrk on core 1. Two sets:
# every request with the same token (the layer then serves it from its cache), and every
# request with a token of its own (NEW_TOKENS of them, sent in turn by a wrk script: the
# layer verifies each, with its cache on; the run without the layer sends the same bytes).
#   DURATION=10s CONNECTIONS=32 NEW_TOKENS=200000 ROUNDS=3 bash benches/whole_stack.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-3999}
NEW_TOKENS=${NEW_TOKENS:-200000}
ROUNDS=${ROUNDS:-3}
ADDR=127.0.0.1:$PORT

if ! command -v wrk >/dev/null; then
  echo "installing wrk (not found on this machine)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --example bench_server >&2
BIN=target/release/examples/bench_server
TOKEN_FILE=$(mktemp)
SCRIPT=$(mktemp --suffix=.lua)
SERVER=""
trap 'kill $SERVER 2>/dev/null || true; rm -f "$TOKEN_FILE" "$SCRIPT"' EXIT
# Each request takes the next token of the file.
cat > "$SCRIPT" <<'LUA'
local tokens = {}
for line in io.lines(os.getenv("TOKEN_FILE")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
LUA

# run MODE [TOKENS]: one token sent by every request, or TOKENS tokens in turn.
run() {
  local mode=$1 count=${2:-1} auth=() script=()
  MODE=$mode TOKENS=$count APP_ADDR=$ADDR TOKEN_FILE=$TOKEN_FILE taskset -c 0 "$BIN" &
  SERVER=$!
  for _ in $(seq 600); do
    curl -s -o /dev/null "http://$ADDR/" -H "authorization: Bearer $(head -1 "$TOKEN_FILE" 2>/dev/null)" && break
    sleep 0.1
  done
  # Every run sends the tokens, so that all of them carry the same bytes; without the layer
  # the app ignores them. With the layer they must be accepted, or we would measure refusals.
  auth=(-H "authorization: Bearer $(head -1 "$TOKEN_FILE")")
  test "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://$ADDR/")" = 200
  test "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $(tail -1 "$TOKEN_FILE")" "http://$ADDR/")" = 200
  if [ "$count" -gt 1 ]; then script=(-s "$SCRIPT"); auth=(); fi
  local out rps requests before after
  before=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  out=$(TOKEN_FILE=$TOKEN_FILE taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "${script[@]}" "${auth[@]}" "http://$ADDR/")
  after=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  kill $SERVER; wait $SERVER 2>/dev/null || true
  : > "$TOKEN_FILE"
  # Clock ticks to microseconds, per request.
  echo "$rps $(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "%.3f", t * 1e6 / hz / n }')"
}

# Each case ROUNDS times, the cases interleaved, so that a disturbance of the shared VM
# lands on one round of every case rather than on every round of one; the median round of
# each case (by requests/s) is reported.
declare -A RPS
CASES="plain identity layer layer-nocache plain-new layer-new"
for _ in $(seq "$ROUNDS"); do
  for c in $CASES; do
    case $c in
      *-new) read -r rps cpu < <(run "${c%-new}" "$NEW_TOKENS") ;;
      *) read -r rps cpu < <(run "$c") ;;
    esac
    RPS[$c]+="$rps,$cpu "
  done
done
# median CASE: "requests/s cpu" of the case's median round.
median() {
  tr ' ' '\n' <<<"${RPS[$1]}" | grep . | sort -t, -k1 -g | awk -F, '{ r[NR] = $1; c[NR] = $2 }
    END { m = int((NR + 1) / 2); print r[m], c[m] }'
}
read -r plain plain_cpu < <(median plain)
read -r identity identity_cpu < <(median identity)
read -r cached cached_cpu < <(median layer)
read -r nocache nocache_cpu < <(median layer-nocache)
read -r plain_new plain_new_cpu < <(median plain-new)
read -r new new_cpu < <(median layer-new)
echo "wrk -t1 -c$CONNECTIONS -d$DURATION, server pinned to core 0, wrk to core 1, median of $ROUNDS interleaved rounds"
for c in $CASES; do echo "  rounds of $c (requests/s,CPU us): ${RPS[$c]}"; done
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
echo "a token of its own for every request ($NEW_TOKENS in turn, by a wrk script):"
printf "%-44s %12s %7s %14s %12s\n" "axum hello-world, no auth" "$plain_new" "1.00" "$plain_new_cpu" "-"
printf "%-44s %12s %7s %14s %12s\n" "with layer (cache on), a new token each" "$new" \
  "$(ratio "$new" "$plain_new")" "$new_cpu" "$(added "$new_cpu" "$plain_new_cpu")"
