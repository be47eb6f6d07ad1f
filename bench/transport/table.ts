// Markdown rendering of the aggregated trials: one row per measurement and metric, each cell the
// median with the trials' [min–max], then felix-ts divided by each comparison stack.
import { STACK_NAMES, STACK_TITLES, type StackName } from './channel.js';
import type { Measurement, MeasurementKind } from './plan.js';
import { summarizeMetric, type MetricName, type Summary, type TrialRecord } from './stats.js';

interface MetricView {
  readonly metric: MetricName;
  readonly label: string;
  readonly format: (value: number) => string;
}

export const formatMegabytes = (v: number): string =>
  v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
export const formatCount = (v: number): string =>
  v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
const formatMicros = (v: number): string => v.toFixed(0);
const formatCpu = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toPrecision(3));
export const formatRatio = (r: number): string =>
  `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`;

const MAIN_METRICS: Record<MeasurementKind, readonly MetricView[]> = {
  oneway: [{ metric: 'megabytesPerSecond', label: 'MB/s', format: formatMegabytes }],
  pingpong: [
    { metric: 'p50Micros', label: 'p50 µs', format: formatMicros },
    { metric: 'p99Micros', label: 'p99 µs', format: formatMicros },
  ],
  pipeline: [{ metric: 'framesPerSecond', label: 'frames/s', format: formatCount }],
};

const CPU_METRIC: MetricView = { metric: 'cpuSecondsPerGB', label: 'CPU s/GB', format: formatCpu };

const COMPARED: readonly StackName[] = ['highlevel', 'tcp'];

function cell(summary: Summary | null, format: (v: number) => string, failures: number): string {
  const failed = failures > 0 ? ` (${failures} failed)` : '';
  if (summary === null) return failures > 0 ? `failed${failed}` : '—';
  if (summary.trials === 1) return `${format(summary.median)}${failed}`;
  return `${format(summary.median)} [${format(summary.min)}–${format(summary.max)}]${failed}`;
}

function row(records: readonly TrialRecord[], m: Measurement, view: MetricView): string {
  const summaries = new Map<StackName, Summary | null>();
  const cells = [`${m.title} — ${view.label}`];
  for (const stack of STACK_NAMES) {
    const summary = summarizeMetric(records, m.id, stack, view.metric);
    summaries.set(stack, summary);
    const failures = records.filter((r) => r.measurementId === m.id && r.stack === stack && r.error).length;
    cells.push(cell(summary, view.format, failures));
  }
  const felix = summaries.get('felix');
  for (const other of COMPARED) {
    const o = summaries.get(other);
    cells.push(felix && o && o.median > 0 ? formatRatio(felix.median / o.median) : '—');
  }
  return `| ${cells.join(' | ')} |`;
}

function header(): string {
  const titles = [
    'workload',
    ...STACK_NAMES.map((s) => STACK_TITLES[s]),
    ...COMPARED.map((s) => `felix-ts / ${STACK_TITLES[s]}`),
  ];
  return [`| ${titles.join(' | ')} |`, `|${titles.map(() => '---').join('|')}|`].join('\n');
}

/** The results table: throughput, latency and frame rate (higher is better except for µs). */
export function renderResultsTable(records: readonly TrialRecord[], plan: readonly Measurement[]): string {
  const lines = [header()];
  for (const m of plan) for (const view of MAIN_METRICS[m.kind]) lines.push(row(records, m, view));
  return lines.join('\n');
}

/** CPU seconds (client + server) per GB delivered, one-way runs only (lower is better). */
export function renderCpuTable(records: readonly TrialRecord[], plan: readonly Measurement[]): string {
  const lines = [header()];
  for (const m of plan) if (m.kind === 'oneway') lines.push(row(records, m, CPU_METRIC));
  return lines.join('\n');
}
