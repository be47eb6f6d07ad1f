// The demos report p50/p99/p99.9 next to the maximum; HDR reads a percentile as the highest value of its
// bucket, which can lie above the exact maximum. Every report clamps it there (latencydemo/percentile.ts).
import { build } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { LatencyRecorder } from '../../cachedemo/stats.js';
import { percentileWithinMax } from '../../latencydemo/percentile.js';
import { latencyHistogram, summarize } from '../../latencydemo/subscribers.js';

// At three significant digits 11921 shares a bucket of 8 with 11927, which HDR answers for it.
const VALUE = 11_921;

describe('percentiles next to the maximum', () => {
  it('HDR alone reads a percentile above the maximum (why the clamp exists)', () => {
    const h = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    h.recordValue(VALUE);
    expect(h.getValueAtPercentile(99.9)).toBeGreaterThan(h.maxValue);
    expect(percentileWithinMax(h, 99.9)).toBe(VALUE);
    h.destroy();
  });

  it('cachedemo: p50, p99 and p999 never exceed max_us', () => {
    const recorder = new LatencyRecorder();
    for (let i = 0; i < 99; i++) recorder.record(100);
    recorder.record(VALUE);
    const stats = recorder.stats(1000);
    recorder.destroy();
    expect(stats.maxUs).toBe(VALUE);
    expect(stats.p999Us).toBe(VALUE);
    expect(stats.p99Us).toBeLessThanOrEqual(stats.maxUs);
  });

  it('latencydemo: the summary clamps the same way', () => {
    const h = latencyHistogram();
    h.recordValue(VALUE * 1000 + 1);
    const summary = summarize(h)!;
    h.destroy();
    expect(summary.p999Ns).toBe(summary.maxNs);
    expect(summary.p50Ns).toBe(summary.maxNs);
  });

  it('is 0 for an empty histogram', () => {
    const h = latencyHistogram();
    expect(percentileWithinMax(h, 99)).toBe(0);
    h.destroy();
  });
});
