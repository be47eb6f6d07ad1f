// What the latencydemo charts show, as Vega-Lite specs: one chart per profile × fanout × batch × metric,
// payloads on the x axis and publisher presets as grouped bars, outliers clipped and labelled.
import { HOPS, hopColumn } from './aggregate.js';
import type { TopLevelSpec } from 'vega-lite';
import type { AggRow } from './aggregate.js';
import { CHART_FONT } from './chart_render.js';
import { encodingName, headlineBinary } from './matrix.js';
import { percentileOfSorted } from './stats.js';

export interface ChartMetric {
  readonly id: 'p50' | 'p99' | 'throughput';
  readonly field: 'p50_us_median' | 'p99_us_median' | 'delivered_throughput_median';
  readonly title: string;
  readonly isLatency: boolean;
}

export const CHART_METRICS: readonly ChartMetric[] = [
  { id: 'p50', field: 'p50_us_median', title: 'p50 latency', isLatency: true },
  { id: 'p99', field: 'p99_us_median', title: 'p99 latency', isLatency: true },
  // Delivered (all subscribers), not published: at fanout 10 the two differ tenfold, and delivered is what
  // a reader compares across fanouts and with NATS.
  { id: 'throughput', field: 'delivered_throughput_median', title: 'delivered throughput', isLatency: false },
];

/** The rows of one chart file set: one profile, fanout and batch, in one encoding. */
export interface ChartGroup {
  readonly profile: string;
  readonly fanout: number;
  readonly batch: number;
  readonly binary: boolean;
  readonly rows: readonly AggRow[];
}

export interface ChartGroups {
  readonly groups: ChartGroup[];
  /** Rows left out because their cell was charted in its headline encoding (they stay in the CSV). */
  readonly notCharted: number;
}

/**
 * Groups aggregate rows into charts. A file name has no encoding in it, so where a cell was run in both,
 * the chart shows the headline encoding of its batch size (headlineBinary) and the other stays in the CSV.
 */
export function chartGroups(rows: readonly AggRow[]): ChartGroups {
  const byCell = new Map<string, AggRow[]>();
  for (const row of rows.filter((r) => r.system === 'felix')) {
    const key = `${row.profile}|${row.fanout}|${row.batch}`;
    byCell.set(key, [...(byCell.get(key) ?? []), row]);
  }
  const groups: ChartGroup[] = [];
  let notCharted = 0;
  for (const cellRows of byCell.values()) {
    const { profile, fanout, batch } = cellRows[0]!;
    const headline = headlineBinary(batch);
    const binary = cellRows.some((r) => r.binary === headline) ? headline : !headline;
    const charted = cellRows.filter((r) => r.binary === binary);
    notCharted += cellRows.length - charted.length;
    groups.push({ profile, fanout, batch, binary, rows: charted });
  }
  return { groups, notCharted };
}

/** Relative to the charts folder: <profile>/f{F}_b{B}_{metric} (add .svg / .png). */
export function chartBaseName(
  group: Pick<ChartGroup, 'profile' | 'fanout' | 'batch'>,
  metric: ChartMetric,
): string {
  return `${group.profile}/f${group.fanout}_b${group.batch}_${metric.id}`;
}

/**
 * The value above which bars are clipped, or undefined: the cap percentile of the chart's values, applied
 * only when the tallest bar exceeds it by half again (a bar just above the rest flattens nothing).
 */
export function clipCap(values: readonly number[], capPercentile: number): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  const cap = percentileOfSorted(sorted, capPercentile);
  if (cap === null || cap <= 0) return undefined;
  return sorted[sorted.length - 1]! > 1.5 * cap ? cap : undefined;
}

interface Scale {
  readonly unit: string;
  readonly divisor: number;
}

function scaleFor(metric: ChartMetric, max: number): Scale {
  if (metric.isLatency) return max >= 10_000 ? { unit: 'ms', divisor: 1000 } : { unit: 'µs', divisor: 1 };
  if (max >= 1_000_000) return { unit: 'M msg/s', divisor: 1_000_000 };
  return max >= 10_000 ? { unit: 'k msg/s', divisor: 1000 } : { unit: 'msg/s', divisor: 1 };
}

function formatValue(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function rangeText(values: readonly number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

export interface ChartInput {
  readonly group: ChartGroup;
  readonly metric: ChartMetric;
  /** Bar order; presets in the data but not here follow in the order they appear. */
  readonly presetOrder: readonly string[];
  readonly capPercentile: number;
}

export interface ChartDatum {
  readonly payload: string;
  readonly preset: string;
  /** Bar height in the chart's unit, after clipping; null where the cell has no measurement. */
  readonly value: number | null;
  readonly clipped: boolean;
  readonly label: string;
}

/** The bars of a chart, every payload × preset pair present (missing ones with a null value). */
export interface ChartBars {
  readonly data: ChartDatum[];
  readonly payloads: string[];
  readonly presets: string[];
  readonly scale: Scale;
  readonly cap: number | undefined;
}

export function chartData(input: ChartInput): ChartBars {
  const { group, metric } = input;
  const payloads = distinct(group.rows.map((r) => r.payload_bytes)).sort((a, b) => a - b);
  const presets = presetsInOrder(group.rows, input.presetOrder);
  const present = group.rows.map((r) => r[metric.field]).filter((v): v is number => v !== undefined);
  const cap = clipCap(present, input.capPercentile);
  // The unit suits the bars as drawn, clipped ones at the cap.
  const scale = scaleFor(metric, Math.max(0, ...present.map((v) => Math.min(v, cap ?? v))));
  const data: ChartDatum[] = [];
  for (const payload of payloads) {
    for (const preset of presets) {
      const raw = group.rows.find((r) => r.payload_bytes === payload && r.preset === preset)?.[metric.field];
      const clipped = raw !== undefined && cap !== undefined && raw > cap;
      const shown = raw === undefined ? null : (clipped ? cap! : raw) / scale.divisor;
      const label = raw === undefined ? 'n/a' : clipped ? `${formatValue(raw / scale.divisor)}↑` : '';
      data.push({ payload: String(payload), preset, value: shown, clipped, label });
    }
  }
  return { data, payloads: payloads.map(String), presets, scale, cap };
}

function presetsInOrder(rows: readonly AggRow[], order: readonly string[]): string[] {
  const present = distinct(rows.map((r) => r.preset));
  return [...order.filter((p) => present.includes(p)), ...present.filter((p) => !order.includes(p))];
}

/** "git 1a2b3c4d5e6f (uncommitted changes) · host · 2025-01-01": where and when the numbers were taken. */
export function chartFooter(rows: readonly AggRow[]): string {
  const shas = distinct(rows.map((r) => r.git_sha));
  const sha = shas.length === 1 ? shas[0]!.slice(0, 12) : 'mixed commits';
  const dirty = rows.some((r) => r.git_dirty) ? ' (uncommitted changes)' : '';
  const hosts = distinct(rows.map((r) => r.hostname)).join(', ');
  const dates = distinct(rows.map((r) => r.date)).sort();
  const date = dates.length === 1 ? dates[0]! : `${dates[0]} – ${dates[dates.length - 1]}`;
  return `git ${sha}${dirty} · ${hosts} · ${date}`;
}

export function chartTitle(group: ChartGroup, metric: ChartMetric): string {
  return `latencydemo ${group.profile}: ${metric.title}, fanout ${group.fanout}, batch ${group.batch} (${encodingName(group.binary)})`;
}

export function buildChartSpec(input: ChartInput): TopLevelSpec {
  const { group, metric } = input;
  const { data, payloads, presets, scale, cap } = chartData(input);
  const rows = group.rows;
  // Short lines: vega sizes the canvas from an estimate of the text width that overshoots long lines.
  const subtitle = [
    `median of ${rangeText(rows.map((r) => r.measured_trials))} trial(s); warmup ${rangeText(rows.map((r) => r.warmup))}, ` +
      `total ${rangeText(rows.map((r) => r.total))} messages`,
  ];
  if (metric.isLatency && group.batch > 1) {
    subtitle.push(
      `batch ${group.batch}: includes batch fill and queueing;`,
      'not request latency (that is batch 1)',
    );
  }
  if (cap !== undefined) {
    subtitle.push(
      `dashed bars: clipped at the chart's p${Math.round(input.capPercentile * 100)} (${formatValue(cap / scale.divisor)} ${scale.unit}),`,
      'real value written above',
    );
  }
  const failed = rows.reduce((n, r) => n + r.failed_trials, 0);
  if (failed > 0) subtitle.push(`${failed} trial(s) failed and are not in the medians`);

  const width = chartWidth(payloads, presets);
  const x = payloadAxis(payloads);
  const xOffset = { field: 'preset', type: 'nominal', sort: presets, scale: { domain: presets } };
  const y = { field: 'value', type: 'quantitative', title: `${metric.title} (${scale.unit})` };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: chartTitle(group, metric), subtitle, anchor: 'start' },
    config: { font: CHART_FONT, title: { fontSize: 14, subtitleFontSize: 10 } },
    vconcat: [
      {
        width,
        height: 280,
        data: { values: data as unknown as Record<string, unknown>[] },
        layer: [
          {
            transform: [{ filter: 'datum.value !== null' }],
            mark: { type: 'bar' },
            encoding: {
              x,
              xOffset,
              y,
              color: {
                field: 'preset',
                type: 'nominal',
                sort: presets,
                scale: { domain: presets },
                title: 'preset',
              },
              stroke: { condition: { test: 'datum.clipped', value: 'black' }, value: null },
              strokeDash: { condition: { test: 'datum.clipped', value: [4, 2] }, value: [] },
              tooltip: [{ field: 'preset' }, { field: 'payload' }, { field: 'value', format: '.3~f' }],
            },
          },
          {
            transform: [{ filter: "datum.label !== ''" }],
            mark: { type: 'text', angle: 270, align: 'left', dx: 3, fontSize: 9, color: '#333' },
            encoding: { x, xOffset, y: { ...y, field: 'labelAt' }, text: { field: 'label' } },
          },
        ],
        transform: [{ calculate: 'datum.value === null ? 0 : datum.value', as: 'labelAt' }],
      },
      footerPanel(rows, width),
    ],
  } as unknown as TopLevelSpec;
}

/** Relative to the charts folder: <profile>/f{F}_b{B}_hops (add .svg / .png). */
export function hopChartBaseName(group: Pick<ChartGroup, 'profile' | 'fanout' | 'batch'>): string {
  return `${group.profile}/f${group.fanout}_b${group.batch}_hops`;
}

/** Whether the group's runs carried per-hop timings (the profile had timings on). */
export function hasHopTimings(group: ChartGroup): boolean {
  return group.rows.some((r) => STACKED_HOPS.some((hop) => r[hopColumn(hop)] !== undefined));
}

// End to end is the sum of the others (one clock): stacking it too would count everything twice.
const STACKED_HOPS = HOPS.filter((hop) => hop !== 'end_to_end');

/**
 * The per-hop chart: for each payload and preset, one bar stacked from the median p50 of every hop, in
 * path order, so the bar's height is where the time goes on the way from publisher to subscriber.
 */
export function buildHopChartSpec(group: ChartGroup, presetOrder: readonly string[]): TopLevelSpec {
  const payloads = distinct(group.rows.map((r) => r.payload_bytes))
    .sort((a, b) => a - b)
    .map(String);
  const presets = presetsInOrder(group.rows, presetOrder);
  const data: Record<string, unknown>[] = [];
  for (const row of group.rows) {
    STACKED_HOPS.forEach((hop, order) => {
      const value = row[hopColumn(hop)];
      if (value !== undefined)
        data.push({ payload: String(row.payload_bytes), preset: row.preset, hop, order, value });
    });
  }
  const width = chartWidth(payloads, presets);
  const x = payloadAxis(payloads);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `latencydemo ${group.profile}: where the time goes, fanout ${group.fanout}, batch ${group.batch} (${encodingName(group.binary)})`,
      subtitle: ["median p50 of each hop, stacked in path order (the primary subscriber's batches)"],
      anchor: 'start',
    },
    config: { font: CHART_FONT, title: { fontSize: 14, subtitleFontSize: 10 } },
    vconcat: [
      {
        width,
        height: 280,
        data: { values: data },
        mark: { type: 'bar' },
        encoding: {
          x,
          xOffset: { field: 'preset', type: 'nominal', sort: presets, scale: { domain: presets } },
          y: { field: 'value', type: 'quantitative', stack: 'zero', title: 'p50 per hop (µs)' },
          color: {
            field: 'hop',
            type: 'nominal',
            sort: STACKED_HOPS,
            scale: { domain: STACKED_HOPS },
            title: 'hop',
          },
          order: { field: 'order', type: 'quantitative' },
          tooltip: [
            { field: 'preset' },
            { field: 'payload' },
            { field: 'hop' },
            { field: 'value', format: '.1f' },
          ],
        },
      },
      footerPanel(group.rows, width),
    ],
  } as unknown as TopLevelSpec;
}

/** Wide enough for every payload × preset bar. */
function chartWidth(payloads: readonly string[], presets: readonly string[]): number {
  return Math.max(560, payloads.length * presets.length * 22);
}

/** The x axis of every chart: payloads, with the presets as bars within each. */
function payloadAxis(payloads: readonly string[]): Record<string, unknown> {
  return {
    field: 'payload',
    type: 'ordinal',
    sort: payloads,
    title: 'payload (bytes); bars: publisher presets',
    axis: { labelAngle: 0 },
  };
}

/** The one-line footer under a chart: commit, host and date of the numbers. */
function footerPanel(rows: readonly AggRow[], width: number): Record<string, unknown> {
  return {
    width,
    height: 12,
    view: { stroke: null },
    data: { values: [{ footer: chartFooter(rows) }] },
    mark: { type: 'text', align: 'right', fontSize: 9, color: '#555' },
    encoding: { text: { field: 'footer' }, x: { value: width } },
  };
}
