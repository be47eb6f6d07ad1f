/**
 * Publish → ack and publish → deliver latency, and the longest stretch without a delivery, through the
 * impairment proxy at several loss rates (issue 12 item 6; target at 3%: p99 ≤ 200 ms, gap ≤ 1 s).
 *
 *   flock /tmp/felix-bench.lock node dist/bench/impair/loss-latency.js --levels 0,1,3,5 --trials 3
 *
 * Every trial is a new broker process and a new proxy process (so neither shares the client's event loop,
 * and QUIC's RTT estimates start afresh), one client publishing with acks at --rate and subscribed to the
 * same stream. Delay and reordering stay the same at every level; only loss changes. A trial in which an
 * acked payload went missing, arrived twice or out of order is reported INVALID.
 *
 * The proxy stands for a network path, so both ends send the datagrams a network path carries:
 * --udp-payload (default 1350, FELIX_MAX_UDP_PAYLOAD's default) is given to the broker and the client as
 * FELIX_LOOPBACK_UDP_PAYLOAD, which they would otherwise use toward the proxy's loopback address (16,383 B,
 * datagrams no real path carries). `--udp-payload 16383` measures loopback-sized datagrams under loss.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { onJsonLines } from '../../broker/json-lines.js';
import { spawnBroker } from '../../broker/spawn.js';
import { spread } from '../../scripts/perf/stats.js';
import { connect } from '../../client/index.js';
import { currentLoad, describeMachine, renderMachine } from '../transport/machine.js';
import { runPacedLoad, type PacedLoadResult } from './paced-load.js';

const PROXY_MAIN = fileURLToPath(new URL('./impair-proxy.js', import.meta.url));

interface Trial {
  readonly connectMs: number;
  readonly ackP50: number;
  readonly ackP99: number;
  readonly deliverP50: number;
  readonly deliverP99: number;
  readonly gapMs: number;
  readonly result: PacedLoadResult;
  readonly datagramsDropped: number;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Starts the proxy program and resolves with its address once it listens. */
function startProxy(
  args: string[],
): Promise<{ child: ChildProcess; address: string; stats: () => Promise<number> }> {
  const child = spawn(process.execPath, [PROXY_MAIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  let onLine: (() => void) | null = null;
  onJsonLines(child.stdout!, (entry) => {
    lines.push(entry);
    onLine?.();
  });
  const next = (msg: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find((l) => l.msg === msg);
        if (found !== undefined) resolve(found);
        else if (child.exitCode !== null) reject(new Error(`impair proxy exited with ${child.exitCode}`));
      };
      onLine = check;
      child.once('exit', check);
      check();
    });
  return next('impair proxy listening').then((listening) => ({
    child,
    address: listening.address as string,
    // Stopping it prints its counts: the datagrams it dropped both ways.
    stats: async () => {
      child.kill('SIGTERM');
      const stopped = await next('impair proxy stopped');
      const drops = (d: unknown): number => (d as { dropped: number }).dropped;
      return drops(stopped.toTarget) + drops(stopped.toClient);
    },
  }));
}

async function runTrial(
  loss: number,
  seed: number,
  o: {
    rate: number;
    durationMs: number;
    delay: number;
    reorder: number;
    reorderDelay: number;
    payload: number;
    udpPayload: number;
    settleMs: number;
  },
): Promise<Trial> {
  const datagramSize = { FELIX_LOOPBACK_UDP_PAYLOAD: String(o.udpPayload) };
  const broker = await spawnBroker({
    ...process.env,
    ...datagramSize,
    FELIX_QUIC_BIND: '127.0.0.1:0',
    FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
    FELIX_LOG_LEVEL: 'info',
  } as Record<string, string>);
  const proxy = await startProxy([
    ...['--target', broker.address, '--seed', String(seed), '--loss', String(loss)],
    ...[
      '--delay',
      String(o.delay),
      '--reorder',
      String(o.reorder),
      '--reorder-delay',
      String(o.reorderDelay),
    ],
  ]);
  try {
    const started = performance.now();
    const client = await connect({
      broker: proxy.address,
      env: datagramSize,
      onWarning: () => undefined,
      pubConnPool: 1,
      eventConnPool: 1,
    });
    const connectMs = performance.now() - started;
    const result = await runPacedLoad(client, {
      stream: 'loss',
      rate: o.rate,
      durationMs: o.durationMs,
      payloadBytes: o.payload,
      settleMs: o.settleMs,
    });
    await client.close();
    return {
      connectMs,
      ackP50: percentile(result.ackMs, 50),
      ackP99: percentile(result.ackMs, 99),
      deliverP50: percentile(result.deliverMs, 50),
      deliverP99: percentile(result.deliverMs, 99),
      gapMs: result.largestGapMs,
      result,
      datagramsDropped: await proxy.stats(),
    };
  } finally {
    proxy.child.kill('SIGKILL');
    await broker.stop();
  }
}

function cell(values: readonly number[]): string {
  return spread(values, (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)));
}

function invalid(t: Trial, settleMs: number): string | null {
  const r = t.result;
  const problems = [
    r.failed > 0 ? `${r.failed} publishes failed (${r.failures[0]})` : '',
    r.lost > 0 ? `${r.lost} acked payloads not delivered ${settleMs / 1000} s after the last ack` : '',
    r.duplicates > 0 ? `${r.duplicates} duplicates` : '',
    r.outOfOrder > 0 ? `${r.outOfOrder} out of order` : '',
    r.corrupted > 0 ? `${r.corrupted} corrupted` : '',
  ].filter((p) => p !== '');
  return problems.length === 0 ? null : problems.join(', ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      levels: { type: 'string', default: '0,1,3,5' },
      trials: { type: 'string', default: '3' },
      rate: { type: 'string', default: '400' },
      duration: { type: 'string', default: '15' },
      delay: { type: 'string', default: '5' },
      reorder: { type: 'string', default: '25' },
      'reorder-delay': { type: 'string', default: '10' },
      payload: { type: 'string', default: '128' },
      'udp-payload': { type: 'string', default: '1350' },
      // How long acked payloads may take to arrive after the last ack before they count as lost.
      settle: { type: 'string', default: '30' },
    },
  });
  const levels = values.levels.split(',').map(Number);
  const trials = Number(values.trials);
  const o = {
    rate: Number(values.rate),
    durationMs: Number(values.duration) * 1000,
    delay: Number(values.delay),
    reorder: Number(values.reorder),
    reorderDelay: Number(values['reorder-delay']),
    payload: Number(values.payload),
    udpPayload: Number(values['udp-payload']),
    settleMs: Number(values.settle) * 1000,
  };
  const machine = describeMachine();
  console.log(
    `loss-latency: ${o.rate} acked msg/s of ${o.payload} B for ${o.durationMs / 1000} s per trial, ${trials} trials; ` +
      `proxy delay ${o.delay} ms, ${o.reorder}% reordered by +${o.reorderDelay} ms, both ways; ` +
      `UDP payload ${o.udpPayload} B both ways`,
  );
  const rows: string[] = [];
  for (const loss of levels) {
    const done: Trial[] = [];
    for (let trial = 0; trial < trials; trial++) {
      const t = await runTrial(loss, 1000 * loss + trial + 1, o);
      done.push(t);
      const bad = invalid(t, o.settleMs);
      console.log(
        `  loss ${loss}% trial ${trial + 1}: connect ${t.connectMs.toFixed(0)} ms, ack p50/p99 ${t.ackP50.toFixed(1)}/` +
          `${t.ackP99.toFixed(1)} ms, deliver p50/p99 ${t.deliverP50.toFixed(1)}/${t.deliverP99.toFixed(1)} ms, ` +
          `longest gap ${t.gapMs.toFixed(0)} ms, ack max ${Math.max(...t.result.ackMs).toFixed(0)} ms, ` +
          `${t.datagramsDropped} datagrams dropped${bad === null ? '' : ` — INVALID RUN: ${bad}`}`,
      );
    }
    const valid = done.filter((t) => invalid(t, o.settleMs) === null).length;
    rows.push(
      `| ${loss}% | ${cell(done.map((t) => t.ackP50))} | ${cell(done.map((t) => t.ackP99))} | ` +
        `${cell(done.map((t) => t.deliverP50))} | ${cell(done.map((t) => t.deliverP99))} | ` +
        `${cell(done.map((t) => t.gapMs))} | ${cell(done.map((t) => t.connectMs))} | ${valid}/${done.length} |`,
    );
  }
  machine.loadAtEnd = currentLoad();
  console.log('\nmedian of trials (min–max), ms:\n');
  console.log(
    '| loss | ack p50 | ack p99 | deliver p50 | deliver p99 | longest gap | connect | valid trials |\n' +
      '|---|---|---|---|---|---|---|---|',
  );
  for (const row of rows) console.log(row);
  console.log(`\n${renderMachine(machine)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
