/**
 * Whether a run can be trusted. Every measured event must reach every subscriber of its stream, or be
 * reported dropped by the broker (a gap in the subscriber's offsets). A delivery neither received nor
 * reported is unaccounted and makes the run INVALID: its throughput and percentiles describe some other
 * workload than the one asked for.
 */
import { RATE_SHORTFALL_MARGIN, rateShortfall, scheduleSlip, slipReason } from './pacer.js';
import { eventBytes } from './stamp.js';

export interface Deliveries {
  /** total × fanout: each measured event, once per subscriber of its stream. */
  readonly expected: number;
  /** Measured events received, over all subscribers. */
  readonly received: number;
  /** Measured events the broker reported dropped (offset gaps), over all subscribers. */
  readonly reportedDrops: number;
}

export interface Verdict {
  /** expected − received − reportedDrops: positive when deliveries are missing, negative when duplicated. */
  readonly unaccounted: number;
  readonly valid: boolean;
}

export function judgeDeliveries(d: Deliveries): Verdict {
  const unaccounted = d.expected - d.received - d.reportedDrops;
  return { unaccounted, valid: unaccounted === 0 };
}

/** Why the deliveries make the run invalid, or undefined when they are all accounted for. */
export function unaccountedReason(d: Deliveries): string | undefined {
  const { unaccounted } = judgeDeliveries(d);
  if (unaccounted === 0) return undefined;
  const detail = `received ${d.received}, reported dropped ${d.reportedDrops}`;
  return unaccounted > 0
    ? `${unaccounted} of ${d.expected} expected deliveries unaccounted (${detail})`
    : `${-unaccounted} deliveries more than the ${d.expected} expected (${detail})`;
}

/** The line printed for an invalid run (text report), or undefined for a valid one. */
export function invalidRunLine(d: Deliveries): string | undefined {
  const reason = unaccountedReason(d);
  return reason === undefined ? undefined : `INVALID RUN: ${reason}`;
}

/** Everything besides the delivery count that can make a run's numbers mean something else than they say. */
export interface RunChecks extends Deliveries {
  /** Deliveries whose latency was negative or absurd (not this run's stamp): left out of the histograms. */
  readonly outOfRangeLatencies: number;
  /**
   * The demo sized the broker's subscriber queues for everything the case can have in flight: a drop then
   * means the run is not the one asked for. False when the bounds are the user's (to study drops).
   */
  readonly dropsInvalid: boolean;
  /** The open loop's rate asked for and achieved (msg/s); undefined for the closed loop. */
  readonly openLoop?: {
    readonly rate: number;
    readonly achieved: number;
    readonly measured: number;
    /** The publisher's largest lag behind its schedule (µs). */
    readonly lagMaxUs: number;
  };
}

/** Each reason the run is an INVALID RUN (without that prefix); empty for a valid run. */
export function invalidReasons(r: RunChecks): string[] {
  const reasons: string[] = [];
  const unaccounted = unaccountedReason(r);
  if (unaccounted !== undefined) reasons.push(unaccounted);
  if (r.outOfRangeLatencies > 0) {
    reasons.push(
      `${r.outOfRangeLatencies} deliveries carried a send time this run did not stamp (latency negative or ` +
        `over ${MAX_LATENCY_MS / 3_600_000} h): left out of the latencies`,
    );
  }
  if (r.dropsInvalid && r.reportedDrops > 0) {
    reasons.push(
      `the broker dropped ${r.reportedDrops} of ${r.expected} measured deliveries although the demo sized ` +
        'its subscriber queues for the case (set FELIX_SUB_QUEUE_CAPACITY or FELIX_SUB_QUEUE_MAX_BYTES ' +
        'to study drops)',
    );
  }
  const o = r.openLoop;
  const shortfall = o === undefined ? undefined : rateShortfall(o.rate, o.achieved, o.measured);
  if (o !== undefined && shortfall !== undefined) {
    const short = (100 * shortfall).toFixed(1);
    reasons.push(
      `open loop achieved ${o.achieved.toFixed(2)} msg/s of the ${o.rate} asked (${short}% short, more ` +
        `than ${RATE_SHORTFALL_MARGIN * 100}%): the publisher was saturated, so latencies from its ` +
        'scheduled send times measure queueing in the demo, not the broker',
    );
  }
  const slip = o === undefined ? undefined : scheduleSlip(o.rate, o.lagMaxUs, o.measured);
  if (o !== undefined && slip !== undefined) {
    reasons.push(slipReason(slip, o.lagMaxUs, 'publisher', 'messages'));
  }
  return reasons;
}

/** The warning for drops the user's queue bounds allowed (the run stays valid, as documented). */
export function dropWarning(reportedDrops: number, expected: number): string | undefined {
  if (reportedDrops === 0) return undefined;
  return (
    `the broker dropped ${reportedDrops} of ${expected} measured deliveries (subscriber queue bounds as ` +
    'configured): latencies and delivered throughput cover the delivered events only'
  );
}

/** A latency above this is no latency of this run (a stamp from another process's clock). */
export const MAX_LATENCY_MS = 3_600_000;

/** Offsets of one stream's phases: [0, warmup) warmup events, [warmup, warmup + measured) measured ones. */
export interface PhaseOffsets {
  readonly warmup: number;
  readonly measured: number;
}

/** How many of the offsets [expected, offset) a gap skipped belong to each phase. */
export function splitGap(
  expected: number,
  offset: number,
  phases: PhaseOffsets,
): { warmup: number; measured: number } {
  const overlap = (from: number, to: number): number =>
    Math.max(0, Math.min(offset, to) - Math.max(expected, from));
  return {
    warmup: overlap(0, phases.warmup),
    measured: overlap(phases.warmup, phases.warmup + phases.measured),
  };
}

/**
 * Felix-ts's warning for a batched run whose bytes per subscriber fit in FELIX_EVENT_SEND_WINDOW: the broker
 * can hand the whole run to the transport without ever waiting for a subscriber, so the subscriber queues
 * and flow control are never exercised and throughput measures buffering, not sustained delivery.
 */
export function sendWindowWarning(
  batch: number,
  total: number,
  payload: number,
  sendWindowBytes: number,
): string | undefined {
  const runBytes = total * eventBytes(payload);
  if (batch <= 1 || runBytes >= sendWindowBytes) return undefined;
  const needed = Math.ceil(sendWindowBytes / eventBytes(payload));
  return (
    `batched run smaller than the send window: ${total} events × ${eventBytes(payload)} B = ` +
    `${formatBytes(runBytes)} per subscriber < FELIX_EVENT_SEND_WINDOW ${formatBytes(sendWindowBytes)}; ` +
    `throughput measures buffering, not sustained delivery (use --total ${needed} or more, ` +
    `or a smaller FELIX_EVENT_SEND_WINDOW)`
  );
}

function formatBytes(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}
