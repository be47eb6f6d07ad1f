// Trial aggregation: the median is what the table reports, min–max shows how much the trials spread.
import type { StackName } from './channel.js';
import type { WorkloadResult } from './workloads.js';

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly trials: number;
}

export function summarize(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, trials: sorted.length };
}

/** One client run's outcome, as the runner records it. */
export interface TrialRecord {
  readonly measurementId: string;
  readonly stack: StackName;
  readonly trial: number;
  readonly result?: WorkloadResult;
  readonly error?: string;
  /** How busy the CPUs were (0–1) just before this run, while the benchmark's own processes idled. */
  readonly busyBefore?: number | null;
  /** Fraction of all CPUs other processes used during the measured workload. */
  readonly otherBusyDuring?: number | null;
}

export type MetricName =
  'megabytesPerSecond' | 'cpuSecondsPerGB' | 'p50Micros' | 'p99Micros' | 'framesPerSecond';

/** The trials' spread of one metric for one stack on one measurement (failed trials left out). */
export function summarizeMetric(
  records: readonly TrialRecord[],
  measurementId: string,
  stack: StackName,
  metric: MetricName,
): Summary | null {
  const values: number[] = [];
  for (const r of records) {
    const value = r.result?.[metric];
    if (r.measurementId === measurementId && r.stack === stack && value !== undefined) values.push(value);
  }
  return summarize(values);
}
