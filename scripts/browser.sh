#!/usr/bin/env bash
# The example server driven by a real headless Chromium (scripts/browser/test.mjs): a page on
# one port calling the API on another, with ALLOWED_ORIGINS and REFRESH_COOKIE=1. Installs
# Debian's chromium and playwright-core (npm, no browser download) when missing; fails, never
# skips, when either cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  echo "installing chromium (not found on this machine)"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
chromium --version 2>/dev/null
(cd scripts/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

cargo build --example server
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
API_PORT=$(free_port)
APP_PORT=$(free_port)
APP_ADDR="127.0.0.1:$API_PORT" APP_SECRET=browser-test-secret-of-at-least-32-bytes \
  ALLOWED_ORIGINS="http://127.0.0.1:$APP_PORT" REFRESH_COOKIE=1 \
  "${CARGO_TARGET_DIR:-target}/debug/examples/server" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$API_PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$API_PORT/health" >/dev/null

API_URL="http://127.0.0.1:$API_PORT" APP_PORT="$APP_PORT" node scripts/browser/test.mjs
