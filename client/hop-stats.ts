/**
 * Per-subscription hop statistics from the TIMINGS stamps of each event batch (send, decode, enqueue,
 * write) and the moment it was received here. Differences of two stamps from different processes are
 * latencies only when both processes read the same clock — the same host — so the hops that cross
 * processes are kept only then; the broker-internal ones (one clock) always.
 */
import * as hdr from 'hdr-histogram-js';
import type { EventStamps } from '../wire/index.js';

export const CLIENT_HOPS = [
  'publish_to_broker',
  'decode_to_enqueue',
  'queue',
  'broker_to_subscriber',
  'end_to_end',
] as const;
export type ClientHop = (typeof CLIENT_HOPS)[number];

export interface HopSummary {
  readonly count: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
}

export class HopStats {
  private readonly histograms: hdr.Histogram[];

  constructor(
    /** The broker is on this host (a loopback address), so cross-process hops are measurable. */
    readonly sameHost: boolean,
  ) {
    this.histograms = CLIENT_HOPS.map(() =>
      hdr.build({
        lowestDiscernibleValue: 1,
        highestTrackableValue: 3_600_000_000,
        numberOfSignificantValueDigits: 3,
      }),
    );
  }

  /** One batch: its stamps and when it arrived here (monotonic ns). */
  record(stamps: EventStamps, receivedNs: number): void {
    const { send_ns: send, decode_ns: decode, enqueue_ns: enqueue, write_ns: write } = stamps;
    this.add(1, enqueue - decode);
    this.add(2, write - enqueue);
    if (!this.sameHost) return;
    if (send !== 0) {
      this.add(0, decode - send);
      this.add(4, receivedNs - send);
    }
    this.add(3, receivedNs - write);
  }

  summary(): Record<ClientHop, HopSummary> {
    const out = {} as Record<ClientHop, HopSummary>;
    CLIENT_HOPS.forEach((hop, i) => {
      const h = this.histograms[i]!;
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

  private add(index: number, ns: number): void {
    if (ns < 0) return;
    this.histograms[index]!.recordValue(Math.max(1, Math.round(ns / 1000)));
  }
}
