#!/usr/bin/env bash
# FELIX_HEAP_GROWING_PERCENT 0 (V8's adaptive growth), 100 (balanced) and 200 (high-memory), alternating,
# on the cells its collections cost most: one broker process per run (started as `npm start` starts it),
# the client in its own process, and the broker's peak RSS (VmHWM) at the end of each run.
#
#   npm run build
#   flock /tmp/felix-bench.lock bash bench/memory/heap-growing-ab.sh [trials]
#
# One line per run: trial, percent, cell, then the cell's figures (latencydemo: delivered msg/s, p50 µs,
# p99 µs, valid; cachedemo: ops/s, p50 µs, p99 µs), then the broker's peak RSS in MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
TRIALS=${1:-3}

# latencydemo --json → "delivered_msgs p50_us p99_us valid"
latency_fields() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s.trim().split("\n").pop());const c=(j.cases??[j])[0]??j;console.log(Math.round(c.delivered_throughput_msgs),c.p50_us,c.p99_us,c.valid)})'
}

free_port() {
  node -e 'const s=require("node:dgram").createSocket("udp4");s.bind(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

run_cell() {
  local cell=$1 addr=$2
  case $cell in
    f1_b64_4k) node dist/latencydemo/main.js --broker "$addr" --batch 64 --payload 4096 --total 200000 --warmup 2000 --binary --pub-window 4 --json 2>/dev/null | latency_fields ;;
    f10_b64_4k) node dist/latencydemo/main.js --broker "$addr" --fanout 10 --batch 64 --payload 4096 --total 65536 --warmup 2000 --sub-conns 10 --json 2>/dev/null | latency_fields ;;
    put_4k_c32) node dist/cachedemo/main.js --broker "$addr" --payloads 4096 --ops put --concurrency 32 --samples 100000 --warmup 10000 2>&1 | awk '$1 == "put" && $3 == "B" {print $9, $5, $6}' ;;
    f1_b64_256) node dist/latencydemo/main.js --broker "$addr" --batch 64 --payload 256 --total 500000 --warmup 5000 --binary --json 2>/dev/null | latency_fields ;;
    f1_b1_256) node dist/latencydemo/main.js --broker "$addr" --batch 1 --payload 256 --total 30000 --warmup 2000 --json 2>/dev/null | latency_fields ;;
  esac
}

for trial in $(seq 1 "$TRIALS"); do
  for percent in 0 100 200; do
    for cell in f1_b64_4k f10_b64_4k put_4k_c32 f1_b64_256 f1_b1_256; do
      port=$(free_port)
      FELIX_HEAP_GROWING_PERCENT=$percent FELIX_QUIC_BIND=127.0.0.1:$port FELIX_BROKER_METRICS_BIND=127.0.0.1:0 \
        node --max-semi-space-size=4 dist/broker/main.js >/dev/null 2>&1 &
      broker=$!
      sleep 1.2
      figures=$(run_cell "$cell" "127.0.0.1:$port")
      peak=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$broker/status")
      kill "$broker"
      wait "$broker" 2>/dev/null || true
      echo "trial=$trial percent=$percent $cell :: $figures :: peak_rss_mib $peak"
    done
  done
done
