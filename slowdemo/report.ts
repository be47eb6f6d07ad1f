/** The demo's text report: a table per run and a one-line verdict per policy. */
import type { ClientResult } from './clients.js';
import type { RunResult } from './run.js';

/** The fast subscribers' p99 with the slow one present may be at most this many times their baseline. */
export const ISOLATION_RATIO = 1.2;

const MiB = 1024 * 1024;

const ms = (v: number): string => (Number.isNaN(v) ? '-' : v.toFixed(2));

function row(c: ClientResult): string {
  return [
    c.name.padEnd(20),
    String(c.messages).padStart(9),
    c.rate.toFixed(0).padStart(8),
    ms(c.p50).padStart(8),
    ms(c.p95).padStart(8),
    ms(c.p99).padStart(8),
    String(c.drops).padStart(8),
    String(c.gaps).padStart(6),
    `  ${c.disconnect === '' ? '-' : c.disconnect}`,
  ].join(' ');
}

/** The worst p99 among the fast subscribers. */
export function fastP99(run: RunResult): number {
  return Math.max(...run.fast.map((f) => f.p99));
}

export function formatRun(run: RunResult): string {
  const p = run.publisher;
  const b = run.broker;
  const title =
    run.label === 'baseline'
      ? 'baseline: no slow subscriber'
      : run.label === 'external'
        ? 'the given broker (its own queue policy)'
        : `FELIX_SUB_QUEUE_POLICY=${run.label} (default profile otherwise)`;
  return [
    `== ${title} ==`,
    `publisher: ${p.attempted} sent, ${p.acked} acked, ${p.rate.toFixed(0)}/s, held back ${p.heldMs} ms`,
    `${'client'.padEnd(20)} ${'messages'.padStart(9)} ${'rate/s'.padStart(8)} ${'p50 ms'.padStart(8)} ` +
      `${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'drops'.padStart(8)} ${'gaps'.padStart(6)}  disconnect`,
    ...run.fast.map(row),
    ...(run.slow === null ? [] : [row(run.slow)]),
    `broker: peak RSS ${(b.peakRssBytes / MiB).toFixed(1)} MiB, events dropped ${b.drops}, ` +
      `slow-consumer disconnects ${b.slowConsumerDisconnects}`,
  ].join('\n');
}

/** One line: are the fast subscribers isolated from the slow one, and what happened to it. */
export function verdict(run: RunResult, baseline: RunResult | undefined): string {
  const fastWhole = run.fast.every((f) => f.drops === 0 && f.disconnect === '');
  const parts: string[] = [];
  if (baseline !== undefined) {
    const ratio = fastP99(run) / fastP99(baseline);
    parts.push(
      `fast p99 ${ms(fastP99(run))} ms = ${ratio.toFixed(2)}× baseline ${ms(fastP99(baseline))} ms ` +
        `(${ratio <= ISOLATION_RATIO ? 'within' : 'OVER'} ${ISOLATION_RATIO}×)`,
    );
  } else parts.push(`fast p99 ${ms(fastP99(run))} ms`);
  parts.push(fastWhole ? 'fast subscribers lost nothing' : 'a FAST SUBSCRIBER LOST EVENTS');
  const slow = run.slow;
  if (slow !== null) {
    parts.push(
      slow.disconnect === ''
        ? `slow subscriber kept (${slow.messages} events, ${slow.drops} dropped)`
        : `slow subscriber disconnected: ${slow.disconnect} (${slow.messages} events, ${slow.drops} dropped before)`,
    );
  }
  parts.push(`publisher ${run.publisher.rate.toFixed(0)}/s${run.publisher.heldMs > 0 ? ', held back' : ''}`);
  return `verdict ${run.label}: ${parts.join('; ')}`;
}
