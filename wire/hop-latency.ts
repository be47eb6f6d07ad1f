/**
 * Per-hop latency as both sides report it from the TIMINGS stamps: the broker at /metrics and on its
 * dashboard, the SDK per subscription. One histogram shape and one summary, so a hop's figures mean the
 * same wherever they are read.
 */
import * as hdr from 'hdr-histogram-js';

/** One hop's latency: how many measurements, and their p50/p99/p99.9 in microseconds (0 when none). */
export interface HopSummary {
  readonly count: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
}

/** A hop's histogram: microseconds from 1 µs to 1 h at 3 significant digits (a few tens of KiB). */
export function hopHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records a hop of `ns` nanoseconds (at least 1 µs: the histogram's floor). */
export function recordHopNs(histogram: hdr.Histogram, ns: number): void {
  histogram.recordValue(Math.max(1, Math.round(ns / 1000)));
}

/** The summary of each hop, `histograms[i]` holding hop `hops[i]`. */
export function summarizeHops<H extends string>(
  hops: readonly H[],
  histograms: readonly hdr.Histogram[],
): Record<H, HopSummary> {
  const out = {} as Record<H, HopSummary>;
  hops.forEach((hop, i) => {
    const h = histograms[i]!;
    const any = h.totalCount > 0;
    out[hop] = {
      count: h.totalCount,
      p50_us: any ? h.getValueAtPercentile(50) : 0,
      p99_us: any ? h.getValueAtPercentile(99) : 0,
      p999_us: any ? h.getValueAtPercentile(99.9) : 0,
    };
  });
  return out;
}
