#!/usr/bin/env bash
# Starts a Redis Cluster on loopback for the stores bench (three primaries, one replica each,
# ports 7100-7105 unless CLUSTER_BASE_PORT says otherwise) and prints REDIS_CLUSTER_URL;
# `bash benches/cluster.sh stop` stops it.
#   eval "$(bash benches/cluster.sh)" && cargo bench --features redis,postgres --bench stores
set -euo pipefail
base=${CLUSTER_BASE_PORT:-7100}
dir=${TMPDIR:-/tmp}/tjs-bench-cluster
ports=$(seq "$base" $((base + 5)))
if [ "${1:-}" = stop ]; then
  for p in $ports; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$dir"
  exit 0
fi
mkdir -p "$dir"
for p in $ports; do
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "nodes-$p.conf" \
    --cluster-node-timeout 1000 --dir "$dir" --save "" --appendonly no --daemonize yes \
    --logfile "$dir/$p.log" >/dev/null
done
for p in $ports; do
  for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
nodes=$(for p in $ports; do printf '127.0.0.1:%s ' "$p"; done)
# shellcheck disable=SC2086
redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes >/dev/null
for _ in $(seq 100); do
  ok=1
  for p in $ports; do redis-cli -p "$p" cluster info | grep -q cluster_state:ok || ok=0; done
  [ "$ok" = 1 ] && break
  sleep 0.1
done
# Every primary's replica in sync, so that writes are measured with their WAIT.
for _ in $(seq 100); do
  online=0
  for p in $ports; do redis-cli -p "$p" info replication | grep -q 'state=online' && online=$((online + 1)); done
  [ "$online" -ge 3 ] && break
  sleep 0.1
done
echo "export REDIS_CLUSTER_URL=$(for p in $ports; do printf 'redis://127.0.0.1:%s,' "$p"; done | sed 's/,$//')"
