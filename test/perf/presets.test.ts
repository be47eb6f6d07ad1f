import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../scripts/perf/filters.js';
import { buildMatrix, cellKey, presetArgs, scaledTotal, workloadArgs } from '../../scripts/perf/matrix.js';
import { loadPerfConfig, parsePerfConfig, PerfConfigError } from '../../scripts/perf/perf_config.js';
import { PATHS } from '../../scripts/perf/paths.js';

const VALID = `
defaults: { trials: 2 }
workload:
  fanout: [1, 10]
  batch: [1, 64]
  payload_bytes: [0, 4096]
  warmup: 100
  total: 1000
  binary: [false, true]
  min_run_bytes: 1048576
  max_total: 100000
profiles:
  balanced: { env: { FELIX_PROFILE: balanced, FELIX_DISABLE_TIMINGS: 1 } }
presets:
  P1_hash: { pub_conns: 1, pub_streams_per_conn: 1, pub_sharding: hash_stream, pub_stream_count: 1 }
  P8_rr: { pub_conns: 4, pub_streams_per_conn: 2, pub_sharding: rr, pub_stream_count: 1 }
chart_outlier_cap_percentile: 0.95
`;

/** The error a document with `from` replaced by `to` raises. */
function errorOf(from: string, to: string): string {
  const text = VALID.replace(from, to);
  expect(text).not.toBe(VALID);
  try {
    parsePerfConfig(text, 'test.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(PerfConfigError);
    return (error as Error).message;
  }
  throw new Error('no error');
}

describe('presets.yml and fast.yml', () => {
  it('validate, with the profiles and the publisher presets Felix defines', () => {
    const full = loadPerfConfig(PATHS.presets);
    expect(Object.keys(full.profiles)).toEqual(['balanced', 'high-memory']);
    expect(full.profiles['high-memory']).toMatchObject({ FELIX_PROFILE: 'high-memory' });
    expect(Object.keys(full.presets)).toEqual([
      'P1_hash',
      'P2_hash',
      'P4_hash',
      'P8_hash',
      'P8_hash_1stream',
      'P8_rr',
      'P8_rrN',
    ]);
    for (const [name, p] of Object.entries(full.presets)) {
      expect(p.pub_conns * p.pub_streams_per_conn, name).toBe(Number(/^P(\d+)/.exec(name)![1]));
    }
    const fast = loadPerfConfig(PATHS.fastPresets);
    expect(fast.source).toBe('scripts/perf/fast.yml');
    expect(Object.keys(fast.presets).every((name) => name in full.presets)).toBe(true);
  });

  it('fast.yml selects a few minutes of runs: the two chart-bearing shapes only', () => {
    const fast = loadPerfConfig(PATHS.fastPresets);
    const cells = buildMatrix(fast, fast.trials, []);
    expect(cells.length).toBeLessThanOrEqual(160);
    expect(new Set(cells.map((c) => `${c.workload.batch}:${c.workload.binary}`))).toEqual(
      new Set(['1:false', '64:true']),
    );
  });

  it.each([
    ['fanout: [1, 10]', 'fanouts: [1, 10]', 'test.yml: workload.fanouts: unknown key (known: fanout, batch,'],
    [
      'fanout: [1, 10]',
      'fanout: [1, ten]',
      'test.yml: workload.fanout[1]: expected an integer ≥ 1, got "ten"',
    ],
    ['  total: 1000\n', '', 'test.yml: workload.total: missing'],
    [
      'binary: [false, true]',
      'binary: [false, yes]',
      'test.yml: workload.binary[1]: expected true or false, got "yes"',
    ],
    [
      'pub_sharding: rr',
      'pub_sharding: random',
      'test.yml: presets.P8_rr.pub_sharding: expected one of hash_stream, rr',
    ],
    ['pub_conns: 4', 'pub_conns: 0', 'test.yml: presets.P8_rr.pub_conns: expected an integer ≥ 1, got 0'],
    [
      'FELIX_DISABLE_TIMINGS: 1',
      'FELIX_DISABLE_TIMING: 1',
      'test.yml: profiles.balanced.env.FELIX_DISABLE_TIMING: not a FELIX_',
    ],
    [
      'FELIX_PROFILE: balanced',
      'FELIX_PROFILE: fast',
      'test.yml: profiles.balanced.env.FELIX_PROFILE: "fast" is not one of',
    ],
    [
      'cap_percentile: 0.95',
      'cap_percentile: 95',
      'test.yml: chart_outlier_cap_percentile: expected a number in (0, 1]',
    ],
    [
      'defaults: { trials: 2 }',
      'defaults: { trials: 2 }\nonly: ["batch=1,colour=red"]',
      'test.yml: only[0]: filter',
    ],
    ['max_total: 100000', 'max_total: 10', 'test.yml: workload.max_total: 10 is below workload.total (1000)'],
    ['balanced:', 'bal anced:', 'test.yml: profiles.bal anced: names may use letters'],
  ])('name the bad key: %s → %s', (from, to, message) => {
    expect(errorOf(from, to)).toContain(message);
  });

  it('report YAML syntax errors with the file name', () => {
    expect(() => parsePerfConfig('workload: [', 'broken.yml')).toThrow(/^broken\.yml: not valid YAML/);
  });
});

describe('the matrix', () => {
  const config = parsePerfConfig(VALID, 'test.yml');

  it('covers profile × fanout × batch × encoding × payload × preset, trial by trial', () => {
    const cells = buildMatrix(config, 2, []);
    expect(cells).toHaveLength(2 * 2 * 2 * 2 * 2 * 2);
    expect(cells.slice(0, 32).every((c) => c.trial === 1)).toBe(true);
    expect(new Set(cells.map(cellKey)).size).toBe(cells.length);
  });

  it('filters with AND inside a filter and OR across filters', () => {
    const cells = buildMatrix(config, 1, [
      parseFilter('batch=1,binary=false'),
      parseFilter('batch=64,binary=true'),
    ]);
    expect(cells).toHaveLength(16);
    expect(buildMatrix(config, 1, [parseFilter('preset=P8_rr,payload=0|4096,fanout=10')])).toHaveLength(8);
    expect(() => parseFilter('colour=red')).toThrow('unknown key colour');
  });

  it('lengthens batched runs to min_run_bytes, capped at max_total', () => {
    expect(scaledTotal(config.workload, 1, 4096)).toBe(1000);
    expect(scaledTotal(config.workload, 64, 0)).toBe(1000);
    expect(scaledTotal(config.workload, 64, 4096)).toBe(1000);
    // Events as latencydemo counts them against the send window: its 16-byte stamp and the payload.
    expect(scaledTotal(config.workload, 64, 256)).toBe(Math.ceil(1048576 / 272));
    expect(scaledTotal(config.workload, 64, 1)).toBe(Math.ceil(1048576 / 17));
    expect(scaledTotal({ ...config.workload, max_total: 5000 }, 64, 1)).toBe(5000);
  });

  it("speaks latencydemo's flags", () => {
    const cell = buildMatrix(config, 1, [
      parseFilter('preset=P8_rr,batch=64,binary=true,payload=4096,fanout=10'),
    ])[0]!;
    expect([...workloadArgs(cell.workload), ...presetArgs(cell.preset_spec)]).toEqual(
      '--warmup 100 --total 1000 --payload 4096 --fanout 10 --batch 64 --binary --pub-conns 4 --pub-streams-per-conn 2 --pub-sharding rr --pub-stream-count 1'.split(
        ' ',
      ),
    );
    expect(cell.profile_env).toEqual({ FELIX_PROFILE: 'balanced', FELIX_DISABLE_TIMINGS: '1' });
  });
});
