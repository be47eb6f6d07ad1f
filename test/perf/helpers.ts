// Fixtures for the perf pipeline tests: hand-written latencydemo reports (test/perf/fixtures/) and run
// records built around them.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLatencyReport, type LatencyCase } from '../../scripts/perf/latency_report.js';
import type { Workload } from '../../scripts/perf/matrix.js';
import type { RunRecord } from '../../scripts/perf/run_records.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export function fixtureCase(name = 'latencydemo_f1_b1_p256.json'): LatencyCase {
  return parseLatencyReport(fixtureText(name)).cases[0]!;
}

export function tempDir(prefix = 'felix-perf-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

const WORKLOAD: Workload = {
  fanout: 1,
  batch: 1,
  payload_bytes: 256,
  warmup: 500,
  total: 5000,
  binary: false,
};

/** A successful attempt of the f1/b1/256 B cell, with whatever the test overrides. */
export function record(
  overrides: Partial<Omit<RunRecord, 'metrics'>> & { metrics?: Partial<LatencyCase> | null } = {},
): RunRecord {
  const { metrics, ...rest } = overrides;
  return {
    schema: 1,
    session_id: 's1',
    run_id: 'run',
    timestamp: '2025-01-02T03:04:05.000Z',
    git_sha: '0123456789abcdef0123456789abcdef01234567',
    git_dirty: false,
    host: {
      hostname: 'bench-host',
      cpus: 2,
      cpu_model: 'Test CPU',
      memory_gib: 8,
      os: 'Linux',
      load_1m: 0.1,
    },
    node: 'v20.19.0',
    system: 'felix',
    command: ['node', 'dist/latencydemo/main.js', '--json'],
    profile: 'balanced',
    profile_env: { FELIX_PROFILE: 'balanced' },
    workload: WORKLOAD,
    preset: 'P1_hash',
    preset_spec: { pub_conns: 1, pub_streams_per_conn: 1, pub_sharding: 'hash_stream', pub_stream_count: 1 },
    trial: 1,
    attempt: 1,
    exit_code: 0,
    signal: null,
    timed_out: false,
    duration_s: 1.5,
    stdout_path: 'data/raw/runs/s1/run.stdout',
    stderr_path: 'data/raw/runs/s1/run.stderr',
    parse_error: null,
    ...rest,
    metrics: metrics === null ? null : { ...fixtureCase(), ...metrics },
  };
}
