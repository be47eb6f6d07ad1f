import type * as hdr from 'hdr-histogram-js';
import { hopHistogram, recordHopNs, summarizeHops, type HopSummary } from '../../wire/index.js';

/** The hops the broker measures itself. Low cardinality on purpose: per hop, never per stream or client. */
export const BROKER_HOPS = ['publish_to_broker', 'decode_to_enqueue', 'queue'] as const;
export type BrokerHop = (typeof BROKER_HOPS)[number];
/** A hop's index in BROKER_HOPS, what record() takes (a number, so the per-batch call does no lookup). */
export const HOP = { publish_to_broker: 0, decode_to_enqueue: 1, queue: 2 } as const;
export type BrokerHopIndex = (typeof HOP)[BrokerHop];

export type { HopSummary };

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

// Measurements held before they are recorded into the histograms.
const PENDING = 1024;

/**
 * Per-hop latency histograms (HDR, microseconds): cumulative for /metrics, and per interval for the live
 * dashboard (`takeInterval()` once a second). Records only while timings are on.
 *
 * record() only appends the measurement to a small buffer; the HDR recording happens in batches of
 * PENDING, and before every read. The per-batch call sites stay a few stores long: recording there
 * directly, V8 inlined HDR's call chain (about ten small functions per value, twice) into the optimised
 * PublishHandler.publish and the event writer, which then no longer inlined the transport's write.
 */
export class HopTimings {
  private readonly total: hdr.Histogram[] = BROKER_HOPS.map(hopHistogram);
  private interval: hdr.Histogram[] = BROKER_HOPS.map(hopHistogram);
  private readonly pendingHop = new Uint8Array(PENDING);
  private readonly pendingNs = new Float64Array(PENDING);
  private pendingCount = 0;
  private readonly samples: SampledBatch[] = [];
  private sampleHead = 0;

  record(hop: BrokerHopIndex, ns: number): void {
    // Clocks can only go backwards across hosts; such a difference is not a latency.
    if (ns < 0) return;
    const i = this.pendingCount;
    this.pendingHop[i] = hop;
    this.pendingNs[i] = ns;
    this.pendingCount = i + 1;
    if (i + 1 === PENDING) this.recordPending();
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
    this.recordPending();
    return summarizeHops(BROKER_HOPS, this.total);
  }

  /** This interval's per-hop summary; starts the next interval. */
  takeInterval(): Record<BrokerHop, HopSummary> {
    this.recordPending();
    const done = this.interval;
    this.interval = BROKER_HOPS.map(hopHistogram);
    return summarizeHops(BROKER_HOPS, done);
  }

  private recordPending(): void {
    const total = this.total;
    const interval = this.interval;
    for (let i = 0; i < this.pendingCount; i++) {
      const hop = this.pendingHop[i]!;
      recordHopNs(total[hop]!, this.pendingNs[i]!);
      recordHopNs(interval[hop]!, this.pendingNs[i]!);
    }
    this.pendingCount = 0;
  }
}
