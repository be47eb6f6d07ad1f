/**
 * One case's result in the shape of the JSON contract (snake_case, numbers as numbers), computed with
 * Felix's definitions:
 *   elapsed          from the start of the measured phase until the publisher is done and the primary
 *                    subscriber has all its events (Felix awaits both before reading the clock)
 *   throughput       total / elapsed
 *   effective        received (by the primary subscriber) / elapsed
 *   delivered        delivered_total (measured events received by all subscribers) / elapsed
 *   per-sub          delivered_total / fanout / elapsed
 *   dropped          sample_total − received (the primary subscriber's missing events)
 */
import type { HopSummary } from '../client/index.js';
import { dropWarning, invalidReasons, judgeDeliveries } from './accounting.js';
import { reportedPubWindow, type CaseConfig, type Workload } from './cases.js';
import type { OpenLoopReport } from './open-loop.js';
import { eventBytes } from './stamp.js';
import type { LatencySummary } from './subscribers.js';

export interface CaseReport extends Workload {
  readonly name: string;
  readonly pub_conns: number;
  readonly pub_streams_per_conn: number;
  readonly pub_sharding: string;
  readonly pub_stream_count: number;
  readonly sub_conns: number;
  /** Batches in flight at most until delivered (0: unbounded; null: acked mode, none); not in Felix. */
  readonly pub_window: number | null;
  readonly publish_total: number;
  readonly sample_total: number;
  readonly received: number;
  readonly dropped: number;
  readonly delivered_total: number;
  readonly expected_deliveries: number;
  /** Measured deliveries the broker reported dropped (offset gaps), over all subscribers. */
  readonly reported_drops: number;
  readonly unaccounted: number;
  /** No invalid_reasons. */
  readonly valid: boolean;
  /** Why the case is an INVALID RUN, one sentence each (accounting.ts's invalidReasons); empty when valid. */
  readonly invalid_reasons: readonly string[];
  /** Latencies in whole microseconds (truncated, as Felix's as_micros); null without samples. */
  readonly p50_us: number | null;
  readonly p99_us: number | null;
  readonly p999_us: number | null;
  readonly max_us: number | null;
  readonly all_p50_us: number | null;
  readonly all_p99_us: number | null;
  readonly all_p999_us: number | null;
  readonly throughput_msgs: number;
  readonly effective_throughput_msgs: number;
  readonly delivered_throughput_msgs: number;
  readonly delivered_per_sub_throughput_msgs: number;
  /** delivered_total × (16 + payload) bytes / elapsed, in 10^6 bytes per second. */
  readonly delivered_mb_s: number;
  readonly duration_s: number;
  readonly warnings: readonly string[];
  /**
   * Per-hop latency of the primary subscriber's batches from the TIMINGS stamps (the SDK's
   * Subscription.hopStats()), null when timings are off (FELIX_DISABLE_TIMINGS=1 or the high-memory profile).
   */
  readonly timings: Readonly<Record<string, HopTiming>> | null;
  /**
   * The open loop's rate, achieved rate and publisher lag (--rate); null for the closed loop. Its latencies
   * above count from each message's scheduled send time.
   */
  readonly open_loop: OpenLoopReport | null;
}

/** One hop's statistics, exactly as the SDK's Subscription.hopStats() reports them. */
export type HopTiming = HopSummary;

/** What a run of one case measured. */
export interface CaseMeasurement {
  readonly sampleTotal: number;
  readonly primaryReceived: number;
  readonly deliveredTotal: number;
  readonly reportedDrops: number;
  /** Measured deliveries whose latency could not be this run's (SubscriberGroup); 0 when absent. */
  readonly outOfRangeLatencies?: number;
  /** Whether a reported drop makes the case invalid (accounting.ts's RunChecks); false when absent. */
  readonly dropsInvalid?: boolean;
  readonly primary: LatencySummary | null;
  readonly all: LatencySummary | null;
  readonly elapsedMs: number;
  readonly warnings: readonly string[];
  readonly timings?: Readonly<Record<string, HopTiming>> | null;
  readonly openLoop?: OpenLoopReport | null;
}

const micros = (ns: number | undefined): number | null => (ns === undefined ? null : Math.trunc(ns / 1000));
const round = (value: number, digits: number): number => Number(value.toFixed(digits));

export function buildCaseReport(c: CaseConfig, m: CaseMeasurement): CaseReport {
  const expected = c.total * c.fanout;
  const deliveries = { expected, received: m.deliveredTotal, reportedDrops: m.reportedDrops };
  const verdict = judgeDeliveries(deliveries);
  const dropsInvalid = m.dropsInvalid ?? false;
  const reasons = invalidReasons({
    ...deliveries,
    outOfRangeLatencies: m.outOfRangeLatencies ?? 0,
    dropsInvalid,
    ...(m.openLoop != null && {
      openLoop: {
        rate: m.openLoop.rate_msgs,
        achieved: m.openLoop.achieved_rate_msgs,
        measured: c.total,
        lagMaxUs: m.openLoop.publisher_lag_max_us,
      },
    }),
  });
  const drops = dropsInvalid ? undefined : dropWarning(m.reportedDrops, expected);
  const seconds = m.elapsedMs / 1000;
  const rate = (count: number): number => (seconds > 0 ? round(count / seconds, 2) : 0);
  return {
    name: c.name,
    warmup: c.warmup,
    total: c.total,
    payload: c.payload,
    fanout: c.fanout,
    batch: c.batch,
    binary: c.binary,
    pub_conns: c.pubConns,
    pub_streams_per_conn: c.pubStreamsPerConn,
    pub_sharding: c.pubSharding,
    pub_stream_count: c.pubStreamCount,
    sub_conns: c.subConns,
    pub_window: reportedPubWindow(c),
    publish_total: c.total,
    sample_total: m.sampleTotal,
    received: m.primaryReceived,
    dropped: Math.max(0, m.sampleTotal - m.primaryReceived),
    delivered_total: m.deliveredTotal,
    expected_deliveries: expected,
    reported_drops: m.reportedDrops,
    unaccounted: verdict.unaccounted,
    valid: reasons.length === 0,
    invalid_reasons: reasons,
    p50_us: micros(m.primary?.p50Ns),
    p99_us: micros(m.primary?.p99Ns),
    p999_us: micros(m.primary?.p999Ns),
    max_us: micros(m.primary?.maxNs),
    all_p50_us: micros(m.all?.p50Ns),
    all_p99_us: micros(m.all?.p99Ns),
    all_p999_us: micros(m.all?.p999Ns),
    throughput_msgs: rate(c.total),
    effective_throughput_msgs: rate(m.primaryReceived),
    delivered_throughput_msgs: rate(m.deliveredTotal),
    delivered_per_sub_throughput_msgs: rate(m.deliveredTotal / c.fanout),
    delivered_mb_s: seconds > 0 ? round((m.deliveredTotal * eventBytes(c.payload)) / seconds / 1e6, 2) : 0,
    duration_s: round(seconds, 6),
    warnings: drops === undefined ? [...m.warnings] : [...m.warnings, drops],
    timings: m.timings ?? null,
    open_loop: m.openLoop ?? null,
  };
}
