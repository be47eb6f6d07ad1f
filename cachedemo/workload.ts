/**
 * Felix's run_ops: `total` operations (or as many as fit in a duration) with `concurrency` of them in
 * flight at all times, operation i on key `prefix-size-(i mod keys)`. Each of `concurrency` async workers
 * starts its next operation as soon as its last one completes, so the number in flight never drops
 * while work remains. Latency is measured per operation, from its start to its completion.
 */
import { pace, type PacerClock } from '../latencydemo/pacer.js';
import { LatencyRecorder, type BenchStats } from './stats.js';

/** One operation: resolves when the cache answered. Its result goes to `check`, when given. */
export type Operation = (keyIndex: number, key: string) => Promise<unknown>;

export interface RunOptions {
  /** Operations to run; ignored when durationMs is set. */
  readonly total: number;
  readonly durationMs: number | null;
  readonly concurrency: number;
  /** Key names, by key index. */
  readonly keys: readonly string[];
  /** Measure (true) or only warm up (false). */
  readonly record: boolean;
  /** Sees every result (e.g. counts misses); returns nothing. */
  readonly check?: (keyIndex: number, result: unknown) => void;
}

export async function runOps(op: Operation, options: RunOptions): Promise<BenchStats | null> {
  const { concurrency, keys, record, check, durationMs } = options;
  const recorder = record ? new LatencyRecorder() : null;
  const started = performance.now();
  const deadline = durationMs === null ? Infinity : started + durationMs;
  const total = durationMs === null ? options.total : Infinity;
  let launched = 0;
  let finished = started;

  const worker = async (): Promise<void> => {
    while (launched < total && performance.now() < deadline) {
      const keyIndex = launched++ % keys.length;
      const opStart = performance.now();
      const result = await op(keyIndex, keys[keyIndex]!);
      const end = performance.now();
      recorder?.record((end - opStart) * 1000);
      if (end > finished) finished = end;
      check?.(keyIndex, result);
    }
  };
  const workers = new Array<Promise<void>>(Math.min(concurrency, total));
  for (let i = 0; i < workers.length; i++) workers[i] = worker();
  try {
    await Promise.all(workers);
    return recorder === null ? null : recorder.stats(finished - started);
  } finally {
    recorder?.destroy();
  }
}

export interface RateOptions {
  /** Operations started per second, evenly spaced. */
  readonly rate: number;
  /** Operations to run; ignored when durationMs is set (then rate × duration). */
  readonly total: number;
  readonly durationMs: number | null;
  readonly keys: readonly string[];
  readonly check?: (keyIndex: number, result: unknown) => void;
  /** The pacer's clock (tests); the real one by default. */
  readonly clock?: PacerClock;
}

/**
 * The open loop: operation i (on key i mod keys) starts at its scheduled time, start + i / rate, whatever
 * is still in flight, and its latency runs from that scheduled time to its completion, so an operation that
 * waited behind a slow one, or behind a starter that fell behind schedule, counts the wait (no coordinated
 * omission). Throughput is completions over the time from the first scheduled start to the last completion.
 */
export async function runOpsAtRate(op: Operation, options: RateOptions): Promise<BenchStats> {
  const { rate, keys, check } = options;
  const total =
    options.durationMs === null ? options.total : Math.max(1, Math.round((rate * options.durationMs) / 1000));
  const clock = options.clock ?? { now: () => performance.now() };
  const recorder = new LatencyRecorder();
  let completed = 0;
  let finished = 0;
  let failure: unknown;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const complete = (): void => {
    if (++completed === total) allDone();
  };
  try {
    const paced = await pace(
      total,
      rate,
      (i, scheduledAt) => {
        const keyIndex = i % keys.length;
        op(keyIndex, keys[keyIndex]!).then(
          (result) => {
            const end = clock.now();
            recorder.record((end - scheduledAt) * 1000);
            if (end > finished) finished = end;
            check?.(keyIndex, result);
            complete();
          },
          (error: unknown) => {
            failure ??= error;
            complete();
          },
        );
      },
      options.clock === undefined ? {} : { clock: options.clock },
    );
    await done;
    if (failure !== undefined) throw failure;
    const stats = recorder.stats(finished - paced.startAt);
    return {
      ...stats,
      openLoop: {
        rateOps: rate,
        achievedRateOps: Number(paced.achievedRate.toFixed(2)),
        startLagP99Us: paced.lagP99Us,
        startLagMaxUs: paced.lagMaxUs,
      },
    };
  } finally {
    recorder.destroy();
  }
}

/** Felix's key names: `prefix-payloadSize-keyIndex`. */
export function keyNames(prefix: string, payloadSize: number, keys: number): string[] {
  return Array.from({ length: keys }, (_, i) => `${prefix}-${payloadSize}-${i}`);
}
