// felix-ts against NATS on the same latencydemo workloads: which workloads, which ratios are required, and
// the table of medians and ratios. The medians come from the same aggregation as the latency matrix.
import { aggregateRuns, type AggRow } from './aggregate.js';
import { headlineBinary, type Workload } from './matrix.js';
import type { RunRecord } from './run_records.js';

export interface PeerWorkload {
  readonly id: string;
  readonly workload: Workload;
}

export function peerWorkloadId(w: Pick<Workload, 'fanout' | 'batch' | 'payload_bytes'>): string {
  return `f${w.fanout}_b${w.batch}_${w.payload_bytes}B`;
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

/** The felix-ts side: its broker's profile and its publisher (with one subscriber connection per subscriber). */
export const FELIX_PEER_PROFILE = 'balanced';
export const FELIX_PEER_PRESET = 'P1_hash';

export type ComparedMetric =
  'delivered_throughput_median' | 'delivered_mb_s_median' | 'p50_us_median' | 'p99_us_median';

export const COMPARED_METRICS: readonly { readonly field: ComparedMetric; readonly label: string }[] = [
  { field: 'delivered_throughput_median', label: 'delivered msg/s' },
  { field: 'delivered_mb_s_median', label: 'delivered MB/s' },
  { field: 'p50_us_median', label: 'p50 µs' },
  { field: 'p99_us_median', label: 'p99 µs' },
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
}

function sameWorkload(row: AggRow, w: Workload): boolean {
  return row.fanout === w.fanout && row.batch === w.batch && row.payload_bytes === w.payload_bytes;
}

function judge(check: AcceptanceRatio, ratio: number | undefined): 'PASS' | 'FAIL' | 'NO DATA' {
  if (ratio === undefined) return 'NO DATA';
  if (check.atLeast !== undefined) return ratio >= check.atLeast ? 'PASS' : 'FAIL';
  return ratio <= check.atMost! ? 'PASS' : 'FAIL';
}

export function compareWithNats(records: readonly RunRecord[]): ComparisonLine[] {
  const rows = aggregateRuns(records);
  const lines: ComparisonLine[] = [];
  for (const { id, workload } of PEER_WORKLOADS) {
    const felix = rows.find((r) => r.system === 'felix' && sameWorkload(r, workload));
    const nats = rows.find((r) => r.system === 'nats' && sameWorkload(r, workload));
    for (const { field, label } of COMPARED_METRICS) {
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

export function comparisonTable(lines: readonly ComparisonLine[]): string {
  const out = [
    '| workload | metric | felix-ts | NATS | felix/NATS | required | result |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const l of lines) {
    const ratio = l.ratio === undefined ? '–' : `${l.ratio.toFixed(2)}×`;
    out.push(
      `| ${l.workloadId} | ${l.metric} | ${formatNumber(l.felix)} | ${formatNumber(l.nats)} | ${ratio} | ${l.target ?? ''} | ${l.verdict ?? ''} |`,
    );
  }
  return out.join('\n');
}
