#!/usr/bin/env bash
# Peak resident set of the server process — the felix-ts broker latencydemo spawns, the nats-server the NATS
# harness spawns — under the same workload (issue 14: "broker RSS under the f10 b64 4 KiB load ≤ 2×
# nats-server's"). Each run's server is found by its command line and its VmRSS read from /proc every 50 ms;
# trials alternate which system goes first. Run after `npm run build`, alone on the machine:
#
#   flock /tmp/felix-bench.lock bash bench/memory/peak-rss-vs-nats.sh [trials=3] [extra workload flags…]
set -euo pipefail
trials="${1:-3}"
shift || true
workload=(--fanout 10 --batch 64 --payload 4096 --total 65536 --warmup 1000 "$@")

# Largest VmRSS (KiB) of the newest process whose command line matches $1, while process $2 lives.
peak_rss() {
  local pattern="$1" runner="$2" peak=0 pid rss
  while kill -0 "$runner" 2>/dev/null; do
    pid=$(pgrep -n -f "$pattern" || true)
    if [ -n "$pid" ] && rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$rss" ]; then
      [ "$rss" -gt "$peak" ] && peak=$rss
    fi
    sleep 0.05
  done
  echo "$peak"
}

run() {
  local system="$1" pattern runner
  if [ "$system" = felix ]; then
    node dist/latencydemo/main.js "${workload[@]}" --sub-conns 10 --binary >/dev/null 2>&1 &
    pattern='dist/broker/main.js'
  else
    node dist/scripts/perf/nats_latency.js "${workload[@]}" --window 3 >/dev/null 2>&1 &
    pattern='nats-server -a 127.0.0.1'
  fi
  runner=$!
  local peak
  peak=$(peak_rss "$pattern" "$runner")
  wait "$runner"
  awk -v name="$system" -v kib="$peak" 'BEGIN { printf "%s peak RSS %.1f MiB\n", name, kib / 1024 }'
}

echo "workload: ${workload[*]}; $trials alternating trials"
for ((t = 1; t <= trials; t++)); do
  if ((t % 2 == 1)); then run felix; run nats; else run nats; run felix; fi
done
