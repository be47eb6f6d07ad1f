// One JSON line per attempt of a benchmark run (data/raw/*.jsonl): enough to reproduce the run and to
// judge its numbers (which commit, which machine, how loaded, which environment), whether it worked or not.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LatencyCase } from './latency_report.js';
import type { Workload } from './matrix.js';
import type { PublisherPreset } from './perf_config.js';

export interface HostInfo {
  readonly hostname: string;
  readonly cpus: number;
  readonly cpu_model: string;
  readonly memory_gib: number;
  readonly os: string;
  /** 1-minute load average when the attempt started: on a shared 2-core machine it explains outliers. */
  readonly load_1m: number;
}

export type MeasuredSystem = 'felix' | 'nats';

export interface RunRecord {
  readonly schema: 1;
  readonly session_id: string;
  readonly run_id: string;
  /** ISO time the attempt started. */
  readonly timestamp: string;
  readonly git_sha: string;
  readonly git_dirty: boolean;
  readonly host: HostInfo;
  readonly node: string;
  readonly system: MeasuredSystem;
  /** The program and its arguments, as spawned (argv[0] is the node binary). */
  readonly command: readonly string[];
  readonly profile: string;
  /** The FELIX_* variables set for the run on top of the inherited environment. */
  readonly profile_env: Readonly<Record<string, string>>;
  readonly workload: Workload;
  readonly preset: string;
  readonly preset_spec: PublisherPreset | null;
  readonly trial: number;
  readonly attempt: number;
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly timed_out: boolean;
  readonly duration_s: number;
  /** Relative to the repository root. */
  readonly stdout_path: string;
  readonly stderr_path: string;
  /** The case the run reported, or null when its output could not be read (see parse_error). */
  readonly metrics: LatencyCase | null;
  readonly parse_error: string | null;
}

/** Why an attempt does not count as a measurement, or null when it does. */
export function attemptFailure(record: RunRecord): string | null {
  if (record.timed_out) return `killed after ${record.duration_s.toFixed(0)} s`;
  // Before the exit code: a program may exit non-zero precisely because its run was invalid.
  if (record.metrics !== null && !record.metrics.valid) {
    return `invalid run: ${record.metrics.unaccounted} deliveries unaccounted for`;
  }
  if (record.exit_code !== 0)
    return record.signal ? `killed by ${record.signal}` : `exit code ${record.exit_code}`;
  if (record.metrics === null) return `unreadable output: ${record.parse_error ?? 'no metrics'}`;
  return null;
}

export function appendRecord(path: string, record: RunRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  // One write per line: an interrupted runner leaves at most a truncated last line, which readRecords skips.
  appendFileSync(path, JSON.stringify(record) + '\n');
}

export interface MalformedLine {
  readonly line: number;
  readonly reason: string;
}

export interface RecordsFile {
  readonly records: RunRecord[];
  readonly malformed: MalformedLine[];
}

function checkRecord(value: unknown): RunRecord {
  if (value === null || typeof value !== 'object') throw new Error('not an object');
  const r = value as Record<string, unknown>;
  if (r.schema !== 1) throw new Error(`unsupported schema ${JSON.stringify(r.schema)}`);
  for (const field of ['session_id', 'run_id', 'timestamp', 'profile', 'preset', 'system']) {
    if (typeof r[field] !== 'string') throw new Error(`${field} is not a string`);
  }
  if (r.workload === null || typeof r.workload !== 'object') throw new Error('workload missing');
  if (typeof r.trial !== 'number' || typeof r.attempt !== 'number')
    throw new Error('trial or attempt missing');
  return r as unknown as RunRecord;
}

export function parseRecords(text: string): RecordsFile {
  const records: RunRecord[] = [];
  const malformed: MalformedLine[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      records.push(checkRecord(JSON.parse(line)));
    } catch (error) {
      malformed.push({ line: index + 1, reason: (error as Error).message });
    }
  });
  return { records, malformed };
}

export function readRecords(path: string): RecordsFile {
  if (!existsSync(path)) return { records: [], malformed: [] };
  return parseRecords(readFileSync(path, 'utf8'));
}

/** The session written to last (a resumed session counts from its newest record), or undefined. */
export function latestSession(records: readonly RunRecord[]): string | undefined {
  let latest: RunRecord | undefined;
  for (const r of records) if (latest === undefined || r.timestamp >= latest.timestamp) latest = r;
  return latest?.session_id;
}
