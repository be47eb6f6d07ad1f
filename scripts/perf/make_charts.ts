// data/derived/latency_demo_agg.csv → docs/assets/latencydemo/<profile>/f{F}_b{B}_{p50,p99,throughput}.{svg,png}
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { aggRowsFromCsv, type AggRow } from './aggregate.js';
import { renderPng, renderSvg } from './chart_render.js';
import {
  buildChartSpec,
  buildHopChartSpec,
  CHART_METRICS,
  chartBaseName,
  chartGroups,
  hasHopTimings,
  hopChartBaseName,
} from './chart_spec.js';
import { perfCommand, runIfMain, UsageError } from './cli.js';
import { loadPerfConfig } from './perf_config.js';
import { PATHS, REPO_ROOT } from './paths.js';

export interface ChartOptions {
  readonly presetOrder: readonly string[];
  readonly capPercentile: number;
  readonly outDir: string;
}

/** Renders every chart of the rows into outDir; returns the files written. */
export async function writeCharts(rows: readonly AggRow[], options: ChartOptions): Promise<string[]> {
  const written: string[] = [];
  const { groups, notCharted } = chartGroups(rows);
  for (const group of groups) {
    for (const metric of CHART_METRICS) {
      if (!group.rows.some((r) => r[metric.field] !== undefined)) continue;
      const spec = buildChartSpec({
        group,
        metric,
        presetOrder: options.presetOrder,
        capPercentile: options.capPercentile,
      });
      const base = join(options.outDir, chartBaseName(group, metric));
      mkdirSync(dirname(base), { recursive: true });
      const svg = await renderSvg(spec);
      writeFileSync(`${base}.svg`, svg);
      writeFileSync(`${base}.png`, renderPng(svg));
      written.push(`${base}.svg`, `${base}.png`);
    }
    if (hasHopTimings(group)) {
      const base = join(options.outDir, hopChartBaseName(group));
      const svg = await renderSvg(buildHopChartSpec(group, options.presetOrder));
      writeFileSync(`${base}.svg`, svg);
      writeFileSync(`${base}.png`, renderPng(svg));
      written.push(`${base}.svg`, `${base}.png`);
    }
  }
  if (notCharted > 0) {
    console.error(
      `${notCharted} aggregate row(s) in the other encoding of a charted cell: in the CSV, not charted`,
    );
  }
  return written;
}

async function main(): Promise<number> {
  const o = perfCommand('make_charts')
    .description('Render the latencydemo charts (SVG and PNG) from the aggregate CSV.')
    .option('--config <file>', 'presets file: bar order and outlier cap', PATHS.presets)
    .option('--input <csv>', 'aggregate table', PATHS.aggCsv)
    .option('--out <dir>', 'charts folder', PATHS.chartsDir)
    .option('--cap-percentile <q>', 'override chart_outlier_cap_percentile', Number)
    .parse()
    .opts<{ config: string; input: string; out: string; capPercentile?: number }>();
  if (!existsSync(o.input)) {
    throw new UsageError(`${relative(REPO_ROOT, o.input)} does not exist: run normalize_and_aggregate first`);
  }
  const config = loadPerfConfig(o.config);
  const rows = aggRowsFromCsv(readFileSync(o.input, 'utf8'));
  const written = await writeCharts(rows, {
    presetOrder: Object.keys(config.presets),
    capPercentile: o.capPercentile ?? config.chart_outlier_cap_percentile,
    outDir: o.out,
  });
  console.error(`wrote ${written.length} chart files under ${relative(REPO_ROOT, o.out)}/`);
  return 0;
}

runIfMain(import.meta.url, main);
