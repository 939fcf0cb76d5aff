#!/usr/bin/env bash
# Each speed device with and without it, in one run: the access benchmarks on the code as it
# is, then once per patch of benches/without/ (each removes one device), each run with its own
# floors. Prints the table benches/README.md quotes. Needs a clean checkout (it applies and
# reverts the patches); ~15 min on 2 cores.
#   bash benches/devices.sh [output dir, default target/devices]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/devices}
rm -rf "$out"
filter='^access/(HS256/(floor|layer|layer_cached|layer_cached_single_use|hmac_alone)|base/(bare|bare_with_token|layer_no_token|(layer|floor)_rejected_bad_signature))$'
run() { CRITERION_HOME="$out/$1" cargo bench --bench access -- "$filter"; }

git diff --quiet -- src || { echo "src/ has uncommitted changes" >&2; exit 1; }
run with
CRITERION_HOME="$out/with" cargo bench --bench scaling -- '^router/router_(bare|identity|layer|axum_layer)$'
for patch in benches/without/*.patch; do
  name=$(basename "$patch" .patch)
  git apply "$patch"
  # Revert even when the run fails, so that the checkout is left as it was.
  trap 'git apply -R "$patch"' EXIT
  run "$name"
  git apply -R "$patch"
  trap - EXIT
done
python3 benches/devices.py "$out"
