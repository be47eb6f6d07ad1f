/**
 * Open-loop pacing: `count` sends evenly spaced at `rate` per second, each handed its *scheduled* time, so
 * that whatever measures latency from that time also counts the time a send spent waiting behind schedule
 * (the queueing a closed loop hides: coordinated omission). The sends never wait for each other's results.
 *
 * The pacer checks the clock on every event-loop turn while the next send is due within SPIN_WITHIN_MS and
 * sleeps otherwise (bench/broker/open-loop.ts's scheme): evenly spaced sends at the cost of one busy core in
 * the sending process, as a paced sender in any client must. When it falls behind, every send that is due
 * goes out at once, at most TURN_SENDS per turn, so the process still reads its replies and deliveries.
 * Used by latencydemo, cachedemo and the NATS and Redis harnesses alike, so both sides of a comparison are
 * paced by the same code.
 */
import { build } from 'hdr-histogram-js';
import { performance } from 'node:perf_hooks';
import { percentileWithinMax } from './percentile.js';

export const SPIN_WITHIN_MS = 2;
/** Sends handed out in one event-loop turn at most while catching up. */
export const TURN_SENDS = 256;
/** Delay before the first send, so subscribers and timers are settled when the schedule starts. */
export const START_DELAY_MS = 20;

/** The clock and the two ways of waiting the pacer uses; tests substitute a fake one. */
export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  nextTurn(): Promise<void>;
}

export const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  nextTurn: () => new Promise((resolve) => setImmediate(resolve)),
};

/** One send: `index` counts from 0; `scheduledAt` is on the clock's scale (milliseconds). */
export type PacedSend = (index: number, scheduledAt: number) => void;

export interface PaceResult {
  readonly sent: number;
  /** Scheduled time of send 0. */
  readonly startAt: number;
  /** When send `measuredFrom` and the last send actually went out. */
  readonly firstSendAt: number;
  readonly lastSendAt: number;
  /** Sends per second actually achieved over [measuredFrom, count). */
  readonly achievedRate: number;
  /** How far behind schedule the sends of [measuredFrom, count) went out, in microseconds. */
  readonly lagP50Us: number;
  readonly lagP99Us: number;
  readonly lagMaxUs: number;
}

/** The time send `index` is due. */
export function scheduledAt(startAt: number, rate: number, index: number): number {
  return startAt + (index * 1000) / rate;
}

/** Sends per second of `count` sends whose first and last went out at these times (ms). */
export function achievedRate(count: number, firstSendAt: number, lastSendAt: number): number {
  if (count < 2 || lastSendAt <= firstSendAt) return 0;
  return ((count - 1) * 1000) / (lastSendAt - firstSendAt);
}

/**
 * A schedule whose sends went out more than this fraction below its rate does not measure what it says:
 * the sender was saturated, so latencies counted from the scheduled times measure the queue in the sending
 * process, not the system under test. latencydemo and cachedemo call such a run INVALID.
 */
export const RATE_SHORTFALL_MARGIN = 0.05;

/**
 * The fraction by which `count` sends at `achieved` per second fell short of `rate`, when beyond
 * RATE_SHORTFALL_MARGIN; undefined when within it, or with fewer than two sends (no rate to speak of).
 */
export function rateShortfall(rate: number, achieved: number, count: number): number | undefined {
  if (count < 2 || achieved >= rate * (1 - RATE_SHORTFALL_MARGIN)) return undefined;
  return 1 - achieved / rate;
}

/**
 * How far behind its schedule the sender was at its worst moment, as a fraction of the run's sends (its
 * largest lag × the rate, over the sends), when beyond RATE_SHORTFALL_MARGIN; undefined within it. A
 * sender saturated for a stretch and caught up by the end keeps its achieved rate (which sees the first and
 * last send only) and can even read above the rate, while its latencies carry its own queue: this is what
 * tells. A scheduler hiccup of a few ms stays far within it (9 ms of a 5 s run: 0.2%).
 */
export function scheduleSlip(rate: number, lagMaxUs: number, count: number): number | undefined {
  if (count < 2) return undefined;
  const behind = ((lagMaxUs / 1e6) * rate) / count;
  return behind > RATE_SHORTFALL_MARGIN ? behind : undefined;
}

/** The INVALID RUN reason for a sender that fell `slip` of its sends behind (scheduleSlip). */
export function slipReason(slip: number, lagMaxUs: number, unit: string, what: string): string {
  return (
    `open loop: the ${unit} fell ${(lagMaxUs / 1000).toFixed(1)} ms behind its schedule at worst, ` +
    `${(100 * slip).toFixed(1)}% of the run's ${what} (more than ${RATE_SHORTFALL_MARGIN * 100}%): it was ` +
    'saturated for a while, so latencies from the scheduled times measure queueing in the demo'
  );
}

/**
 * Runs the schedule; resolves once every send is out. Sends before `measuredFrom` (the warmup) are paced
 * alike but left out of the achieved rate and the lag.
 */
export async function pace(
  count: number,
  rate: number,
  send: PacedSend,
  options: { readonly measuredFrom?: number; readonly clock?: PacerClock } = {},
): Promise<PaceResult> {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be positive, got ${rate}`);
  const clock = options.clock ?? realClock;
  const measuredFrom = Math.min(options.measuredFrom ?? 0, count);
  // Microseconds, three significant digits; the pure JavaScript histogram (one record per send is cheap).
  const lag = build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, autoResize: true });
  const startAt = clock.now() + START_DELAY_MS;
  let sent = 0;
  let firstSendAt = 0;
  let lastSendAt = 0;
  try {
    while (sent < count) {
      const now = clock.now();
      const turnEnd = Math.min(count, sent + TURN_SENDS);
      for (let due = scheduledAt(startAt, rate, sent); sent < turnEnd && due <= now;) {
        send(sent, due);
        if (sent >= measuredFrom) {
          if (sent === measuredFrom) firstSendAt = now;
          lastSendAt = now;
          lag.recordValue(Math.round((now - due) * 1000));
        }
        sent++;
        due = scheduledAt(startAt, rate, sent);
      }
      if (sent === count) break;
      const wait = scheduledAt(startAt, rate, sent) - clock.now();
      if (wait > SPIN_WITHIN_MS) await clock.sleep(wait - SPIN_WITHIN_MS);
      else await clock.nextTurn();
    }
    const measured = count - measuredFrom;
    return {
      sent,
      startAt,
      firstSendAt,
      lastSendAt,
      achievedRate: achievedRate(measured, firstSendAt, lastSendAt),
      lagP50Us: percentileWithinMax(lag, 50),
      lagP99Us: percentileWithinMax(lag, 99),
      lagMaxUs: lag.totalCount === 0 ? 0 : lag.maxValue,
    };
  } finally {
    lag.destroy();
  }
}
