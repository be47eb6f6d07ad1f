/**
 * Percentiles reported next to the maximum (latencydemo, cachedemo, the pacer's start lag and the harnesses
 * that share their summaries), read one way so that no report shows a p99.9 above its max.
 */
import type { Histogram } from 'hdr-histogram-js';

/**
 * The value at `percentile`, at most the largest value recorded. HDR answers with the highest value its
 * bucket stands for (at three significant digits, 11921 µs reads back as 11927), which can lie above the
 * exact maximum it also keeps. 0 for an empty histogram.
 */
export function percentileWithinMax(histogram: Histogram, percentile: number): number {
  if (histogram.totalCount === 0) return 0;
  return Math.min(histogram.getValueAtPercentile(percentile), histogram.maxValue);
}
