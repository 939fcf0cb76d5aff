#!/usr/bin/env bash
# Soak: the example server under wrk for SOAK_SECONDS (default 60) with a mix of valid,
# expired, forged and refresh traffic (scripts/soak.lua). Loopback only, bounded in time.
# The first half runs alone; in the second, one account also floods the server with login +
# revoke (scripts/revoke_flood.py), past the revoked set's budget (SOAK_REVOCATION_BUDGET,
# default 200, so that the fail-closed fallback is exercised).
# Fails if any request got a 5xx, any answer was not the expected one, a revoked access
# token was accepted, p99 under the flood exceeded twice the p99 without it (plus 1 ms for
# timer noise), or resident memory kept growing over the last two thirds of the run.
#   SOAK_SECONDS=60 PROFILE=release bash scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TOTAL=${SOAK_SECONDS:-60}
PROFILE=${PROFILE:-release}
PORT=${SOAK_PORT:-3998}
ADDR=127.0.0.1:$PORT
SECRET=soak-test-secret-of-at-least-32-bytes!!

for tool in wrk curl; do
  if ! command -v $tool >/dev/null; then
    echo "installing $tool (not found on this machine)" >&2
    apt-get update -qq && apt-get install -y -qq $tool >/dev/null
  fi
done

if [ "$PROFILE" = release ]; then
  cargo build --release --example server >&2
  BIN=target/release/examples/server
else
  cargo build --example server >&2
  BIN=target/debug/examples/server
fi

BUDGET=${SOAK_REVOCATION_BUDGET:-200}
HALF=$(( (SECONDS_TOTAL + 1) / 2 ))
# A small token-cache budget, reached early: the flood's tokens then cannot pass for a leak.
APP_SECRET=$SECRET APP_ADDR=$ADDR REVOCATION_BUDGET=$BUDGET TOKEN_CACHE_BYTES=1048576 \
  "$BIN" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://$ADDR/health" && break
  sleep 0.1
done

LOGIN=$(curl -s -X POST -u testUser:testPassword "http://$ADDR/sessions/")
field() { python3 -c "import sys, json; print(json.load(sys.stdin)['$1'])"; }
export SOAK_ACCESS SOAK_REFRESH SOAK_EXPIRED SOAK_FORGED
SOAK_ACCESS=$(echo "$LOGIN" | field access_token)
SOAK_REFRESH=$(echo "$LOGIN" | field refresh_token)
# An expired token under the right secret, and a fresh one under another secret.
make_token() {
  python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret, offset = sys.argv[1].encode(), int(sys.argv[2])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
claims = {"sub": "u", "sid": "s", "iat": now - 3600, "exp": now + offset, "token_use": "access",
          "projects": {"pet-demo": True}, "user": {"id": "u", "name": "n", "active": True,
          "read": True, "write": True, "type": "project"}}
payload = b64(json.dumps(claims).encode())
sig = b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
print(f"{header}.{payload}.{sig}")
PY
}
SOAK_EXPIRED=$(make_token "$SECRET" -600)
SOAK_FORGED=$(make_token "another-secret-that-is-32-bytes-long!" 600)
test "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $SOAK_EXPIRED" "http://$ADDR/me")" = 401
test "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $SOAK_ACCESS" "http://$ADDR/me")" = 200

rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
SAMPLES=$(mktemp)
( while kill -0 $SERVER 2>/dev/null; do rss >> "$SAMPLES"; sleep 2; done ) &
SAMPLER=$!

soak() { wrk -t2 -c32 -d"${HALF}s" --timeout 5s -s scripts/soak.lua "http://$ADDR/" | grep '^SOAK'; }
PLAIN=$(soak)
FLOOD_OUT=$(mktemp)
python3 scripts/revoke_flood.py "$ADDR" "$HALF" > "$FLOOD_OUT" &
FLOODER=$!
FLOODED=$(soak)
wait $FLOODER
FLOOD=$(cat "$FLOOD_OUT")
kill $SAMPLER 2>/dev/null || true
echo "without the flood: $PLAIN"
echo "with the flood:    $FLOODED"
echo "the flood:         $FLOOD"

python3 - "$SAMPLES" "$PLAIN" "$FLOODED" "$FLOOD" "$BUDGET" <<'PY'
import sys
samples = [int(x) for x in open(sys.argv[1]).read().split()]
parse = lambda line: dict(kv.split("=") for kv in line.split()[1:])
plain, flooded, flood, budget = parse(sys.argv[2]), parse(sys.argv[3]), parse(sys.argv[4]), int(sys.argv[5])
third = max(1, len(samples) // 3)
start, end = samples[third - 1], samples[-1]
growth = (end - start) / start
failures = []
for name, fields in (("without the flood", plain), ("with the flood", flooded)):
    refused_share = int(fields["refused"]) / max(1, int(fields["requests"]))
    print(f"{name}: {fields['requests']} requests (200: {fields['ok']}, 401: {fields['refused']}), "
          f"5xx: {fields['5xx']}, unexpected answers: {fields['unexpected']}, p99: {fields['p99_ms']} ms")
    if int(fields["5xx"]) != 0:
        failures.append(f"5xx answers {name}")
    if int(fields["unexpected"]) != 0:
        failures.append(f"unexpected answers {name}")
    # Expired and forged tokens are 2 of every 10 requests.
    if not 0.15 <= refused_share <= 0.25:
        failures.append(f"{refused_share:.0%} of answers were 401 {name}, expected about 20%")
print(f"flood: {flood['rounds']} logins, {flood['revoked']} revoked (budget {budget}), "
      f"revoked tokens accepted: {flood['revoked_accepted']}, errors: {flood['errors']}")
print(f"RSS at start {samples[0]} KiB, after a third {start} KiB, at end {end} KiB "
      f"({growth:+.1%} over the last two thirds)")
if int(flood["revoked_accepted"]) != 0:
    failures.append("revoked access tokens were accepted")
if int(flood["errors"]) != 0:
    failures.append("the flood's own requests failed")
if int(flood["revoked"]) <= budget:
    failures.append("the flood never went past the revoked set's budget")
if float(flooded["p99_ms"]) > 2 * float(plain["p99_ms"]) + 1.0:
    failures.append("p99 under the flood exceeded twice the p99 without it")
if growth > 0.10 and end - start > 4096:
    failures.append("memory kept growing")
if failures:
    print("SOAK FAILED: " + ", ".join(failures))
    sys.exit(1)
print("soak passed")
PY
