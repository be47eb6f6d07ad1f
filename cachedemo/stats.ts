/**
 * Latency (microseconds, in an HDR histogram) and throughput of one measured run, and Felix's line for
 * it: `put: n=2000 p50=…us p99=…us p999=…us avg=…us throughput=… ops/s`.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import { percentileWithinMax } from '../latencydemo/percentile.js';

export interface BenchStats {
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly avgUs: number;
  readonly throughputOps: number;
  /** The open loop's pacing (--rate); absent for the closed loop. */
  readonly openLoop?: OpenLoopStats;
}

export interface OpenLoopStats {
  readonly rateOps: number;
  /** Operations per second actually started, first to last. */
  readonly achievedRateOps: number;
  /** How far behind its scheduled time an operation was started, microseconds. */
  readonly startLagP99Us: number;
  readonly startLagMaxUs: number;
}

/** Records one run: latencies as they complete, and how long the whole run took. */
export class LatencyRecorder {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  private sumUs = 0;
  count = 0;

  record(latencyUs: number): void {
    // The histogram takes whole microseconds; the average keeps the fractions.
    this.histogram.recordValue(Math.max(1, Math.round(latencyUs)));
    this.sumUs += latencyUs;
    this.count++;
  }

  stats(elapsedMs: number): BenchStats {
    const h = this.histogram;
    return {
      count: this.count,
      p50Us: percentileWithinMax(h, 50),
      p99Us: percentileWithinMax(h, 99),
      p999Us: percentileWithinMax(h, 99.9),
      maxUs: h.maxValue,
      avgUs: this.count === 0 ? 0 : this.sumUs / this.count,
      throughputOps: elapsedMs <= 0 ? 0 : this.count / (elapsedMs / 1000),
    };
  }

  destroy(): void {
    this.histogram.destroy();
  }
}

/** Felix's print_stats line (and, in the open loop, what the pacing achieved). */
export function felixLine(label: string, s: BenchStats): string {
  const line =
    `${label}: n=${s.count} p50=${s.p50Us.toFixed(2)}us p99=${s.p99Us.toFixed(2)}us ` +
    `p999=${s.p999Us.toFixed(2)}us avg=${s.avgUs.toFixed(2)}us throughput=${s.throughputOps.toFixed(2)} ops/s`;
  const o = s.openLoop;
  if (o === undefined) return line;
  return (
    `${line} open_loop: rate=${o.rateOps} ops/s achieved=${o.achievedRateOps.toFixed(2)} ops/s ` +
    `start_lag_p99=${o.startLagP99Us}us start_lag_max=${o.startLagMaxUs}us`
  );
}
