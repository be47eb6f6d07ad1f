import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { aggRowsFromCsv, type AggRow } from '../../scripts/perf/aggregate.js';
import { CHART_METRICS, chartData, chartGroups, clipCap } from '../../scripts/perf/chart_spec.js';
import { writeCharts } from '../../scripts/perf/make_charts.js';
import { BLOCK_BEGIN, BLOCK_END, chartsMarkdown, replaceBlock } from '../../scripts/perf/snippets.js';
import { fixtureText, tempDir } from './helpers.js';

const ROWS = aggRowsFromCsv(fixtureText('latency_demo_agg.csv'));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from the IHDR chunk, which follows the signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('charts', async () => {
  const out = tempDir('felix-charts-');
  const written = await writeCharts(ROWS, {
    presetOrder: ['P4_hash', 'P1_hash'],
    capPercentile: 0.95,
    outDir: out,
  });

  it('are written per profile × fanout × batch × metric, as SVG and PNG', () => {
    const names = written.map((path) => path.slice(out.length + 1)).sort();
    const expected = ['f1_b1', 'f10_b64'].flatMap((cell) =>
      ['p50', 'p99', 'throughput'].flatMap((m) => [`balanced/${cell}_${m}.png`, `balanced/${cell}_${m}.svg`]),
    );
    expect(names).toEqual(expected.sort());
  });

  it('are SVG documents an XML parser accepts, with their title, bars and footer', () => {
    const svg = readFileSync(join(out, 'balanced', 'f10_b64_throughput.svg'), 'utf8');
    // resvg parses with a strict XML parser (roxmltree): malformed markup throws.
    const parsed = new Resvg(svg);
    expect(parsed.width).toBeGreaterThan(500);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('latencydemo balanced: delivered throughput, fanout 10, batch 64 (binary)');
    expect(svg).toContain('git 0123456789ab · bench-host · 2025-01-02');
    expect(svg).toContain('payload (bytes)');
    expect(svg).toContain('role-legend');
    // Four bars: two payloads × two presets, each a path in the bar mark's group.
    const bars = /<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/s.exec(svg)?.[1] ?? '';
    expect(bars.match(/<path /g)).toHaveLength(4);
  });

  it('say when a latency is that of a batch, and that trials failed', () => {
    const svg = readFileSync(join(out, 'balanced', 'f10_b64_p99.svg'), 'utf8');
    expect(svg).toContain('batch 64: includes batch fill and queueing;');
    const f1 = readFileSync(join(out, 'balanced', 'f1_b1_p50.svg'), 'utf8');
    expect(f1).toContain('1 trial(s) failed and are not in the medians');
  });

  it('are PNG images with a size and dimensions', () => {
    const png = readFileSync(join(out, 'balanced', 'f1_b1_p50.png'));
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(statSync(join(out, 'balanced', 'f1_b1_p50.png')).size).toBeGreaterThan(10_000);
    const { width, height } = pngSize(png);
    const svgWidth = new Resvg(readFileSync(join(out, 'balanced', 'f1_b1_p50.svg'), 'utf8')).width;
    expect(width).toBe(Math.round(svgWidth * 2));
    expect(height).toBeGreaterThan(400);
  });

  it('chart the headline encoding of a cell run in both (the other stays in the CSV)', () => {
    const { groups, notCharted } = chartGroups(ROWS);
    expect(notCharted).toBe(1);
    expect(groups.map((g) => [g.fanout, g.batch, g.binary, g.rows.length])).toEqual([
      [1, 1, false, 4],
      [10, 64, true, 4],
    ]);
  });

  it('link every chart written from markdown, relative to where the markdown lives', () => {
    const { groups } = chartGroups(ROWS);
    const markdown = chartsMarkdown(groups, {
      linkPrefix: '',
      headingLevel: 2,
      exists: (p) => existsSync(join(out, p)),
    });
    const links = [...markdown.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(links).toHaveLength(12);
    for (const link of links) expect(existsSync(join(out, link)), link).toBe(true);
    expect(markdown).toContain('## balanced');
    expect(markdown).toContain('### fanout 10, batch 64 (binary)');

    const none = chartsMarkdown(groups, { linkPrefix: '', headingLevel: 2, exists: () => false });
    expect(none).not.toContain('](');
  });

  it('refresh only the marked block of a document', () => {
    const doc = `# Title\n\nmine\n\n${BLOCK_BEGIN}\n\nold\n\n${BLOCK_END}\n\nafter\n`;
    expect(replaceBlock(doc, 'new')).toBe(
      `# Title\n\nmine\n\n${BLOCK_BEGIN}\n\nnew\n\n${BLOCK_END}\n\nafter\n`,
    );
    expect(replaceBlock('# no block\n', 'new')).toBeUndefined();
  });
});

describe('outlier clipping', () => {
  const base = ROWS[0]!;
  const many: AggRow[] = Array.from({ length: 28 }, (_, i) => ({
    ...base,
    preset: `P${i % 7}`,
    payload_bytes: [0, 256, 1024, 4096][Math.floor(i / 7)]!,
    p99_us_median: i === 27 ? 50_000 : 400 + i,
  }));

  it('clips a bar far above the cap percentile to it and labels the real value', () => {
    const { data, cap, scale } = chartData({
      group: { profile: 'balanced', fanout: 1, batch: 1, binary: false, rows: many },
      metric: CHART_METRICS.find((m) => m.id === 'p99')!,
      presetOrder: [],
      capPercentile: 0.95,
    });
    expect(cap).toBe(426);
    expect(scale.unit).toBe('µs');
    const clipped = data.filter((d) => d.clipped);
    expect(clipped).toEqual([{ payload: '4096', preset: 'P6', value: 426, clipped: true, label: '50000↑' }]);
  });

  it('leaves bars alone when none is far above the rest', () => {
    expect(clipCap([100, 110, 120, 130], 0.95)).toBeUndefined();
    expect(
      clipCap(
        [
          100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
          500,
        ],
        0.95,
      ),
    ).toBe(119);
  });

  it('shows a missing measurement as n/a rather than as a zero bar', () => {
    const { data } = chartData({
      group: { profile: 'balanced', fanout: 1, batch: 1, binary: false, rows: ROWS.slice(0, 3) },
      metric: CHART_METRICS[0]!,
      presetOrder: ['P1_hash', 'P4_hash'],
      capPercentile: 0.95,
    });
    expect(data.find((d) => d.payload === '4096' && d.preset === 'P4_hash')).toEqual({
      payload: '4096',
      preset: 'P4_hash',
      value: null,
      clipped: false,
      label: 'n/a',
    });
  });
});

describe('the per-hop chart', async () => {
  // The fixture's f1_b1 cell with per-hop medians, as a timings-on run aggregates them.
  const withHops: AggRow[] = ROWS.map((r) =>
    r.fanout === 1
      ? {
          ...r,
          hop_publish_to_broker_p50_us_median: 80,
          hop_decode_to_enqueue_p50_us_median: 3,
          hop_queue_p50_us_median: 4,
          hop_broker_to_subscriber_p50_us_median: 150,
          hop_end_to_end_p50_us_median: 237,
        }
      : r,
  );
  const out = tempDir('felix-hop-charts-');
  const written = await writeCharts(withHops, {
    presetOrder: ['P4_hash', 'P1_hash'],
    capPercentile: 0.95,
    outDir: out,
  });

  it('is drawn only for cells whose runs carried timings', () => {
    const hopFiles = written.filter((p) => p.includes('_hops.')).map((p) => p.slice(out.length + 1));
    expect(hopFiles.sort()).toEqual(['balanced/f1_b1_hops.png', 'balanced/f1_b1_hops.svg']);
  });

  it('stacks the hops in path order, without end to end (their sum)', () => {
    const svg = readFileSync(join(out, 'balanced', 'f1_b1_hops.svg'), 'utf8');
    expect(new Resvg(svg).width).toBeGreaterThan(500);
    expect(svg).toContain('where the time goes, fanout 1, batch 1');
    for (const hop of ['publish_to_broker', 'decode_to_enqueue', 'queue']) expect(svg).toContain(hop);
    expect(svg).not.toContain('end_to_end');
    // Two payloads × two presets × four hops.
    const bars = /<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/s.exec(svg)?.[1] ?? '';
    expect(bars.match(/<path /g)).toHaveLength(16);
  });
});
