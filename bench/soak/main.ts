/**
 * `npm run soak -- --minutes 10` (or `--duration 10m`): the soak (soak.ts) as a program. Prints progress, then what was
 * acked, delivered, lost, duplicated, the reconnects and resident sets; exits 1 when an acked message was
 * lost without a reported gap, a message was delivered twice, a payload or cache value came back wrong.
 *
 *   flock /tmp/felix-bench.lock npm run soak -- --duration 5m --seed 3
 */
import { parseArgs } from 'node:util';
import { currentLoad, describeMachine, renderMachine } from '../transport/machine.js';
import { runSoak, type SoakReport } from './soak.js';

/** "90", "90s", "15m", "1h" → ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw new Error(`--duration must look like 90s, 15m or 1h, got ${text}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

function percentile(values: readonly number[], p: number): string {
  if (values.length === 0) return '-';
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(0);
}

function render(r: SoakReport): string {
  const mib = (x: { min: number; max: number }): string => `${x.min.toFixed(0)}–${x.max.toFixed(0)} MiB`;
  return [
    `duration            ${(r.durationMs / 1000).toFixed(0)} s`,
    `restarts survived   ${r.restarts.sigterm} SIGTERM, ${r.restarts.sigkill} SIGKILL`,
    `messages            ${r.published} published, ${r.acked} acked, ${r.failed} failed, ${r.delivered} acked delivered`,
    `acked lost          ${r.ackedLost} without a reported gap, ${r.lostInReportedGap} inside reported gaps`,
    `duplicates          ${r.duplicates} in one epoch, ${r.resentAcrossRestart} again after a restart, ` +
      `${r.resentAfterKill} unanswered at a SIGKILL resent (at-least-once)`,
    `gaps reported       ${r.gaps} (${r.epochChanges} epoch changes)`,
    `corrupted payloads  ${r.corrupted}`,
    `reconnects          ${r.reconnects}; broker ready → reconnect p50 ${percentile(r.reconnectMs, 50)} ms, ` +
      `p99 ${percentile(r.reconnectMs, 99)} ms`,
    `cache               ${r.cache.ok} put+get ok, ${r.cache.misses} misses after restarts, ` +
      `${r.cache.mismatches} wrong values, ${r.cache.failed} failed`,
    `connection churn    ${r.churn.cycles} connect/publish/close cycles, ${r.churn.failed} refused`,
    `broker RSS          ${mib(r.brokerRssMiB)}; per cycle: ` +
      r.perCycle.map((c) => `${c.rssMiB.toFixed(0)} MiB/${c.fds} fds`).join(', '),
    `client process RSS  ${mib(r.clientRssMiB)} (publisher, subscriber, churn clients and proxy)`,
    ...(r.failures.length > 0 ? [`publish failures    ${r.failures.join(' | ')}`] : []),
    r.problems.length === 0 ? 'PASS' : `FAIL: ${r.problems.join('; ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10m' },
      minutes: { type: 'string' },
      'restart-every': { type: 'string', default: '45s' },
      'loss-phase': { type: 'string', default: '20s' },
      loss: { type: 'string', default: '3' },
      rate: { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
    },
  });
  const machine = describeMachine();
  const started = Date.now();
  const report = await runSoak({
    durationMs:
      values.minutes === undefined ? parseDuration(values.duration) : parseDuration(`${values.minutes}m`),
    restartEveryMs: parseDuration(values['restart-every']),
    lossPhaseMs: parseDuration(values['loss-phase']),
    lossPercent: Number(values.loss),
    rate: Number(values.rate),
    seed: Number(values.seed),
    log: (line) => console.log(`soak: ${line}`),
  });
  machine.loadAtEnd = currentLoad();
  console.log(
    `\nsoak started ${new Date(started).toISOString()}\n${render(report)}\n\n${renderMachine(machine)}`,
  );
  console.log(JSON.stringify({ msg: 'soak report', ...report, reconnectMs: undefined }));
  process.exit(report.problems.length === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
