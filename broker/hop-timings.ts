import * as hdr from 'hdr-histogram-js';
import { Counter, Gauge, type Registry } from 'prom-client';

/** The hops the broker measures itself. Low cardinality on purpose: per hop, never per stream or client. */
export const BROKER_HOPS = ['publish_to_broker', 'decode_to_enqueue', 'queue'] as const;
export type BrokerHop = (typeof BROKER_HOPS)[number];

export interface HopSummary {
  readonly count: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
}

/** One sampled event batch with the hops it took inside the broker, for the dashboard's recent list. */
export interface SampledBatch {
  readonly at: number;
  readonly stream: string;
  readonly offset: number;
  readonly events: number;
  /** Microseconds per hop; absent when not measurable (e.g. a publisher on another host). */
  readonly hops: Partial<Record<BrokerHop, number>>;
}

const SAMPLE_RING = 100;

function histogram(): hdr.Histogram {
  // Microseconds from 1 µs to 1 h at 3 significant digits: a few tens of KiB per hop.
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/**
 * Per-hop latency histograms (HDR, microseconds): cumulative for /metrics, and per interval for the live
 * dashboard (swapped out by `takeInterval()` once a second). Records only while timings are on.
 */
export class HopTimings {
  private readonly total = new Map<BrokerHop, hdr.Histogram>();
  private interval = new Map<BrokerHop, hdr.Histogram>();
  private readonly samples: SampledBatch[] = [];
  private sampleHead = 0;

  constructor() {
    for (const hop of BROKER_HOPS) {
      this.total.set(hop, histogram());
      this.interval.set(hop, histogram());
    }
  }

  record(hop: BrokerHop, ns: number): void {
    // Clocks can only go backwards across hosts; such a difference is not a latency.
    if (ns < 0) return;
    const us = Math.max(1, Math.round(ns / 1000));
    this.total.get(hop)!.recordValue(us);
    this.interval.get(hop)!.recordValue(us);
  }

  sample(batch: SampledBatch): void {
    if (this.samples.length < SAMPLE_RING) this.samples.push(batch);
    else {
      this.samples[this.sampleHead] = batch;
      this.sampleHead = (this.sampleHead + 1) % SAMPLE_RING;
    }
  }

  /** The last sampled batches, oldest first. */
  recentSamples(): SampledBatch[] {
    return [...this.samples.slice(this.sampleHead), ...this.samples.slice(0, this.sampleHead)];
  }

  summary(): Record<BrokerHop, HopSummary> {
    return summarize(this.total);
  }

  /** This interval's per-hop summary; starts the next interval. */
  takeInterval(): Record<BrokerHop, HopSummary> {
    const done = this.interval;
    this.interval = new Map(BROKER_HOPS.map((hop) => [hop, histogram()]));
    return summarize(done);
  }

  registerMetrics(registry: Registry): void {
    const summary = (): Record<BrokerHop, HopSummary> => this.summary();
    new Gauge({
      name: 'felix_hop_latency_microseconds',
      help: 'Per-hop latency quantiles since start (HDR histogram), with FELIX_DISABLE_TIMINGS=0',
      labelNames: ['hop', 'quantile'],
      registers: [registry],
      collect() {
        const s = summary();
        for (const hop of BROKER_HOPS) {
          this.set({ hop, quantile: '0.5' }, s[hop].p50_us);
          this.set({ hop, quantile: '0.99' }, s[hop].p99_us);
          this.set({ hop, quantile: '0.999' }, s[hop].p999_us);
        }
      },
    });
    const reported: Partial<Record<BrokerHop, number>> = {};
    new Counter({
      name: 'felix_hop_samples_total',
      help: 'Measurements recorded per hop',
      labelNames: ['hop'],
      registers: [registry],
      collect() {
        const s = summary();
        for (const hop of BROKER_HOPS) {
          this.inc({ hop }, s[hop].count - (reported[hop] ?? 0));
          reported[hop] = s[hop].count;
        }
      },
    });
  }
}

function summarize(histograms: Map<BrokerHop, hdr.Histogram>): Record<BrokerHop, HopSummary> {
  const out = {} as Record<BrokerHop, HopSummary>;
  for (const [hop, h] of histograms) {
    out[hop] = {
      count: h.totalCount,
      p50_us: h.totalCount === 0 ? 0 : h.getValueAtPercentile(50),
      p99_us: h.totalCount === 0 ? 0 : h.getValueAtPercentile(99),
      p999_us: h.totalCount === 0 ? 0 : h.getValueAtPercentile(99.9),
    };
  }
  return out;
}
