// One attempt of one benchmark run: spawn the program (latencydemo or the NATS harness) with the run's
// environment, keep its output, read its JSON report and describe it all as a RunRecord.
import { runChild, saveOutput } from './child_run.js';
import { parseLatencyReport, type LatencyCase } from './latency_report.js';
import { cellLabel, type Workload } from './matrix.js';
import { hostInfo, type GitState } from './provenance.js';
import { appendRecord, attemptFailure, type RunRecord } from './run_records.js';

/** What identifies the run in its record, plus how to run it. */
export type AttemptSpec = Pick<
  RunRecord,
  | 'session_id'
  | 'system'
  | 'profile'
  | 'profile_env'
  | 'workload'
  | 'preset'
  | 'preset_spec'
  | 'trial'
  | 'attempt'
> & {
  /** The program's arguments after the node binary: its script, then its flags. */
  readonly args: readonly string[];
  readonly timeoutMs: number;
  readonly git: GitState;
  /** Where the session's outputs go (data/raw/runs/<session>/ by default). */
  readonly outputsDir: string;
};

/**
 * The run's environment: ours without any FELIX_* variable, plus the profile's. Inherited FELIX_* settings
 * would change the broker without appearing in the record, so they are dropped rather than passed on.
 */
export function runEnvironment(profileEnv: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('FELIX_')) env[name] = value;
  return { ...env, ...profileEnv };
}

/** The report's case for this workload (a report may carry several, e.g. with --all). */
function caseFor(workload: Workload, cases: readonly LatencyCase[]): LatencyCase {
  const match = cases.find(
    (c) => c.fanout === workload.fanout && c.batch === workload.batch && c.payload === workload.payload_bytes,
  );
  if (match === undefined) {
    throw new Error(
      `no case for fanout ${workload.fanout}, batch ${workload.batch}, payload ${workload.payload_bytes} among ${cases.length}`,
    );
  }
  return match;
}

/** File-name-safe and unique within a session: system, cell, trial, attempt. */
export function attemptName(
  spec: Pick<AttemptSpec, 'system' | 'profile' | 'workload' | 'preset' | 'trial' | 'attempt'>,
): string {
  return `${spec.system}_${cellLabel(spec)}_a${spec.attempt}`;
}

export async function runAttempt(spec: AttemptSpec): Promise<RunRecord> {
  const { args, timeoutMs, git, outputsDir, ...identity } = spec;
  const timestamp = new Date().toISOString();
  const host = hostInfo();
  const result = await runChild(process.execPath, args, { env: runEnvironment(spec.profile_env), timeoutMs });
  const runId = attemptName(spec);
  const saved = saveOutput(outputsDir, runId, result);
  let metrics: LatencyCase | null = null;
  let parseError: string | null = null;
  try {
    metrics = caseFor(spec.workload, parseLatencyReport(result.stdout).cases);
  } catch (error) {
    parseError = (error as Error).message;
  }
  return {
    schema: 1,
    ...identity,
    run_id: runId,
    timestamp,
    git_sha: git.sha,
    git_dirty: git.dirty,
    host,
    node: process.version,
    command: [process.execPath, ...args],
    exit_code: result.exitCode,
    signal: result.signal,
    timed_out: result.timedOut,
    duration_s: Math.round(result.durationS * 1000) / 1000,
    stdout_path: saved.stdoutPath,
    stderr_path: saved.stderrPath,
    metrics,
    parse_error: parseError,
  };
}

export interface RetryOptions {
  /** Attempts after the first one fails (non-zero exit, unreadable output, invalid run, timeout). */
  readonly maxRetries: number;
  /** Every attempt is appended here, failed ones included, so that failures stay visible. */
  readonly jsonlPath: string;
  readonly onAttempt?: (record: RunRecord, failure: string | null) => void;
}

/** Runs until an attempt measures something or the retries are spent; returns the last attempt. */
export async function runMeasured(
  spec: Omit<AttemptSpec, 'attempt'>,
  options: RetryOptions,
): Promise<RunRecord> {
  for (let attempt = 1; ; attempt++) {
    const record = await runAttempt({ ...spec, attempt });
    appendRecord(options.jsonlPath, record);
    const failure = attemptFailure(record);
    options.onAttempt?.(record, failure);
    if (failure === null || attempt > options.maxRetries) return record;
  }
}
