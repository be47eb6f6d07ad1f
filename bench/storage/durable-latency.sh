#!/usr/bin/env bash
# latencydemo over in-memory and durable streams, trials interleaved (issue 13's benchmark rows):
#   flock /tmp/felix-bench.lock bash bench/storage/durable-latency.sh [trials] [baseline-dist-dir] > out.tsv
# Modes: memory (no FELIX_DURABLE_*), durable-periodic (FELIX_DURABLE_DEFAULT=1, fsync periodic 1 s),
# durable-ack (fsync on_commit + FELIX_ACK_ON_COMMIT=1), and, given a second argument, the same in-memory
# case with another build's dist/ (e.g. HEAD before durable streams) to check in-memory numbers did not move.
# Prints one TSV line per run: mode case throughput_msgs p50_us p99_us valid.
set -euo pipefail
trials=${1:-5}
baseline=${2:-}
here=$(cd "$(dirname "$0")/../.." && pwd)
data=$(mktemp -d /tmp/felix-durable-bench.XXXXXX)
trap 'rm -rf "$data"' EXIT
cases=("--fanout 1 --batch 64 --payload 256 --total 200000" "--fanout 1 --batch 1 --payload 256 --total 20000")
names=("f1-b64-p256" "f1-b1-p256")
run() { # mode dist case-index env...
  local mode=$1 dist=$2 i=$3
  shift 3
  rm -rf "$data"/*
  env "$@" node "$dist/latencydemo/main.js" ${cases[$i]} --json 2>/dev/null |
    node -e "const c=JSON.parse(require('fs').readFileSync(0,'utf8')).cases[0];
      console.log(['$mode','${names[$i]}',Math.round(c.throughput_msgs),c.p50_us,c.p99_us,c.valid].join('\t'))"
}
for t in $(seq 1 "$trials"); do
  for i in 0 1; do
    [ -n "$baseline" ] && run baseline "$baseline" $i
    run memory "$here/dist" $i
    run durable-periodic "$here/dist" $i FELIX_DURABLE_STORAGE_DIR="$data" FELIX_DURABLE_DEFAULT=1 FELIX_DURABLE_FSYNC=periodic
    run durable-ack "$here/dist" $i FELIX_DURABLE_STORAGE_DIR="$data" FELIX_DURABLE_DEFAULT=1 FELIX_DURABLE_FSYNC=on_commit FELIX_ACK_ON_COMMIT=1
  done
done
