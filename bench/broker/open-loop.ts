/**
 * Open-loop publish → deliver latency: one publisher sends single events evenly spaced at a fixed rate
 * (ack none, one publish per event), one or more subscribers in this process record each event's latency
 * from its *scheduled* send time, so time the publisher spent behind schedule counts (no coordinated
 * omission). The broker runs in its own process with the defaults (batching on: FELIX_FANOUT_BATCH and
 * FELIX_EVENT_BATCH_MAX_DELAY_US as configured), plus whatever FELIX_* variables this process has.
 *
 *   npm run build
 *   node dist/bench/broker/open-loop.js --rate 5000 --duration 5 [--payload 256] [--fanout 1] [--json]
 *     [--broker-node-flags '--cpu-prof --cpu-prof-dir=prof']
 *
 * Pacing: the publisher checks the clock on every event-loop turn (setImmediate) while the next send is due
 * within 2 ms, and sleeps otherwise; this keeps the sends evenly spaced at the cost of one busy core in this
 * process (as a paced publisher in any client must). Reported: HDR p50/p99/p99.9/max, the achieved rate,
 * the publisher's lag behind schedule (max), and deliveries missing after a 2 s wait.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { spawnBroker } from '../../broker/spawn.js';
import { connect } from '../../client/index.js';
import { latencyHistogram, summarize } from '../../latencydemo/subscribers.js';
import { allocatePayload, readSentAt, readSeq, writeStamp } from '../../latencydemo/stamp.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    payload: { type: 'string', default: '256' },
    fanout: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    'broker-node-flags': { type: 'string', default: '' },
  },
});

const rate = Number(values.rate);
const durationS = Number(values.duration);
const warmupS = Number(values.warmup);
const payloadBytes = Number(values.payload);
const fanout = Number(values.fanout);
for (const [name, v] of Object.entries({ rate, durationS, warmupS, payloadBytes, fanout })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad --${name}: ${String(v)}`);
}

const SPIN_WITHIN_MS = 2;
const STRAGGLER_WAIT_MS = 2000;
const NS_PER_MS = 1e6;

const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
env.FELIX_QUIC_BIND = '127.0.0.1:0';
env.FELIX_BROKER_METRICS_BIND = '127.0.0.1:0';
env.FELIX_LOG_LEVEL = 'info';
const nodeFlags = values['broker-node-flags'].split(' ').filter((f) => f !== '');

const broker = await spawnBroker(env, nodeFlags);
const client = await connect({ broker: broker.address, onWarning: () => undefined });
const stream = `open-loop-${process.pid}`;
const warmupEvents = Math.round(rate * warmupS);
const measuredEvents = Math.round(rate * durationS);
const total = warmupEvents + measuredEvents;
const histogram = latencyHistogram();
let received = 0;
let measuredReceived = 0;
let lastDeliveryAt = 0;
for (let f = 0; f < fanout; f++) {
  await client.subscribe(stream, {
    start: { offset: 0 },
    onEvent: (event) => {
      const now = performance.now();
      received++;
      lastDeliveryAt = now;
      if (readSeq(event.payload) < warmupEvents) return;
      measuredReceived++;
      histogram.recordValue(Math.max(1, Math.round((now - readSentAt(event.payload)) * NS_PER_MS)));
    },
  });
}

const payload = allocatePayload(payloadBytes);
const intervalMs = 1000 / rate;
let sent = 0;
let maxLagMs = 0;
let measuredStart = 0;
let measuredEnd = 0;
const start = performance.now() + 50;
await new Promise<void>((done) => {
  const tick = (): void => {
    const now = performance.now();
    // Every send that is due goes now, each stamped with its scheduled time.
    for (let due = start + sent * intervalMs; sent < total && due <= now; due = start + sent * intervalMs) {
      writeStamp(payload, due, sent);
      if (sent === warmupEvents) measuredStart = now;
      void client.publish(stream, payload, { ack: 'none' });
      maxLagMs = Math.max(maxLagMs, now - due);
      sent++;
    }
    if (sent === total) {
      measuredEnd = performance.now();
      done();
      return;
    }
    const wait = start + sent * intervalMs - performance.now();
    if (wait > SPIN_WITHIN_MS) setTimeout(tick, wait - SPIN_WITHIN_MS);
    else setImmediate(tick);
  };
  tick();
});
await client.flush();
const expected = total * fanout;
const waitStart = performance.now();
while (received < expected && performance.now() - Math.max(waitStart, lastDeliveryAt) < STRAGGLER_WAIT_MS) {
  await new Promise((r) => setTimeout(r, 10));
}
const summary = summarize(histogram);
const result = {
  rate,
  durationS,
  payload: payloadBytes,
  fanout,
  achievedRate: Math.round((measuredEvents / (measuredEnd - measuredStart)) * 1000),
  maxPublisherLagUs: Math.round(maxLagMs * 1000),
  missing: measuredEvents * fanout - measuredReceived,
  p50Us: summary === null ? null : summary.p50Ns / 1000,
  p99Us: summary === null ? null : summary.p99Ns / 1000,
  p999Us: summary === null ? null : summary.p999Ns / 1000,
  maxUs: summary === null ? null : summary.maxNs / 1000,
};
await client.close();
await broker.stop();
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `open loop ${rate} msg/s × ${durationS} s, ${payloadBytes} B, fanout ${fanout}: ` +
      `p50 ${result.p50Us} µs  p99 ${result.p99Us} µs  p99.9 ${result.p999Us} µs  max ${result.maxUs} µs  ` +
      `achieved ${result.achievedRate} msg/s  publisher lag max ${result.maxPublisherLagUs} µs  missing ${result.missing}`,
  );
}
process.exit(result.missing === 0 ? 0 : 1);
