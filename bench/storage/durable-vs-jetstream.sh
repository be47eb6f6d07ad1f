#!/usr/bin/env bash
# felix-ts durable streams vs NATS JetStream file storage, the same latencydemo workloads, trials
# alternating between the systems (issue 13, item 8):
#   npm run build && flock /tmp/felix-bench.lock bash bench/storage/durable-vs-jetstream.sh [trials] > out.tsv
# felix-ts: latencydemo against its spawned broker with every stream durable (FELIX_DURABLE_DEFAULT=1,
# FELIX_DURABLE_FSYNC=${FSYNC:-periodic}, FELIX_ACK_ON_COMMIT=${ACK_ON_COMMIT:-0}), one publish connection
# and stream, one event connection per subscriber, batch 64 binary (as the NATS comparison);
# JetStream: bench/storage/jetstream-latency.ts (nats-server -js, file storage, PubAck per publish). Both
# keep the same batches in flight: latencydemo's default --pub-window, which the JetStream harness takes too.
# Prints: system workload delivered_msgs p50_us p99_us valid.
set -euo pipefail
trials=${1:-3}
here=$(cd "$(dirname "$0")/../.." && pwd)
data=$(mktemp -d /tmp/felix-vs-js.XXXXXX)
trap 'rm -rf "$data"' EXIT
workloads=("--fanout 1 --batch 1 --payload 256 --warmup 1000 --total 10000"
  "--fanout 1 --batch 64 --payload 256 --warmup 2000 --total 200000"
  "--fanout 10 --batch 64 --payload 4096 --warmup 1000 --total 20000")
names=("f1_b1_256B" "f1_b64_256B" "f10_b64_4096B")
extract() {
  node -e "const c=JSON.parse(require('fs').readFileSync(0,'utf8')).cases[0];
    console.log(['$1','$2',Math.round(c.delivered_throughput_msgs),c.p50_us,c.p99_us,c.valid].join('\t'))"
}
felix() { # workload-index
  local i=$1 fanout binary=
  fanout=$(echo "${workloads[$i]}" | awk '{print $2}')
  [ "$i" -gt 0 ] && binary=--binary
  rm -rf "${data:?}"/*
  FELIX_DURABLE_STORAGE_DIR="$data" FELIX_DURABLE_DEFAULT=1 FELIX_DURABLE_FSYNC="${FSYNC:-periodic}" \
    FELIX_ACK_ON_COMMIT="${ACK_ON_COMMIT:-0}" node "$here/dist/latencydemo/main.js" ${workloads[$i]} $binary \
    --pub-conns 1 --pub-streams-per-conn 1 --sub-conns "$fanout" --json 2>/dev/null | extract felix-durable "${names[$i]}"
}
jetstream() {
  node "$here/dist/bench/storage/jetstream-latency.js" ${workloads[$1]} --json 2>/dev/null | extract jetstream-file "${names[$1]}"
}
for t in $(seq 1 "$trials"); do
  for i in 0 1 2; do
    if [ $((t % 2)) -eq 1 ]; then felix "$i"; jetstream "$i"; else jetstream "$i"; felix "$i"; fi
  done
done
