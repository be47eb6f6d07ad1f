// Summaries of a few trials (medians and spreads across runs) and of many samples (latency percentiles).

/** Linear interpolation between closest ranks, as Felix's aggregation: q in [0, 1]; undefined for no values. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

export function median(values: readonly number[]): number | undefined {
  return quantile(values, 0.5);
}

/** A few trials as a table cell: "median (min–max)", each number written by `format`; "–" for none. */
export function spread(
  values: readonly number[],
  format: (v: number) => string = (v) => v.toFixed(0),
): string {
  const mid = median(values);
  if (mid === undefined) return '–';
  return `${format(mid)} (${format(Math.min(...values))}–${format(Math.max(...values))})`;
}

/**
 * Nearest-rank percentile of samples already sorted ascending (what latency tools report: a value that
 * was actually observed); null for no samples.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}
