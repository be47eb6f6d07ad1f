// Other work on a shared 2-core machine skews every number here (and small-message latency in both
// directions: a busy machine hides the VM's idle-wake-up cost), so before each client run the runner
// samples how busy the CPUs are while its own processes sit idle, waits a while for quiet, and records
// what it saw.
import { readFileSync } from 'node:fs';
import { summarize, type TrialRecord } from './stats.js';

/** Fraction of all CPUs others may use before a run starts without waiting. */
export const QUIET_THRESHOLD = 0.15;
/** Other processes' share of the CPUs during a run beyond which the run is repeated (see --retries). */
export const NOTABLE_OTHER_LOAD = 0.1;

export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

/** Cumulative busy and total CPU time of the whole machine (all CPUs), or null without /proc/stat. */
export function readCpuTimes(): CpuTimes | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal ...
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3]! + (fields[4] ?? 0);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Fraction (0–1) of all CPUs busy over `ms`, or null where /proc/stat does not exist. */
export async function sampleCpuBusy(ms: number): Promise<number | null> {
  const before = readCpuTimes();
  if (before === null) return null;
  await new Promise((r) => setTimeout(r, ms));
  const after = readCpuTimes()!;
  const total = after.total - before.total;
  return total === 0 ? 0 : (after.busy - before.busy) / total;
}

/**
 * The fraction of all CPUs that processes other than ours kept busy between two readings: the machine's
 * busy fraction minus our own CPU seconds spread over the same wall time and CPUs. Null without /proc/stat.
 */
export function otherBusyFraction(
  before: CpuTimes | null,
  after: CpuTimes | null,
  ownCpuSeconds: number,
  wallSeconds: number,
  cpus: number,
): number | null {
  if (before === null || after === null || after.total === before.total || wallSeconds <= 0) return null;
  const machineBusy = (after.busy - before.busy) / (after.total - before.total);
  return Math.max(0, machineBusy - ownCpuSeconds / (wallSeconds * cpus));
}

export interface QuietSample {
  /** CPU busy fraction in the last sample before the run started (null: not measurable here). */
  readonly busy: number | null;
  readonly waitedMs: number;
}

/** Waits until the CPUs are at most `threshold` busy, or `maxWaitMs` passed; returns the last sample. */
export async function waitForQuiet(threshold: number, maxWaitMs: number): Promise<QuietSample> {
  const started = Date.now();
  for (;;) {
    const busy = await sampleCpuBusy(250);
    const waitedMs = Date.now() - started;
    if (busy === null || busy <= threshold || waitedMs >= maxWaitMs) return { busy, waitedMs };
  }
}

export const isDisturbed = (r: TrialRecord): boolean => (r.otherBusyDuring ?? 0) > NOTABLE_OTHER_LOAD;

const percent = (v: number): string => `${(v * 100).toFixed(0)}%`;

/** A note for a run's progress line when others were busy before or during it. */
export function describeBusy(before: number | null, during: number | null): string {
  const notes: string[] = [];
  if (before !== null && before > QUIET_THRESHOLD) notes.push(`CPUs ${percent(before)} busy before`);
  if (during !== null && during > NOTABLE_OTHER_LOAD)
    notes.push(`other processes used ${percent(during)} of the CPUs`);
  return notes.length === 0 ? '' : ` (${notes.join('; ')})`;
}

/** Report lines on the other load seen before and during the kept runs, and how many runs were repeated. */
export function describeOtherLoad(records: readonly TrialRecord[], repeated: number): string {
  const numbers = (pick: (r: TrialRecord) => number | null | undefined): number[] =>
    records.map(pick).filter((b): b is number => typeof b === 'number');
  const before = summarize(numbers((r) => r.busyBefore));
  const during = summarize(numbers((r) => r.otherBusyDuring));
  if (before === null || during === null) return '- Other load: not measured (no /proc/stat)';
  const stillDisturbed = records
    .filter(isDisturbed)
    .map((r) => `${r.measurementId}/${r.stack}/t${r.trial} ${percent(r.otherBusyDuring!)}`);
  return [
    `- Other load before each run (250 ms sample while the benchmark idled): CPUs ${percent(before.median)} ` +
      `busy (median), ${percent(before.max)} at most`,
    `- Other processes during the measured workloads: ${percent(during.median)} of the CPUs (median), ` +
      `${percent(during.max)} at most` +
      (stillDisturbed.length === 0
        ? ''
        : `; above ${percent(NOTABLE_OTHER_LOAD)} in: ${stillDisturbed.join(', ')}`),
    `- Runs repeated because other processes used over ${percent(NOTABLE_OTHER_LOAD)} of the CPUs during them: ` +
      `${repeated}`,
  ].join('\n');
}
