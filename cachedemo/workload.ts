/**
 * Felix's run_ops: `total` operations (or as many as fit in a duration) with `concurrency` of them in
 * flight at all times, operation i on key `prefix-size-(i mod keys)`. Each of `concurrency` async workers
 * starts its next operation as soon as its last one completes, so the number in flight never drops
 * while work remains. Latency is measured per operation, from its start to its completion.
 */
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

/** Felix's key names: `prefix-payloadSize-keyIndex`. */
export function keyNames(prefix: string, payloadSize: number, keys: number): string[] {
  return Array.from({ length: keys }, (_, i) => `${prefix}-${payloadSize}-${i}`);
}
