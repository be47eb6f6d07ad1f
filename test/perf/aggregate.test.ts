import { describe, expect, it } from 'vitest';
import { aggregateRuns, aggRowsFromCsv, runRow } from '../../scripts/perf/aggregate.js';
import { parseCsv, rowsToCsv, toCsv } from '../../scripts/perf/csv.js';
import { selectSession } from '../../scripts/perf/normalize_and_aggregate.js';
import { median, percentileOfSorted, quantile, spread } from '../../scripts/perf/stats.js';
import { record } from './helpers.js';

const at = (minute: number) => `2025-01-02T03:${String(minute).padStart(2, '0')}:00.000Z`;

/** One cell, five trials: trial 2 failed once then succeeded, trial 5 never succeeded. */
const CELL = [
  record({ trial: 1, timestamp: at(1), metrics: { throughput_msgs: 1000, p50_us: 100, p99_us: 400 } }),
  record({ trial: 2, timestamp: at(2), exit_code: 1, metrics: null, parse_error: 'no output' }),
  record({
    trial: 2,
    attempt: 2,
    timestamp: at(3),
    metrics: { throughput_msgs: 3000, p50_us: 300, p99_us: 900 },
  }),
  record({ trial: 3, timestamp: at(4), metrics: { throughput_msgs: 2000, p50_us: 200, p99_us: 500 } }),
  record({ trial: 4, timestamp: at(5), metrics: { throughput_msgs: 4000, p50_us: 150, p99_us: 600 } }),
  record({ trial: 5, timestamp: at(6), exit_code: null, signal: 'SIGKILL', metrics: null }),
  record({ trial: 5, attempt: 2, timestamp: at(7), exit_code: 1, metrics: null }),
];

describe('aggregation of trials', () => {
  it('takes medians and p10/p90 over the measured trials and counts failures', () => {
    const [row, ...others] = aggregateRuns(CELL);
    expect(others).toEqual([]);
    expect(row).toMatchObject({
      system: 'felix',
      profile: 'balanced',
      preset: 'P1_hash',
      fanout: 1,
      batch: 1,
      payload_bytes: 256,
      binary: false,
      trial_count: 5,
      measured_trials: 4,
      failed_trials: 1,
      failed_attempts: 3,
      throughput_median: 2500,
      // 1000, 2000, 3000, 4000 interpolated at 0.3 and 2.7 of 3 steps
      throughput_p10: 1300,
      throughput_p90: 3700,
      p50_us_median: 175,
      p99_us_median: 550,
      git_sha: '0123456789abcdef0123456789abcdef01234567',
      hostname: 'bench-host',
      date: '2025-01-02',
    });
  });

  it('keeps cells, profiles and systems apart', () => {
    const rows = aggregateRuns([
      record(),
      record({ preset: 'P8_rr' }),
      record({ profile: 'high-memory' }),
      record({ system: 'nats', profile: 'nats' }),
      record({
        workload: { fanout: 10, batch: 64, payload_bytes: 4096, warmup: 500, total: 5000, binary: true },
      }),
      record({ trial: 2 }),
    ]);
    expect(rows.map((r) => [r.system, r.profile, r.preset, r.fanout, r.trial_count])).toEqual([
      ['felix', 'balanced', 'P1_hash', 1, 2],
      ['felix', 'balanced', 'P8_rr', 1, 1],
      ['felix', 'high-memory', 'P1_hash', 1, 1],
      ['nats', 'nats', 'P1_hash', 1, 1],
      ['felix', 'balanced', 'P1_hash', 10, 1],
    ]);
  });

  it('marks mixed commits and uncommitted changes', () => {
    const [row] = aggregateRuns([record(), record({ trial: 2, git_sha: 'ffff', git_dirty: true })]);
    expect(row).toMatchObject({ git_sha: 'mixed', git_dirty: true });
  });

  it('survives the CSV the chart step reads back', () => {
    const rows = aggregateRuns(CELL);
    expect(aggRowsFromCsv(rowsToCsv(rows))).toEqual(rows);
  });

  it('writes every attempt to the runs CSV, failures with their reason', () => {
    const table = parseCsv(rowsToCsv(CELL.map(runRow)));
    expect(table).toHaveLength(CELL.length);
    expect(table[1]).toMatchObject({ trial: '2', attempt: '1', failure: 'exit code 1', p50_us: '' });
    expect(table[0]).toMatchObject({ p50_us: '100', felix_env: '{"FELIX_PROFILE":"balanced"}' });
  });

  it('aggregates the latest session unless told otherwise', () => {
    const records = [
      record({ session_id: 'a', timestamp: at(1) }),
      record({ session_id: 'b', timestamp: at(2) }),
    ];
    expect(selectSession(records, 'latest').map((r) => r.session_id)).toEqual(['b']);
    expect(selectSession(records, 'a').map((r) => r.session_id)).toEqual(['a']);
    expect(selectSession(records, 'all')).toHaveLength(2);
  });
});

describe('statistics', () => {
  it('interpolates quantiles across trials and picks observed latency percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([])).toBeUndefined();
    expect(quantile([10, 20], 0.25)).toBe(12.5);
    expect(percentileOfSorted(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 0.99)).toBe(10);
    expect(percentileOfSorted(Float64Array.from([1, 2, 3, 4]), 0.5)).toBe(2);
    expect(percentileOfSorted(new Float64Array(0), 0.5)).toBeNull();
  });

  it('writes a few trials as "median (min–max)"', () => {
    expect(spread([120.4, 98.2, 101.7])).toBe('102 (98–120)');
    expect(spread([1.25, 1.5], (v) => v.toFixed(2))).toBe('1.38 (1.25–1.50)');
    expect(spread([])).toBe('–');
  });

  it('quotes CSV fields that need it', () => {
    const text = toCsv(['a', 'b'], [{ a: 'x,"y"', b: 'line\nbreak' }]);
    expect(text).toBe('a,b\n"x,""y""","line\nbreak"\n');
    expect(parseCsv(text)).toEqual([{ a: 'x,"y"', b: 'line\nbreak' }]);
  });
});
