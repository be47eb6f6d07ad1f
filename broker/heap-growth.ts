/**
 * FELIX_HEAP_GROWING_PERCENT, applied by the broker process to its own V8 (never by a BrokerNode embedded
 * in another program, whose heap is not the broker's to tune).
 *
 * Why: V8 sizes the next full collection from how fast the last ones were. A broker's heap is small
 * (~20 MB live) and its collections fast, so V8 lets it grow ~20% and, under load, marks and compacts the
 * whole heap every few tens of milliseconds: at 64 × 4 KiB batches ~55 mark-compacts in 3 s, a fifth of
 * the broker's busy time and pauses of 2–9 ms in its p99 (docs/benchmarks.md, "Heap growth"). A fixed
 * factor of 1 + percent/100 spaces them out. `--heap-growing-percent` is read by V8 at every collection,
 * so setting it once the process runs takes effect from the next one.
 */
import v8 from 'node:v8';

/** Applies `percent` (0: V8's adaptive growth, left alone); returns what the start log reports. */
export function applyHeapGrowing(percent: number): string {
  if (percent === 0) return "V8's adaptive growth";
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return `${percent}%`;
}
