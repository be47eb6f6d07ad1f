#!/usr/bin/env bash
# What a broker process gives back once idle after a burst (FELIX_IDLE_MEMORY_RETURN_MS; docs/benchmarks.md,
# "Idle memory return"): starts a broker with the setting, runs a burst against it from another process,
# then reads the broker's VmRSS 20 and 60 s after the burst. Run after `npm run build`, alone on the machine:
#
#   flock /tmp/felix-bench.lock bash bench/memory/idle-return.sh <quietMs: 0 = off> <cache|pubsub> [port=44140]
set -euo pipefail
quiet="$1"
burst="$2"
port="${3:-44140}"
log=$(mktemp)
FELIX_IDLE_MEMORY_RETURN_MS="$quiet" FELIX_QUIC_BIND="127.0.0.1:$port" \
  FELIX_BROKER_METRICS_BIND="127.0.0.1:$((port + 1))" node --max-semi-space-size=4 dist/broker/main.js >"$log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$((port + 1))/ready" >/dev/null && break; sleep 0.1; done
rss() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$broker/status"; }
start=$(rss)
if [ "$burst" = cache ]; then
  node dist/cachedemo/main.js --broker "127.0.0.1:$port" --payloads 4096 --ops put,get_hit --concurrency 32 \
    --samples 100000 --warmup 10000 >/dev/null
else
  node dist/bench/memory/pubsub-burst.js "127.0.0.1:$port" >/dev/null
fi
after=$(rss)
sleep 20
at20=$(rss)
sleep 40
at60=$(rss)
echo "$burst quiet=${quiet}ms: RSS MiB start $start, after the burst $after, +20 s $at20, +60 s $at60" \
  "$(grep -o '"rssBeforeMiB[^}]*' "$log" | head -1)"
