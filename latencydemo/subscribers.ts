/**
 * The case's subscribers: `fanout` per stream, each in the SDK's callback mode (no queue, no promise per
 * event). Every callback reads the header, records the latency of a measured event in an HDR histogram
 * (the primary subscriber's, which Felix reports, or the others'; "all subscribers" is their sum) and
 * counts it; offset gaps the broker left are attributed to the warmup or the measured phase. Nothing is
 * allocated per event.
 */
import { build, initWebAssemblySync, type Histogram } from 'hdr-histogram-js';
import { performance } from 'node:perf_hooks';
import type { FelixClient, FelixEvent, GapInfo, Subscription } from '../client/index.js';
import { MAX_LATENCY_MS, splitGap, type PhaseOffsets } from './accounting.js';
import { percentileWithinMax } from './percentile.js';
import type { StreamPlan } from './publish-plan.js';
import { FENCE_SEQ } from './fence.js';
import { readSentAt, readSeq } from './stamp.js';

export type Phase = 'warmup' | 'measured';

/** Latency percentiles in nanoseconds. */
export interface LatencySummary {
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly p999Ns: number;
  readonly maxNs: number;
}

/** What a wait counts: one phase's deliveries, or both phases' (the publisher's window). */
export type Tally = Phase | 'both';

interface Waiter {
  readonly tally: Tally;
  readonly target: number;
  readonly done: (complete: boolean) => void;
}

const NS_PER_MS = 1e6;
const MAX_LATENCY_NS = MAX_LATENCY_MS * NS_PER_MS;

// The WebAssembly histograms record a value in ~40 ns where the JavaScript ones take ~200 ns: at a million
// deliveries a second that is the difference between a fifth of the demo's CPU and a twentieth.
let webAssembly: boolean | undefined;
function useWebAssembly(): boolean {
  if (webAssembly === undefined) {
    try {
      initWebAssemblySync();
      webAssembly = true;
    } catch {
      webAssembly = false;
    }
  }
  return webAssembly;
}

/** Nanoseconds, three significant digits (0.1 %); grows past 10 s if a run is that slow. */
export function latencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 10_000_000_000,
    autoResize: true,
    useWebAssembly: useWebAssembly(),
  });
}

export function summarize(histogram: Histogram): LatencySummary | null {
  if (histogram.totalCount === 0) return null;
  const at = (percentile: number): number => percentileWithinMax(histogram, percentile);
  return { p50Ns: at(50), p99Ns: at(99), p999Ns: at(99.9), maxNs: histogram.maxValue };
}

export class SubscriberGroup {
  readonly primaryLatencies = latencyHistogram();
  /** Every subscriber but the primary: each delivery is recorded once. */
  readonly otherLatencies = latencyHistogram();
  /** Warmup events received or reported dropped, over all subscribers. */
  warmupAccounted = 0;
  /** Measured events received or reported dropped, over all subscribers. */
  measuredAccounted = 0;
  /** Measured events received, over all subscribers (Felix's delivered total). */
  measuredReceived = 0;
  /** Measured events the broker reported dropped (offset gaps), over all subscribers. */
  measuredDropped = 0;
  /**
   * Measured events whose latency was negative or above MAX_LATENCY_MS (a stamp from another process's
   * clock, say an earlier run's event on a durable stream): counted as received, kept out of the histograms,
   * which cannot hold such a value, and reported as making the run invalid.
   */
  outOfRangeLatencies = 0;
  /** Measured events the primary subscriber (the first on stream 0) received. */
  primaryReceived = 0;
  /** When the primary subscriber had accounted for all its measured events; -1 until then. */
  primaryDoneAt = -1;
  /** When the primary subscriber last received a measured event; -1 before. */
  primaryLastAt = -1;
  /** performance.now() of the last event any subscriber received. */
  lastEventAt = 0;
  readonly warmupTarget: number;
  readonly measuredTarget: number;
  /** Felix's sample total: the measured events of stream 0. */
  readonly primaryTarget: number;
  /** The primary subscriber's subscription, for its per-hop timings. */
  primarySubscription: Subscription | null = null;
  readonly warnings: string[] = [];
  private primaryAccounted = 0;
  private waiter: Waiter | null = null;

  constructor(
    private readonly plan: readonly StreamPlan[],
    private readonly fanout: number,
    /** Sequence numbers below this are warmup events. */
    private readonly warmupEvents: number,
  ) {
    this.warmupTarget = plan.reduce((sum, s) => sum + s.warmup, 0) * fanout;
    this.measuredTarget = plan.reduce((sum, s) => sum + s.measured, 0) * fanout;
    this.primaryTarget = plan[0]!.measured;
  }

  /**
   * Subscribes `fanout` times to every stream, in order (as Felix does), each from offset 0 of its fresh
   * stream (every case names streams of its own, see run-case.ts), so that even a drop before the first
   * delivered event shows as a gap.
   */
  async subscribeAll(client: FelixClient): Promise<void> {
    for (let s = 0; s < this.plan.length; s++) {
      const stream = this.plan[s]!;
      for (let i = 0; i < this.fanout; i++) {
        const primary = s === 0 && i === 0;
        const sub = await client.subscribe(stream.name, {
          start: { offset: 0 },
          onEvent: this.listener(primary),
          onGap: this.gapListener(stream, primary),
        });
        if (primary) this.primarySubscription = sub;
        void sub.closed.then((error) => {
          if (error !== undefined)
            this.warnings.push(`subscriber ${s}.${i} on ${stream.name} ended: ${error.message}`);
        });
      }
    }
  }

  /**
   * The primary subscriber's percentiles and all subscribers'. Frees the histograms (WebAssembly memory is
   * not collected): call once, after the case.
   */
  latencies(): { primary: LatencySummary | null; all: LatencySummary | null } {
    const all = latencyHistogram();
    all.add(this.primaryLatencies);
    all.add(this.otherLatencies);
    const summaries = { primary: summarize(this.primaryLatencies), all: summarize(all) };
    for (const h of [all, this.primaryLatencies, this.otherLatencies]) h.destroy();
    return summaries;
  }

  /** Deliveries received or reported dropped so far, over both phases and all subscribers. */
  get accounted(): number {
    return this.warmupAccounted + this.measuredAccounted;
  }

  /**
   * Resolves true once every subscriber has accounted for every event of `phase`, or false after `idleMs`
   * without any event (the stragglers are then given up).
   */
  waitFor(phase: Phase, idleMs: number): Promise<boolean> {
    return this.waitUntil(phase, phase === 'warmup' ? this.warmupTarget : this.measuredTarget, idleMs);
  }

  /** Resolves true once `tally` reaches `target`, or false after `idleMs` without any event. */
  waitUntil(tally: Tally, target: number, idleMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const done = (complete: boolean): void => {
        clearTimeout(timer);
        this.waiter = null;
        resolve(complete);
      };
      const checkIdle = (): void => {
        const quiet = performance.now() - Math.max(this.lastEventAt, started);
        if (quiet >= idleMs) done(false);
        else timer = setTimeout(checkIdle, idleMs - quiet);
      };
      this.waiter = { tally, target, done };
      if (!this.settle()) timer = setTimeout(checkIdle, idleMs);
    });
  }

  private listener(primary: boolean): (event: FelixEvent) => void {
    return (event) => {
      const now = performance.now();
      this.lastEventAt = now;
      const payload = event.payload;
      const seq = readSeq(payload);
      if (seq < this.warmupEvents) {
        this.warmupAccounted++;
      } else if (seq === FENCE_SEQ) {
        // Counted by no one: its offset only shows what the broker dropped before it (fence.ts).
      } else {
        const latencyNs = Math.round((now - readSentAt(payload)) * NS_PER_MS);
        this.measuredReceived++;
        this.measuredAccounted++;
        // Also false for NaN: whatever the header holds, the histogram only sees a value it can hold.
        const inRange = latencyNs >= 0 && latencyNs <= MAX_LATENCY_NS;
        if (!inRange) this.outOfRangeLatencies++;
        if (!primary) {
          if (inRange) this.otherLatencies.recordValue(latencyNs);
        } else {
          if (inRange) this.primaryLatencies.recordValue(latencyNs);
          this.primaryReceived++;
          this.primaryLastAt = now;
          this.primaryProgress(1, now);
        }
      }
      if (this.waiter !== null) this.settle();
    };
  }

  private gapListener(phases: PhaseOffsets, primary: boolean): (gap: GapInfo) => void {
    return (gap) => {
      const split = splitGap(gap.expected, gap.offset, phases);
      this.warmupAccounted += split.warmup;
      this.measuredAccounted += split.measured;
      this.measuredDropped += split.measured;
      if (primary && split.measured > 0) this.primaryProgress(split.measured, performance.now());
      if (this.waiter !== null) this.settle();
    };
  }

  private primaryProgress(events: number, now: number): void {
    this.primaryAccounted += events;
    if (this.primaryDoneAt < 0 && this.primaryAccounted >= this.primaryTarget) this.primaryDoneAt = now;
  }

  /** Ends the wait when its phase is complete; returns whether it did. */
  private settle(): boolean {
    const w = this.waiter;
    if (w === null) return true;
    const count =
      w.tally === 'warmup'
        ? this.warmupAccounted
        : w.tally === 'measured'
          ? this.measuredAccounted
          : this.warmupAccounted + this.measuredAccounted;
    const complete = count >= w.target;
    if (complete) w.done(true);
    return complete;
  }
}
