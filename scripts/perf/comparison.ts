// felix-ts against NATS on the same latencydemo workloads: which workloads, which ratios are required, and
// the table of medians and ratios. The medians come from the same aggregation as the latency matrix.
import { aggregateRuns, type AggRow } from './aggregate.js';
import { headlineBinary, type Workload } from './matrix.js';
import { attemptFailure, type MeasuredSystem, type RunRecord } from './run_records.js';
import type { LatencyCase } from './latency_report.js';

export interface PeerWorkload {
  readonly id: string;
  readonly workload: Workload;
}

export function peerWorkloadId(w: Pick<Workload, 'fanout' | 'batch' | 'payload_bytes' | 'rate'>): string {
  return w.rate === undefined
    ? `f${w.fanout}_b${w.batch}_${w.payload_bytes}B`
    : `f${w.fanout}_r${w.rate}_${w.payload_bytes}B`;
}

function peerWorkload(
  fanout: number,
  batch: number,
  payload_bytes: number,
  warmup: number,
  total: number,
): PeerWorkload {
  const workload = { fanout, batch, payload_bytes, warmup, total, binary: headlineBinary(batch) };
  return { id: peerWorkloadId(workload), workload };
}

/**
 * A second or more per run on the 2-core machine for both systems; the batched ones move more than the
 * broker's 256 MiB send window per subscriber ((16 + payload) bytes a message), so that they measure
 * sustained delivery rather than buffering (DESIGN §5).
 */
export const PEER_WORKLOADS: readonly PeerWorkload[] = [
  peerWorkload(1, 1, 256, 1000, 10_000),
  peerWorkload(1, 64, 256, 2000, 1_000_000),
  peerWorkload(10, 64, 4096, 1000, 65_536),
];

/** Seconds of warmup and of measurement of an open-loop peer workload. */
export const OPEN_LOOP_WARMUP_S = 1;
export const OPEN_LOOP_MEASURE_S = 5;

function openLoopWorkload(fanout: number, rate: number, payload_bytes: number): PeerWorkload {
  const workload: Workload = {
    fanout,
    batch: 1,
    payload_bytes,
    warmup: rate * OPEN_LOOP_WARMUP_S,
    total: rate * OPEN_LOOP_MEASURE_S,
    binary: false,
    rate,
  };
  return { id: peerWorkloadId(workload), workload };
}

/**
 * The open loop (latencydemo --rate, nats_latency --rate): the same paced publisher on both sides, latency
 * from each message's scheduled send time, at the rates of issue 14's targets.
 */
export const OPEN_LOOP_PEER_WORKLOADS: readonly PeerWorkload[] = [5000, 10_000].flatMap((rate) =>
  [1, 10].map((fanout) => openLoopWorkload(fanout, rate, 256)),
);

/** Every peer workload, closed loop first. */
export const ALL_PEER_WORKLOADS: readonly PeerWorkload[] = [...PEER_WORKLOADS, ...OPEN_LOOP_PEER_WORKLOADS];

/** The felix-ts side: its broker's profile and its publisher (with one subscriber connection per subscriber). */
export const FELIX_PEER_PROFILE = 'balanced';
export const FELIX_PEER_PRESET = 'P1_hash';

export type ComparedMetric =
  | 'delivered_throughput_median'
  | 'delivered_mb_s_median'
  | 'p50_us_median'
  | 'p99_us_median'
  | 'p999_us_median';

type MetricList = readonly { readonly field: ComparedMetric; readonly label: string }[];

export const COMPARED_METRICS: MetricList = [
  { field: 'delivered_throughput_median', label: 'delivered msg/s' },
  { field: 'delivered_mb_s_median', label: 'delivered MB/s' },
  { field: 'p50_us_median', label: 'p50 µs' },
  { field: 'p99_us_median', label: 'p99 µs' },
];

/** In the open loop both systems deliver the rate: what differs is the latency, to the tail. */
export const OPEN_LOOP_METRICS: MetricList = [
  { field: 'delivered_throughput_median', label: 'delivered msg/s' },
  { field: 'p50_us_median', label: 'p50 µs' },
  { field: 'p99_us_median', label: 'p99 µs' },
  { field: 'p999_us_median', label: 'p999 µs' },
];

export interface AcceptanceRatio {
  readonly workloadId: string;
  readonly field: ComparedMetric;
  /** felix/NATS must be at least this (throughput) or at most this (latency). */
  readonly atLeast?: number;
  readonly atMost?: number;
}

export const ACCEPTANCE_RATIOS: readonly AcceptanceRatio[] = [
  { workloadId: 'f1_b64_256B', field: 'delivered_throughput_median', atLeast: 1.0 },
  { workloadId: 'f10_b64_4096B', field: 'delivered_mb_s_median', atLeast: 0.5 },
  { workloadId: 'f1_b1_256B', field: 'p50_us_median', atMost: 3 },
  // Issue 14's open-loop targets: at 10k msg/s, fanout 1 and 10, p50 and p99 no worse than NATS.
  { workloadId: 'f1_r10000_256B', field: 'p50_us_median', atMost: 1 },
  { workloadId: 'f1_r10000_256B', field: 'p99_us_median', atMost: 1 },
  { workloadId: 'f10_r10000_256B', field: 'p50_us_median', atMost: 1 },
  { workloadId: 'f10_r10000_256B', field: 'p99_us_median', atMost: 1 },
];

export interface ComparisonLine {
  readonly workloadId: string;
  readonly metric: string;
  readonly felix: number | undefined;
  readonly nats: number | undefined;
  readonly ratio: number | undefined;
  /** "≥ 1.0×" / "≤ 3×" on the lines with a required ratio. */
  readonly target?: string;
  readonly verdict?: 'PASS' | 'FAIL' | 'NO DATA';
  readonly felixTrials: number;
  readonly natsTrials: number;
  /** Lowest and highest value over each system's measured trials. */
  readonly felixRange?: readonly [number, number] | undefined;
  readonly natsRange?: readonly [number, number] | undefined;
}

/** The run report's field each compared median is taken of. */
const TRIAL_FIELD: Readonly<Record<ComparedMetric, keyof LatencyCase>> = {
  delivered_throughput_median: 'delivered_throughput_msgs',
  delivered_mb_s_median: 'delivered_mb_s',
  p50_us_median: 'p50_us',
  p99_us_median: 'p99_us',
  p999_us_median: 'p999_us',
};

function sameRecordWorkload(r: RunRecord, w: Workload): boolean {
  const rw = r.workload;
  return (
    rw.fanout === w.fanout &&
    rw.batch === w.batch &&
    rw.payload_bytes === w.payload_bytes &&
    rw.rate === w.rate
  );
}

/** [min, max] of one metric over a system's measured runs of a workload; undefined without any. */
function trialRange(
  records: readonly RunRecord[],
  system: MeasuredSystem,
  w: Workload,
  field: ComparedMetric,
): [number, number] | undefined {
  const values = records
    .filter((r) => r.system === system && sameRecordWorkload(r, w) && attemptFailure(r) === null)
    .map((r) => r.metrics![TRIAL_FIELD[field]])
    .filter((v): v is number => typeof v === 'number');
  return values.length === 0 ? undefined : [Math.min(...values), Math.max(...values)];
}

function sameWorkload(row: AggRow, w: Workload): boolean {
  return (
    row.fanout === w.fanout &&
    row.batch === w.batch &&
    row.payload_bytes === w.payload_bytes &&
    row.rate_msgs === w.rate
  );
}

function judge(check: AcceptanceRatio, ratio: number | undefined): 'PASS' | 'FAIL' | 'NO DATA' {
  if (ratio === undefined) return 'NO DATA';
  if (check.atLeast !== undefined) return ratio >= check.atLeast ? 'PASS' : 'FAIL';
  return ratio <= check.atMost! ? 'PASS' : 'FAIL';
}

/** One block of lines per peer workload the records measured (a session may run only some of them). */
export function compareWithNats(records: readonly RunRecord[]): ComparisonLine[] {
  const rows = aggregateRuns(records);
  const lines: ComparisonLine[] = [];
  for (const { id, workload } of ALL_PEER_WORKLOADS) {
    const felix = rows.find((r) => r.system === 'felix' && sameWorkload(r, workload));
    const nats = rows.find((r) => r.system === 'nats' && sameWorkload(r, workload));
    if (felix === undefined && nats === undefined) continue;
    const metrics = workload.rate === undefined ? COMPARED_METRICS : OPEN_LOOP_METRICS;
    for (const { field, label } of metrics) {
      const f = felix?.[field];
      const n = nats?.[field];
      const ratio = f !== undefined && n !== undefined && n > 0 ? f / n : undefined;
      const check = ACCEPTANCE_RATIOS.find((c) => c.workloadId === id && c.field === field);
      lines.push({
        workloadId: id,
        metric: label,
        felix: f,
        nats: n,
        ratio,
        ...(check === undefined
          ? {}
          : {
              target:
                check.atLeast !== undefined
                  ? `≥ ${check.atLeast.toFixed(1)}×`
                  : `≤ ${check.atMost!.toFixed(1)}×`,
              verdict: judge(check, ratio),
            }),
        felixTrials: felix?.measured_trials ?? 0,
        natsTrials: nats?.measured_trials ?? 0,
        felixRange: trialRange(records, 'felix', workload, field),
        natsRange: trialRange(records, 'nats', workload, field),
      });
    }
  }
  return lines;
}

function formatNumber(value: number | undefined): string {
  if (value === undefined) return '–';
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  return value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function formatRange(range: readonly [number, number] | undefined): string {
  return range === undefined ? '–' : `${formatNumber(range[0])}–${formatNumber(range[1])}`;
}

export function comparisonTable(lines: readonly ComparisonLine[]): string {
  const out = [
    '| workload | metric | felix-ts | NATS | felix/NATS | required | result | felix-ts min–max | NATS min–max |',
    '| --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: |',
  ];
  for (const l of lines) {
    const ratio = l.ratio === undefined ? '–' : `${l.ratio.toFixed(2)}×`;
    out.push(
      `| ${l.workloadId} | ${l.metric} | ${formatNumber(l.felix)} | ${formatNumber(l.nats)} | ${ratio} | ${l.target ?? ''} | ${l.verdict ?? ''} | ` +
        `${formatRange(l.felixRange)} | ${formatRange(l.natsRange)} |`,
    );
  }
  return out.join('\n');
}
