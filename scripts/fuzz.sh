#!/usr/bin/env bash
# Runs each cargo-fuzz target for FUZZ_SECONDS (default 60), starting from the committed
# seeds in fuzz/corpus/<target>; new inputs go to a scratch directory, not into git.
# cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP=1 lets the stable toolchain build with
# -Zsanitizer=address.
#   FUZZ_SECONDS=60 bash scripts/fuzz.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(access refresh)

if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz (not found on this machine)" >&2
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
for target in "${TARGETS[@]}"; do
  mkdir -p "$SCRATCH/$target"
  echo "== fuzzing $target for ${SECONDS_EACH}s"
  cargo fuzz run "$target" "$SCRATCH/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    2>&1 | tee "$SCRATCH/$target.log" | grep -E '^(#[0-9]+ +(INITED|DONE)|Done|==[0-9]+==|SUMMARY|panicked)' || true
  if grep -qE 'ERROR: libFuzzer|SUMMARY: |panicked' "$SCRATCH/$target.log"; then
    echo "fuzz target $target found a failure; see the log above" >&2
    exit 1
  fi
  runs=$(grep -oE 'Done [0-9]+ runs' "$SCRATCH/$target.log" | grep -oE '[0-9]+' || echo 0)
  echo "$target: $runs executions in ${SECONDS_EACH}s, no crash, no 5xx"
done
