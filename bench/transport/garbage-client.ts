// Garbage benchmark, good client child: one connection, one stream, 64-byte requests echoed by the
// server, one in flight. Connects, reports {"ready":true}, waits for `go` on stdin, then measures for
// `durationMs` and reports requests per second and the request latencies.
import { performance } from 'node:perf_hooks';
import { Endpoint } from '../../transport/index.js';
import { onCommands, report } from './garbage-children.js';

export interface GoodClientArgs {
  readonly port: number;
  readonly durationMs: number;
}

export interface GoodClientReport {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** Latencies of the answered requests; null when none was answered. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

const REQUEST = Buffer.alloc(64, 0x61);
const CONNECT_TIMEOUT_MS = 10_000;

const args = JSON.parse(process.argv[2]!) as GoodClientArgs;
const endpoint = await Endpoint.client({ host: '127.0.0.1', port: args.port });
const connection = await endpoint.connect({ timeoutMs: CONNECT_TIMEOUT_MS });
const stream = connection.openStream();
report({ ready: true });

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function run(): Promise<GoodClientReport> {
  const latencies: number[] = [];
  const started = performance.now();
  let sentAt = 0;
  let received = 0;
  return new Promise((resolve) => {
    const finish = (): void => {
      const seconds = (performance.now() - started) / 1000;
      const sorted = latencies.sort((a, b) => a - b);
      resolve({
        requests: latencies.length,
        seconds,
        requestsPerSecond: latencies.length / seconds,
        p50Ms: percentile(sorted, 0.5),
        p99Ms: percentile(sorted, 0.99),
        maxMs: sorted[sorted.length - 1] ?? null,
      });
    };
    // The measurement ends on time even when an answer never comes (the flood may starve it).
    const timer = setTimeout(() => {
      stream.onData = null;
      finish();
    }, args.durationMs);
    const ask = (): void => {
      sentAt = performance.now();
      stream.write(REQUEST);
    };
    stream.onData = (chunk) => {
      received += chunk.length;
      while (received >= REQUEST.length) {
        received -= REQUEST.length;
        latencies.push(performance.now() - sentAt);
      }
      if (performance.now() - started >= args.durationMs) {
        clearTimeout(timer);
        stream.onData = null;
        finish();
      } else ask();
    };
    ask();
  });
}

onCommands(
  (command) => {
    if (command === 'go') void run().then(report);
  },
  () => {
    void endpoint.close({ timeoutMs: 200 }).then(() => process.exit(0));
  },
);
