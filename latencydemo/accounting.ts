/**
 * Whether a run can be trusted. Every measured event must reach every subscriber of its stream, or be
 * reported dropped by the broker (a gap in the subscriber's offsets). A delivery neither received nor
 * reported is unaccounted and makes the run INVALID: its throughput and percentiles describe some other
 * workload than the one asked for.
 */
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

/** The line printed for an invalid run (text report), or undefined for a valid one. */
export function invalidRunLine(d: Deliveries): string | undefined {
  const { unaccounted } = judgeDeliveries(d);
  if (unaccounted === 0) return undefined;
  const detail = `received ${d.received}, reported dropped ${d.reportedDrops}`;
  return unaccounted > 0
    ? `INVALID RUN: ${unaccounted} of ${d.expected} expected deliveries unaccounted (${detail})`
    : `INVALID RUN: ${-unaccounted} deliveries more than the ${d.expected} expected (${detail})`;
}

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
