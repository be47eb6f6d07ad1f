/**
 * Acked publishes one at a time (f1 b1) with the publisher, the subscriber and the broker each in its own
 * process, as users run them (latencydemo keeps its publisher and subscribers in one process, where each
 * waits for the other's handling). The publisher awaits each ack before its next publish; the subscriber
 * stamps each event's arrival against the publisher's send stamp (latencydemo's 16-byte header) on the
 * machine's monotonic clock (monotonicNs, the per-hop timings' clock, comparable across processes) into an
 * HDR histogram. Prints the publisher's rate and the delivery p50/p99 µs.
 *
 *   npm run build
 *   node dist/bench/broker/acked-separate-processes.js [--total 20000] [--warmup 2000] [--payload 256] [--json]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnBroker } from '../../broker/spawn.js';
import { connect } from '../../client/index.js';
import { allocatePayload, readSentAt, readSeq, writeStamp } from '../../latencydemo/stamp.js';
import { latencyHistogram, summarize } from '../../latencydemo/subscribers.js';
import { monotonicNs } from '../../wire/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    total: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '2000' },
    payload: { type: 'string', default: '256' },
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.total);
const warmup = Number(values.warmup);
const payloadBytes = Number(values.payload);
const STREAM = 'acked-separate';
/** Milliseconds of CLOCK_MONOTONIC: the same in every process of the machine. */
const clock = (): number => monotonicNs() / 1e6;
const [role, address] = positionals;

/** Messages between the processes: readiness, the go signal, and the results. */
type Report = { ready: true } | { p50Ns: number; p99Ns: number; delivered: number } | { rate: number };

async function subscriber(broker: string): Promise<void> {
  const client = await connect({ broker, env: {}, onWarning: () => undefined });
  const histogram = latencyHistogram();
  let seen = 0;
  await client.subscribe(STREAM, {
    onEvent: (event) => {
      const now = clock();
      if (readSentAt(event.payload) === 0) return; // the stream's creating publish
      if (readSeq(event.payload) >= warmup)
        histogram.recordValue(Math.max(1, Math.round((now - readSentAt(event.payload)) * 1e6)));
      if (++seen === warmup + total) {
        const summary = summarize(histogram)!;
        process.send!({
          p50Ns: summary.p50Ns,
          p99Ns: summary.p99Ns,
          delivered: histogram.totalCount,
        } satisfies Report);
      }
    },
  });
  process.send!({ ready: true } satisfies Report);
}

async function publisher(broker: string): Promise<void> {
  const client = await connect({ broker, env: {}, onWarning: () => undefined });
  const payload = allocatePayload(payloadBytes);
  await client.publish(STREAM, payload);
  process.once('message', () => {
    void (async () => {
      const started = performance.now();
      for (let i = 0; i < warmup + total; i++) {
        writeStamp(payload, clock(), i);
        await client.publish(STREAM, payload, { ack: 'per_message' });
      }
      process.send!({ rate: ((warmup + total) * 1000) / (performance.now() - started) } satisfies Report);
    })();
  });
  process.send!({ ready: true } satisfies Report);
}

function nextReport(child: ReturnType<typeof fork>): Promise<Report> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as Report));
    child.once('exit', (code) => reject(new Error(`a ${role ?? 'child'} process exited (${code})`)));
  });
}

async function main(): Promise<void> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const broker = await spawnBroker({
    ...env,
    FELIX_QUIC_BIND: '127.0.0.1:0',
    FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
    FELIX_LOG_LEVEL: 'info',
  });
  const self = fileURLToPath(import.meta.url);
  const args = ['--total', String(total), '--warmup', String(warmup), '--payload', String(payloadBytes)];
  const sub = fork(self, ['sub', broker.address, ...args]);
  const pub = fork(self, ['pub', broker.address, ...args]);
  try {
    await nextReport(sub);
    await nextReport(pub);
    const latencies = nextReport(sub);
    const rate = nextReport(pub);
    pub.send('go');
    const [l, r] = await Promise.all([latencies, rate]);
    const us = (ns: number): number => Math.round(ns / 1000);
    const result = {
      rate_msgs: Math.round('rate' in r ? r.rate : NaN),
      p50_us: 'p50Ns' in l ? us(l.p50Ns) : NaN,
      p99_us: 'p99Ns' in l ? us(l.p99Ns) : NaN,
      delivered: 'delivered' in l ? l.delivered : 0,
    };
    console.log(
      values.json
        ? JSON.stringify(result)
        : `acked f1 b1 ${payloadBytes} B, separate processes: ${result.rate_msgs} msg/s, p50 ${result.p50_us} µs, p99 ${result.p99_us} µs (${result.delivered} delivered)`,
    );
  } finally {
    sub.kill();
    pub.kill();
    await broker.stop();
  }
}

if (role === 'sub') await subscriber(address!);
else if (role === 'pub') await publisher(address!);
else await main();
