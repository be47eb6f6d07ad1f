// Flattens run records into table rows and aggregates the trials of each cell: medians and the p10–p90
// spread across trials, with failures counted rather than silently dropped.
import { CLIENT_HOPS, type ClientHop } from '../../client/hop-stats.js';
import { parseCsv, type CsvValue } from './csv.js';
import { cellKey } from './matrix.js';
import { attemptFailure, type RunRecord } from './run_records.js';
import { median, quantile } from './stats.js';

/** One CSV row per attempt; its keys are the runs CSV's columns. */
export function runRow(r: RunRecord): Record<string, CsvValue> {
  const m = r.metrics;
  const w = r.workload;
  return {
    session_id: r.session_id,
    run_id: r.run_id,
    timestamp: r.timestamp,
    git_sha: r.git_sha,
    git_dirty: r.git_dirty,
    hostname: r.host.hostname,
    cpus: r.host.cpus,
    load_1m: r.host.load_1m,
    node: r.node,
    system: r.system,
    profile: r.profile,
    preset: r.preset,
    fanout: w.fanout,
    batch: w.batch,
    payload_bytes: w.payload_bytes,
    binary: w.binary,
    warmup: w.warmup,
    total: w.total,
    trial: r.trial,
    attempt: r.attempt,
    exit_code: r.exit_code,
    failure: attemptFailure(r),
    duration_s: r.duration_s,
    p50_us: m?.p50_us,
    p99_us: m?.p99_us,
    p999_us: m?.p999_us,
    max_us: m?.max_us,
    all_p99_us: m?.all_p99_us,
    throughput_msgs: m?.throughput_msgs,
    effective_throughput_msgs: m?.effective_throughput_msgs,
    delivered_throughput_msgs: m?.delivered_throughput_msgs,
    delivered_mb_s: m?.delivered_mb_s,
    delivered_total: m?.delivered_total,
    expected_deliveries: m?.expected_deliveries,
    unaccounted: m?.unaccounted,
    warnings: m?.warnings.join(' | '),
    felix_env: JSON.stringify(r.profile_env),
    command: r.command.join(' '),
    stdout_path: r.stdout_path,
  };
}

export interface AggRow {
  readonly system: string;
  readonly profile: string;
  readonly preset: string;
  readonly fanout: number;
  readonly batch: number;
  readonly payload_bytes: number;
  readonly binary: boolean;
  readonly warmup: number;
  readonly total: number;
  /** The open loop's rate (msg/s); absent for closed-loop cells (and so from their CSV). */
  readonly rate_msgs?: number;
  /** Distinct trials attempted. */
  readonly trial_count: number;
  /** Trials with a measurement; the medians are over these. */
  readonly measured_trials: number;
  /** Trials whose every attempt failed. */
  readonly failed_trials: number;
  /** Failed attempts, retried ones included. */
  readonly failed_attempts: number;
  readonly git_sha: string;
  readonly git_dirty: boolean;
  readonly hostname: string;
  /** UTC date of the latest attempt. */
  readonly date: string;
  readonly load_1m_max: number;
  readonly throughput_median: number | undefined;
  readonly throughput_p10: number | undefined;
  readonly throughput_p90: number | undefined;
  readonly delivered_throughput_median: number | undefined;
  readonly delivered_throughput_p10: number | undefined;
  readonly delivered_throughput_p90: number | undefined;
  readonly delivered_mb_s_median: number | undefined;
  readonly p50_us_median: number | undefined;
  readonly p99_us_median: number | undefined;
  readonly p999_us_median: number | undefined;
  /** Median over trials of each hop's p50 (µs) from latencydemo's timings; undefined with timings off. */
  readonly hop_publish_to_broker_p50_us_median?: number | undefined;
  readonly hop_decode_to_enqueue_p50_us_median?: number | undefined;
  readonly hop_queue_p50_us_median?: number | undefined;
  readonly hop_broker_to_subscriber_p50_us_median?: number | undefined;
  readonly hop_end_to_end_p50_us_median?: number | undefined;
}

/** The hops latencydemo reports (the SDK's), in path order; the stacked chart draws them in this order. */
export const HOPS = CLIENT_HOPS;
export type Hop = ClientHop;

export function hopColumn(hop: Hop): `hop_${Hop}_p50_us_median` {
  return `hop_${hop}_p50_us_median`;
}

const TEXT_COLUMNS = new Set<keyof AggRow>(['system', 'profile', 'preset', 'git_sha', 'hostname', 'date']);
const BOOLEAN_COLUMNS = new Set<keyof AggRow>(['binary', 'git_dirty']);

function uniqueOrMixed(values: readonly string[]): string {
  const distinct = new Set(values);
  return distinct.size === 1 ? values[0]! : 'mixed';
}

/** Groups by system, profile, preset and workload (not trial). */
function groupKey(r: RunRecord): string {
  return `${r.system}:${cellKey({ ...r, trial: 0 })}`;
}

function aggregateGroup(records: readonly RunRecord[]): AggRow {
  const first = records[0]!;
  // The latest successful attempt of each trial is its measurement (a rerun supersedes an earlier one).
  const measuredByTrial = new Map<number, RunRecord>();
  let failedAttempts = 0;
  for (const r of records) {
    if (attemptFailure(r) !== null) failedAttempts++;
    else {
      const previous = measuredByTrial.get(r.trial);
      if (previous === undefined || r.timestamp >= previous.timestamp) measuredByTrial.set(r.trial, r);
    }
  }
  const trials = new Set(records.map((r) => r.trial));
  const measured = [...measuredByTrial.values()].map((r) => r.metrics!);
  const values = (pick: (m: (typeof measured)[number]) => number | null) =>
    measured.map(pick).filter((v): v is number => v !== null);
  // Three decimals: more is float noise in a committed table.
  const r3 = (v: number | undefined) => (v === undefined ? undefined : Math.round(v * 1000) / 1000);
  const throughput = values((m) => m.throughput_msgs);
  const delivered = values((m) => m.delivered_throughput_msgs);
  return {
    system: first.system,
    profile: first.profile,
    preset: first.preset,
    fanout: first.workload.fanout,
    batch: first.workload.batch,
    payload_bytes: first.workload.payload_bytes,
    binary: first.workload.binary,
    warmup: first.workload.warmup,
    total: first.workload.total,
    ...(first.workload.rate === undefined ? {} : { rate_msgs: first.workload.rate }),
    trial_count: trials.size,
    measured_trials: measuredByTrial.size,
    failed_trials: trials.size - measuredByTrial.size,
    failed_attempts: failedAttempts,
    git_sha: uniqueOrMixed(records.map((r) => r.git_sha)),
    git_dirty: records.some((r) => r.git_dirty),
    hostname: uniqueOrMixed(records.map((r) => r.host.hostname)),
    date: records
      .map((r) => r.timestamp)
      .reduce((a, b) => (a > b ? a : b))
      .slice(0, 10),
    load_1m_max: Math.max(...records.map((r) => r.host.load_1m)),
    throughput_median: r3(median(throughput)),
    throughput_p10: r3(quantile(throughput, 0.1)),
    throughput_p90: r3(quantile(throughput, 0.9)),
    delivered_throughput_median: r3(median(delivered)),
    delivered_throughput_p10: r3(quantile(delivered, 0.1)),
    delivered_throughput_p90: r3(quantile(delivered, 0.9)),
    delivered_mb_s_median: r3(median(values((m) => m.delivered_mb_s))),
    p50_us_median: r3(median(values((m) => m.p50_us))),
    p99_us_median: r3(median(values((m) => m.p99_us))),
    p999_us_median: r3(median(values((m) => m.p999_us))),
    ...Object.fromEntries(HOPS.map((hop) => [hopColumn(hop), r3(median(values((m) => hopP50(m, hop))))])),
  };
}

function hopP50(m: { timings?: unknown }, hop: Hop): number | null {
  const timings = m.timings as Record<string, { p50_us?: number }> | null | undefined;
  return timings?.[hop]?.p50_us ?? null;
}

/** One row per system × profile × preset × workload, in the order the cells first appear. */
export function aggregateRuns(records: readonly RunRecord[]): AggRow[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = groupKey(r);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [r]);
    else group.push(r);
  }
  return [...groups.values()].map(aggregateGroup);
}

/** Reads an aggregate CSV back (what the chart step does with the committed data/derived table). */
export function aggRowsFromCsv(text: string): AggRow[] {
  return parseCsv(text).map((raw) => {
    const row: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(raw)) {
      if (TEXT_COLUMNS.has(column as keyof AggRow)) row[column] = value;
      else if (BOOLEAN_COLUMNS.has(column as keyof AggRow)) row[column] = value === 'true';
      else row[column] = value === '' ? undefined : Number(value);
    }
    return row as unknown as AggRow;
  });
}
