/**
 * Per-subscription hop statistics from the TIMINGS stamps of each event batch (send, decode, enqueue,
 * write) and the moment it was received here. Differences of two stamps from different processes are
 * latencies only when both processes read the same clock — the same host — so the hops that cross
 * processes are kept only then; the broker-internal ones (one clock) always.
 */
import type * as hdr from 'hdr-histogram-js';
import { hopHistogram, readStamp, recordHopNs, summarizeHops, type HopSummary } from '../wire/index.js';

export const CLIENT_HOPS = [
  'publish_to_broker',
  'decode_to_enqueue',
  'queue',
  'broker_to_subscriber',
  'end_to_end',
] as const;
export type ClientHop = (typeof CLIENT_HOPS)[number];

export type { HopSummary };

// Batches whose stamps are held before they are recorded into the histograms.
const PENDING_BATCHES = 256;
// Per held batch: send, decode, enqueue, write, received.
const FIELDS = 5;

/**
 * recordBlock() only copies a batch's stamps into a small buffer; the HDR recording happens in batches of
 * PENDING_BATCHES, and before every summary(). The per-batch call stays a few loads and stores: HDR's
 * call chain (about ten small functions per value) is kept out of the optimised code of the event path,
 * into which V8 inlined it.
 *
 * Both are made on first use, not with the subscription: the five histograms are ~93 KiB each, and a
 * subscription that is made and closed before its first timed event (or that never gets one) would
 * otherwise cost half a megabyte of allocation and the garbage collections it triggers — measured, they
 * were a quarter of the client's CPU in a subscribe/unsubscribe loop.
 */
export class HopStats {
  private histograms: hdr.Histogram[] | null = null;
  private pending: Float64Array | null = null;
  private pendingCount = 0;

  constructor(
    /** The broker is on this host (a loopback address), so cross-process hops are measurable. */
    readonly sameHost: boolean,
  ) {}

  /**
   * One batch: the stamp block that leads its TIMINGS payload (wire/timings.ts) and when it arrived here
   * (monotonic ns).
   */
  recordBlock(payload: Uint8Array, receivedNs: number): void {
    const p = (this.pending ??= new Float64Array(PENDING_BATCHES * FIELDS));
    const at = this.pendingCount * FIELDS;
    p[at] = readStamp(payload, 0);
    p[at + 1] = readStamp(payload, 8);
    p[at + 2] = readStamp(payload, 16);
    p[at + 3] = readStamp(payload, 24);
    p[at + 4] = receivedNs;
    if (++this.pendingCount === PENDING_BATCHES) this.recordPending();
  }

  summary(): Record<ClientHop, HopSummary> {
    this.recordPending();
    // Nothing recorded yet: every hop is empty, and reading that allocates nothing.
    if (this.histograms === null) return emptySummary();
    return summarizeHops(CLIENT_HOPS, this.histograms);
  }

  private histogramsInUse(): hdr.Histogram[] {
    return (this.histograms ??= CLIENT_HOPS.map(hopHistogram));
  }

  private recordPending(): void {
    const p = this.pending;
    if (p === null || this.pendingCount === 0) return;
    const histograms = this.histogramsInUse();
    for (let b = 0; b < this.pendingCount; b++) {
      const at = b * FIELDS;
      const send = p[at]!;
      const decode = p[at + 1]!;
      const enqueue = p[at + 2]!;
      const write = p[at + 3]!;
      const received = p[at + 4]!;
      add(histograms[1]!, enqueue - decode);
      add(histograms[2]!, write - enqueue);
      if (!this.sameHost) continue;
      if (send !== 0) {
        add(histograms[0]!, decode - send);
        add(histograms[4]!, received - send);
      }
      add(histograms[3]!, received - write);
    }
    this.pendingCount = 0;
  }
}

function emptySummary(): Record<ClientHop, HopSummary> {
  const none: HopSummary = { count: 0, p50_us: 0, p99_us: 0, p999_us: 0 };
  return Object.fromEntries(CLIENT_HOPS.map((hop) => [hop, none])) as Record<ClientHop, HopSummary>;
}

function add(histogram: hdr.Histogram, ns: number): void {
  if (ns >= 0) recordHopNs(histogram, ns);
}
