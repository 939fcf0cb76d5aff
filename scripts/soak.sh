#!/usr/bin/env bash
# Soak: the example server under wrk for SOAK_SECONDS (default 60) with a mix of valid,
# expired, forged and refresh traffic (scripts/soak.lua). Loopback only, bounded in time.
# Fails if any request got a 5xx, any answer was not the expected one, or resident memory
# kept growing over the last third of the run.
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

APP_SECRET=$SECRET APP_ADDR=$ADDR "$BIN" 2>/dev/null &
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

RESULT=$(wrk -t2 -c32 -d"${SECONDS_TOTAL}s" --timeout 5s -s scripts/soak.lua "http://$ADDR/" | grep '^SOAK')
kill $SAMPLER 2>/dev/null || true
echo "$RESULT"

python3 - "$SAMPLES" "$RESULT" <<'PY'
import sys
samples = [int(x) for x in open(sys.argv[1]).read().split()]
fields = dict(kv.split("=") for kv in sys.argv[2].split()[1:])
third = max(1, len(samples) // 3)
start, end = samples[third - 1], samples[-1]
growth = (end - start) / start
refused_share = int(fields["refused"]) / max(1, int(fields["requests"]))
print(f"requests served: {fields['requests']} (200: {fields['ok']}, 401: {fields['refused']}), "
      f"5xx: {fields['5xx']}, unexpected answers: {fields['unexpected']}, "
      f"p99: {fields['p99_ms']} ms, RSS at start {samples[0]} KiB, after a third {start} KiB, at end {end} KiB "
      f"({growth:+.1%} over the last two thirds)")
failures = []
if int(fields["5xx"]) != 0:
    failures.append("5xx answers")
if int(fields["unexpected"]) != 0:
    failures.append("unexpected answers")
# Expired and forged tokens are 2 of every 10 requests.
if not 0.15 <= refused_share <= 0.25:
    failures.append(f"{refused_share:.0%} of answers were 401, expected about 20%")
if growth > 0.10 and end - start > 4096:
    failures.append("memory kept growing")
if failures:
    print("SOAK FAILED: " + ", ".join(failures))
    sys.exit(1)
print("soak passed")
PY
