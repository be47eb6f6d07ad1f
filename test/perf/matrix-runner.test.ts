// The matrix runner end to end, against a stand-in for latencydemo (fixtures/fake_latencydemo.mjs): what
// it spawns, what it records, how it retries and resumes. The real latencydemo is not needed.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runMatrix, type MatrixRunOptions } from '../../scripts/perf/run_latency_matrix.js';
import { attemptFailure, readRecords } from '../../scripts/perf/run_records.js';
import { FIXTURES, tempDir } from './helpers.js';

const CONFIG = `
defaults: { trials: 2 }
workload:
  fanout: [1]
  batch: [1, 64]
  payload_bytes: [256]
  warmup: 10
  total: 100
  binary: [false, true]
  min_run_bytes: 0
  max_total: 1000
only: ['batch=1,binary=false', 'batch=64,binary=true']
profiles:
  high-memory: { env: { FELIX_PROFILE: high-memory } }
presets:
  P1_hash: { pub_conns: 1, pub_streams_per_conn: 1, pub_sharding: hash_stream, pub_stream_count: 1 }
chart_outlier_cap_percentile: 0.95
run_timeout_s: 30
`;

function options(dir: string, overrides: Partial<MatrixRunOptions> = {}): MatrixRunOptions {
  const configPath = join(dir, 'matrix.yml');
  writeFileSync(configPath, CONFIG);
  return {
    configPath,
    filters: [],
    resume: false,
    dryRun: false,
    maxRetries: 1,
    failFast: false,
    session: 'test-session',
    program: join(FIXTURES, 'fake_latencydemo.mjs'),
    jsonlPath: join(dir, 'raw', 'runs.jsonl'),
    outputsRoot: join(dir, 'raw', 'runs'),
    ...overrides,
  };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('run_latency_matrix', () => {
  it('runs every selected cell × trial with the profile environment and records each attempt', async () => {
    const dir = tempDir();
    vi.stubEnv('FELIX_PUB_CONN_POOL', '7'); // inherited FELIX_* settings must not reach the run
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await runMatrix(options(dir))).toBe(0);

    const { records, malformed } = readRecords(join(dir, 'raw', 'runs.jsonl'));
    expect(malformed).toEqual([]);
    expect(records.map((r) => [r.workload.batch, r.workload.binary, r.trial])).toEqual([
      [1, false, 1],
      [64, true, 1],
      [1, false, 2],
      [64, true, 2],
    ]);
    for (const r of records) {
      expect(attemptFailure(r)).toBeNull();
      expect(r).toMatchObject({
        session_id: 'test-session',
        system: 'felix',
        profile: 'high-memory',
        exit_code: 0,
      });
      expect(r.profile_env).toEqual({ FELIX_PROFILE: 'high-memory' });
      expect(r.command.slice(2)).toContain('--pub-sharding');
      expect(r.git_sha).toMatch(/^[0-9a-f]{40}$|^unknown$/);
      expect(r.host.cpus).toBeGreaterThan(0);
      expect(existsSync(join(dir, 'raw', 'runs', 'test-session', `${r.run_id}.stdout`))).toBe(true);
    }
    // What the fake saw of the environment, echoed in its report.
    const stdout = readFileSync(
      join(dir, 'raw', 'runs', 'test-session', `${records[0]!.run_id}.stdout`),
      'utf8',
    );
    expect(stdout).toContain('"env":{"FELIX_PROFILE":"high-memory"}');
    expect(records[1]!.metrics).toMatchObject({ batch: 64, binary: true, delivered_throughput_msgs: 640000 });
  });

  it('retries a failed run, keeps the failed attempt, and resumes without repeating measured cells', async () => {
    const dir = tempDir();
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    vi.stubEnv('FAKE_LATENCYDEMO_FAIL_ONCE', join(dir, 'failed-once'));
    expect(await runMatrix(options(dir, { trials: 1, filters: ['batch=1'] }))).toBe(0);
    const first = readRecords(join(dir, 'raw', 'runs.jsonl')).records;
    expect(first.map((r) => [r.attempt, r.exit_code, attemptFailure(r)])).toEqual([
      [1, 1, 'exit code 1'],
      [2, 0, null],
    ]);
    expect(
      readFileSync(join(dir, 'raw', 'runs', 'test-session', `${first[0]!.run_id}.stderr`), 'utf8'),
    ).toContain('failing on purpose');

    // A dry run of the resume lists what it would run: the cell not measured yet.
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    expect(await runMatrix(options(dir, { trials: 1, resume: true, dryRun: true }))).toBe(0);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('--batch 64');
    expect(lines[1]).toBe(`# 1 runs from ${join(dir, 'matrix.yml')} (1 already measured in test-session)`);
    // A session id that names nothing is refused, not started afresh.
    await expect(
      runMatrix(options(dir, { trials: 1, resume: true, session: 'test-sesion' })),
    ).rejects.toThrow('--resume --session test-sesion: no such session');

    expect(await runMatrix(options(dir, { trials: 1, resume: true, session: undefined }))).toBe(0);
    const all = readRecords(join(dir, 'raw', 'runs.jsonl')).records;
    expect(all.slice(2).map((r) => [r.session_id, r.workload.batch])).toEqual([['test-session', 64]]);
  });

  it('gives up after its retries, says so in its exit code, and stops at once with --fail-fast', async () => {
    const dir = tempDir();
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const broken = join(dir, 'broken.mjs');
    writeFileSync(broken, 'process.exit(3);\n');
    expect(await runMatrix(options(dir, { program: broken, failFast: true }))).toBe(1);
    const { records } = readRecords(join(dir, 'raw', 'runs.jsonl'));
    expect(records.map((r) => [r.attempt, r.exit_code, r.parse_error])).toEqual([
      [1, 3, 'no output'],
      [2, 3, 'no output'],
    ]);
  });

  it('prints the commands of a dry run and runs nothing', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    expect(await runMatrix(options(dir, { dryRun: true }))).toBe(0);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(
      /^FELIX_PROFILE=high-memory node \S+fake_latencydemo\.mjs --warmup 10 --total 100 /,
    );
    expect(lines[4]).toBe(`# 4 runs from ${join(dir, 'matrix.yml')}`);
    expect(readdirSync(dir)).toEqual(['matrix.yml']);
  });

  it('refuses filters it does not understand and an empty selection, naming them', async () => {
    const dir = tempDir();
    await expect(runMatrix(options(dir, { filters: ['colour=red'] }))).rejects.toThrow(
      '--filter: filter "colour=red"',
    );
    await expect(runMatrix(options(dir, { filters: ['fanout=99'] }))).rejects.toThrow('no runs selected');
  });
});
