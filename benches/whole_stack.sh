#!/usr/bin/env bash
# Whole stack: requests/s of an axum hello-world with and without the session layer, over
# loopback, measured with wrk, and the server's CPU time per request (user + system, from
# /proc/<pid>/stat over the wrk run). The server runs on core 0, wrk on core 1. Two sets:
# every request with the same token (the layer then serves it from its cache), and every
# request with a token of its own (NEW_TOKENS of them, sent in turn by a wrk script: the
# layer verifies each, with its cache on; the run without the layer sends the same bytes).
#   DURATION=10s CONNECTIONS=32 NEW_TOKENS=200000 ROUNDS=5 bash benches/whole_stack.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-3999}
NEW_TOKENS=${NEW_TOKENS:-200000}
ROUNDS=${ROUNDS:-5}
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
# lands on one round of every case rather than on every round of one. Each round's figure is
# read against its own no-auth run of the same round, a few seconds apart; the table gives
# the median over the rounds of each: requests/s, their ratio, CPU per request, and the CPU
# added per request.
declare -A RPS
CASES="plain identity layer layer-around layer-wrapped layer-nocache plain-new layer-new"
for _ in $(seq "$ROUNDS"); do
  for c in $CASES; do
    case $c in
      *-new) read -r rps cpu < <(run "${c%-new}" "$NEW_TOKENS") ;;
      *) read -r rps cpu < <(run "$c") ;;
    esac
    RPS[$c]+="$rps,$cpu "
  done
done
# paired CASE BASE: the medians over the rounds of CASE's requests/s, of its ratio to BASE in
# the same round, of its CPU per request and of its CPU over BASE's in the same round.
paired() {
  awk -v a="${RPS[$1]}" -v b="${RPS[$2]}" '
    function median(v, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    BEGIN {
      n = split(a, x, " "); split(b, y, " ")
      for (i = 1; i <= n; i++) {
        split(x[i], p, ","); split(y[i], q, ",")
        rps[i] = p[1]; cpu[i] = p[2]; ratio[i] = p[1] / q[1]; added[i] = p[2] - q[2]
      }
      printf "%.0f %.2f %.3f %+.3f\n", median(rps, n), median(ratio, n), median(cpu, n), median(added, n)
    }'
}
echo "wrk -t1 -c$CONNECTIONS -d$DURATION, server pinned to core 0, wrk to core 1, medians of $ROUNDS interleaved rounds"
for c in $CASES; do echo "  rounds of $c (requests/s,CPU us): ${RPS[$c]}"; done
row() {
  read -r rps ratio cpu added < <(paired "$2" "$3")
  if [ "$2" = "$3" ]; then added="-"; fi
  printf "%-44s %12s %7s %14s %12s\n" "$1" "$rps" "$ratio" "$cpu" "$added"
}
printf "%-44s %12s %7s %14s %12s\n" "server" "requests/s" "ratio" "CPU us/request" "added us"
row "axum hello-world, no auth" plain plain
row "with a layer that does nothing (Identity)" identity plain
row "with layer, reused token (cache hit)" layer plain
row "the same, around the Router (README's form)" layer-around plain
row "the same, around the Router, served as it is" layer-wrapped plain
row "with layer, full verification every request" layer-nocache plain
echo "a token of its own for every request ($NEW_TOKENS in turn, by a wrk script):"
row "axum hello-world, no auth" plain-new plain-new
row "with layer (cache on), a new token each" layer-new plain-new
