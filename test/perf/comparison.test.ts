import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ACCEPTANCE_RATIOS,
  ALL_PEER_WORKLOADS,
  comparisonTable,
  compareWithNats,
  OPEN_LOOP_PEER_WORKLOADS,
  PEER_WORKLOADS,
} from '../../scripts/perf/comparison.js';
import { workloadArgs } from '../../scripts/perf/matrix.js';
import { peerWindowArgs, selectWorkloads } from '../../scripts/perf/peers_nats.js';
import type { Workload } from '../../scripts/perf/matrix.js';
import { NATS_INSTALL_HINT } from '../../scripts/perf/nats_server.js';
import type { RunRecord } from '../../scripts/perf/run_records.js';
import { record } from './helpers.js';

function workload(id: string): Workload {
  return ALL_PEER_WORKLOADS.find((w) => w.id === id)!.workload;
}

/** Three trials per system of one workload, with the given medians (the other trials around them). */
function trials(
  system: 'felix' | 'nats',
  id: string,
  m: { msgs: number; mbs: number; p50: number; p99: number; p999?: number },
): RunRecord[] {
  return [0.9, 1, 1.1].map((f, i) =>
    record({
      system,
      profile: system === 'felix' ? 'balanced' : 'nats',
      preset: 'default',
      trial: i + 1,
      workload: workload(id),
      metrics: {
        delivered_throughput_msgs: m.msgs * f,
        delivered_mb_s: m.mbs * f,
        p50_us: m.p50 * f,
        p99_us: m.p99 * f,
        p999_us: (m.p999 ?? m.p99) * f,
      },
    }),
  );
}

describe('felix-ts vs NATS', () => {
  it('uses the workloads of the acceptance ratios, in the encoding each batch size is quoted in', () => {
    expect(PEER_WORKLOADS.map((w) => [w.id, w.workload.binary])).toEqual([
      ['f1_b1_256B', false],
      ['f1_b64_256B', true],
      ['f10_b64_4096B', true],
    ]);
    for (const check of ACCEPTANCE_RATIOS)
      expect(ALL_PEER_WORKLOADS.map((w) => w.id)).toContain(check.workloadId);
  });

  it('runs the open loop at 5k and 10k msg/s, fanout 1 and 10, with the same flags on both sides', () => {
    expect(OPEN_LOOP_PEER_WORKLOADS.map((w) => w.id)).toEqual([
      'f1_r5000_256B',
      'f10_r5000_256B',
      'f1_r10000_256B',
      'f10_r10000_256B',
    ]);
    const w = workload('f10_r10000_256B');
    expect(workloadArgs(w)).toEqual([
      '--warmup',
      '10000',
      '--total',
      '50000',
      '--payload',
      '256',
      '--fanout',
      '10',
      '--rate',
      '10000',
    ]);
    expect(peerWindowArgs('felix', w)).toEqual([]);
    expect(peerWindowArgs('nats', w)).toEqual([]);
    expect(selectWorkloads(undefined, true)).toEqual(OPEN_LOOP_PEER_WORKLOADS);
    expect(selectWorkloads('f1_b1_256B,f1_r5000_256B', false).map((p) => p.id)).toEqual([
      'f1_b1_256B',
      'f1_r5000_256B',
    ]);
    expect(() => selectWorkloads('f3_b9_1B', false)).toThrow('unknown workload f3_b9_1B');
  });

  it('gives both systems the same window of batches in flight', () => {
    // latencydemo's default window: 1 MiB per subscriber, 2 to 16 batches.
    expect(peerWindowArgs('felix', workload('f1_b64_256B'))).toEqual(['--pub-window', '16']);
    expect(peerWindowArgs('nats', workload('f1_b64_256B'))).toEqual(['--window', '16']);
    expect(peerWindowArgs('felix', workload('f10_b64_4096B'))).toEqual(['--pub-window', '3']);
    expect(peerWindowArgs('nats', workload('f10_b64_4096B'))).toEqual(['--window', '3']);
    // Batch 1 without --binary: one acknowledged request in flight on felix-ts, one flush on NATS.
    expect(peerWindowArgs('nats', workload('f1_b1_256B'))).toEqual([]);
  });

  it('compares the open loop on latency, to the tail, and judges the 10k msg/s targets', () => {
    const lines = compareWithNats([
      ...trials('felix', 'f1_r10000_256B', { msgs: 10_000, mbs: 2.7, p50: 150, p99: 900, p999: 3000 }),
      ...trials('nats', 'f1_r10000_256B', { msgs: 10_000, mbs: 2.7, p50: 100, p99: 1000, p999: 2000 }),
    ]);
    expect(lines.map((l) => [l.metric, Number(l.ratio!.toFixed(3)), l.verdict])).toEqual([
      ['delivered msg/s', 1, undefined],
      ['p50 µs', 1.5, 'FAIL'],
      ['p99 µs', 0.9, 'PASS'],
      ['p999 µs', 1.5, undefined],
    ]);
  });

  it('divides felix medians by NATS medians and judges each required ratio', () => {
    const lines = compareWithNats([
      ...trials('felix', 'f1_b1_256B', { msgs: 5000, mbs: 1.4, p50: 240, p99: 900 }),
      ...trials('nats', 'f1_b1_256B', { msgs: 12000, mbs: 3.3, p50: 60, p99: 300 }),
      ...trials('felix', 'f1_b64_256B', { msgs: 300_000, mbs: 82, p50: 2000, p99: 9000 }),
      ...trials('nats', 'f1_b64_256B', { msgs: 250_000, mbs: 68, p50: 900, p99: 3000 }),
      ...trials('felix', 'f10_b64_4096B', { msgs: 50_000, mbs: 205, p50: 9000, p99: 20000 }),
      ...trials('nats', 'f10_b64_4096B', { msgs: 100_000, mbs: 411, p50: 4000, p99: 15000 }),
    ]);
    const judged = lines.filter((l) => l.verdict !== undefined);
    expect(
      judged.map((l) => [l.workloadId, l.metric, Number(l.ratio!.toFixed(3)), l.target, l.verdict]),
    ).toEqual([
      ['f1_b1_256B', 'p50 µs', 4, '≤ 3.0×', 'FAIL'],
      ['f1_b64_256B', 'delivered msg/s', 1.2, '≥ 1.0×', 'PASS'],
      ['f10_b64_4096B', 'delivered MB/s', 0.499, '≥ 0.5×', 'FAIL'],
    ]);
    expect(lines.every((l) => l.felixTrials === 3 && l.natsTrials === 3)).toBe(true);
    const table = comparisonTable(lines);
    expect(table).toContain(
      '| f1_b64_256B | delivered msg/s | 300,000 | 250,000 | 1.20× | ≥ 1.0× | PASS | 270,000–330,000 | 225,000–275,000 |',
    );
    expect(table.split('\n')).toHaveLength(2 + 3 * 4);
  });

  it('says NO DATA rather than guessing when a system has no measurement', () => {
    const lines = compareWithNats(
      trials('felix', 'f1_b1_256B', { msgs: 5000, mbs: 1.4, p50: 240, p99: 900 }),
    );
    expect(lines.find((l) => l.verdict !== undefined)).toMatchObject({
      verdict: 'NO DATA',
      ratio: undefined,
    });
  });

  it('tells exactly what to install when nats-server is missing', () => {
    expect(NATS_INSTALL_HINT).toBe('apt-get install nats-server');
  });
});

/** A built perf program (npm test builds them), run as a user runs it. */
function runPerf(script: string, args: readonly string[]) {
  const main = fileURLToPath(new URL(`../../dist/scripts/perf/${script}.js`, import.meta.url));
  return spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
}

describe('peers_nats and cache_vs_redis programs', () => {
  it('peers_nats refuses a run flag with --report-only (it runs nothing), exit 2 and one line', () => {
    // Refused before it reads records or looks for nats-server.
    const run = runPerf('peers_nats', ['--report-only', '--trials', '5']);
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([
      '--trials and --report-only exclude each other (--report-only runs nothing: its table is the last ' +
        'recorded session, whole)',
    ]);
    expect(run.stdout).toBe('');
  });

  // Number() of the text took these as NaN: no trial at all, or no wait for a quiet machine.
  it.each([
    ['peers_nats', '--max-load <load>', 'abc', 'expected a number ≥ 0'],
    ['cache_vs_redis', '--max-load <load>', 'abc', 'expected a number ≥ 0'],
    ['cache_vs_redis', '--trials <n>', 'abc', 'expected an integer ≥ 1'],
    ['cache_vs_redis', '--load-wait-s <s>', '-1', 'expected an integer ≥ 0'],
    // The workload, as cachedemo checks it: before the first wait for a quiet machine.
    [
      'cache_vs_redis',
      '--payloads <list>',
      'abc',
      'invalid --payloads="abc": expected an integer from 0 to 67108864',
    ],
    [
      'cache_vs_redis',
      '--ops <list>',
      'put,nope',
      'invalid --ops="put,nope": expected put, get_hit, get_miss',
    ],
    [
      'cache_vs_redis',
      '--concurrency <n>',
      '0',
      'invalid --concurrency="0": expected an integer from 1 to 1000000',
    ],
  ])('%s refuses %s %s, before running anything', (script, flag, value, expected) => {
    const run = runPerf(script, [flag.split(' ')[0]!, value]);
    // A bad flag exits 2, as for every perf script's flags (1 is a run that failed).
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([
      `error: option '${flag}' argument '${value}' is invalid. ${expected}`,
    ]);
    expect(run.stdout).toBe('');
  });

  // Commander's own status for these is 1, which the scripts' docs give to a run that failed.
  it.each([
    'peers_nats',
    'cache_vs_redis',
    'run_latency_matrix',
    'nats_latency',
    'make_charts',
    'normalize_and_aggregate',
    'render_markdown_snippets',
    'timings_overhead',
  ])("%s: an unknown flag exits 2 with commander's line, --help exits 0", (script) => {
    const bad = runPerf(script, ['--no-such-flag']);
    expect(bad.status, bad.stderr).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(["error: unknown option '--no-such-flag'"]);
    expect(bad.stdout).toBe('');
    const help = runPerf(script, ['--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain(`Usage: ${script}`);
  });

  it('cache_vs_redis refuses FELIX_CACHE_BENCH_* in its environment: it would reach the felix-ts side only', () => {
    const main = fileURLToPath(new URL('../../dist/scripts/perf/cache_vs_redis.js', import.meta.url));
    const run = spawnSync(process.execPath, [main, '--trials', '1'], {
      encoding: 'utf8',
      env: { ...process.env, FELIX_CACHE_BENCH_CONCURRENCY: '1' },
    });
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([
      'FELIX_CACHE_BENCH_CONCURRENCY is set: cache_vs_redis gives both systems the same workload through its ' +
        'own flags, and the variable would reach the felix-ts side only (unset it; use --concurrency)',
    ]);
    expect(run.stdout).toBe('');
  });

  // The NATS side of latencydemo takes its flags, and refuses what latencydemo refuses.
  it.each([
    [
      ['--window', '4'],
      '--window bounds unacknowledged batches: at batch 1 without --binary each publish awaits its ack ' +
        '(give --batch above 1, or --binary)',
    ],
    [
      ['--rate', '100', '--duration', '1', '--total', '500'],
      '--duration and --total exclude each other (--total = rate × duration)',
    ],
  ])('nats_latency refuses %j as latencydemo does, exit 2, before starting nats-server', (args, line) => {
    const run = runPerf('nats_latency', args);
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([line]);
    expect(run.stdout).toBe('');
  });
});
