// Runs latencydemo over every cell × trial of a presets file, one process per run with the profile's
// FELIX_* environment (so the broker it spawns runs that profile), and appends one record per attempt to
// data/raw/latency_demo_runs.jsonl. Usage: node dist/scripts/perf/run_latency_matrix.js --help
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { nonNegativeInteger, perfCommand, positiveInteger, runIfMain, UsageError } from './cli.js';
import { FilterSyntaxError, parseFilter, type Filter } from './filters.js';
import { buildMatrix, cellKey, presetArgs, workloadArgs, type MatrixCell } from './matrix.js';
import { loadPerfConfig } from './perf_config.js';
import { PATHS, REPO_ROOT } from './paths.js';
import { startProgress } from './progress.js';
import { gitState, newSessionId } from './provenance.js';
import { runMeasured } from './run_attempt.js';
import { attemptFailure, latestSession, readRecords } from './run_records.js';

export interface MatrixRunOptions {
  readonly configPath: string;
  readonly trials?: number;
  readonly filters: readonly string[];
  readonly resume: boolean;
  readonly dryRun: boolean;
  readonly maxRetries: number;
  readonly failFast: boolean;
  readonly session?: string;
  /** The latencydemo entry point (a stand-in in tests). */
  readonly program: string;
  readonly jsonlPath: string;
  readonly outputsRoot: string;
}

function latencydemoArgs(program: string, cell: MatrixCell): string[] {
  return [program, ...workloadArgs(cell.workload), ...presetArgs(cell.preset_spec), '--json'];
}

function shellLine(env: Readonly<Record<string, string>>, args: readonly string[]): string {
  const quote = (s: string) => (/^[\w./=:-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  const envPart = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
  return [
    ...envPart,
    'node',
    ...args.map((a) => quote(a.startsWith(REPO_ROOT) ? relative(REPO_ROOT, a) : a)),
  ].join(' ');
}

function parseFilters(expressions: readonly string[]): Filter[] {
  try {
    return expressions.map(parseFilter);
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw new UsageError(`--filter: ${error.message}`);
    throw error;
  }
}

/** Cells the session already measured, for --resume. */
function measuredCells(jsonlPath: string, session: string): Set<string> {
  const done = new Set<string>();
  for (const record of readRecords(jsonlPath).records) {
    if (record.session_id === session && record.system === 'felix' && attemptFailure(record) === null) {
      done.add(cellKey(record));
    }
  }
  return done;
}

function chooseSession(options: MatrixRunOptions): string {
  if (!options.resume) return options.session ?? newSessionId();
  const records = readRecords(options.jsonlPath).records;
  if (options.session !== undefined) {
    // A mistyped session id must not start the hours-long matrix over under a new name.
    if (!records.some((r) => r.session_id === options.session)) {
      throw new UsageError(
        `--resume --session ${options.session}: no such session in ${options.jsonlPath} (leave out ` +
          '--resume to start a new one)',
      );
    }
    return options.session;
  }
  const latest = latestSession(records);
  if (latest === undefined) throw new UsageError(`--resume: no earlier session in ${options.jsonlPath}`);
  return latest;
}

/** Returns the exit code: 0 when every selected run measured something, 1 otherwise. */
export async function runMatrix(options: MatrixRunOptions): Promise<number> {
  const config = loadPerfConfig(options.configPath);
  const cells = buildMatrix(config, options.trials ?? config.trials, parseFilters(options.filters));
  if (cells.length === 0) throw new UsageError(`no runs selected from ${config.source} by the filters given`);

  // A dry run with --resume lists what the resume would run: the cells the session has not measured.
  const session = chooseSession(options);
  const done = options.resume ? measuredCells(options.jsonlPath, session) : new Set<string>();
  const todo = cells.filter((cell) => !done.has(cellKey(cell)));
  if (options.dryRun) {
    for (const cell of todo) console.log(shellLine(cell.profile_env, latencydemoArgs(options.program, cell)));
    const measured = done.size === 0 ? '' : ` (${cells.length - todo.length} already measured in ${session})`;
    console.log(`# ${todo.length} runs from ${config.source}${measured}`);
    return 0;
  }
  if (!existsSync(options.program)) {
    throw new UsageError(`${options.program} does not exist: build first (npm run build)`);
  }
  const outputsDir = join(options.outputsRoot, session);
  const git = gitState();
  console.error(
    `session ${session}: ${todo.length} runs (${cells.length - todo.length} already measured) from ${config.source}` +
      (git.dirty ? ` at ${git.sha.slice(0, 12)} with uncommitted changes` : ` at ${git.sha.slice(0, 12)}`),
  );

  const failed: string[] = [];
  const progress = startProgress(todo.length, 'runs');
  try {
    for (const cell of todo) {
      const key = cellKey(cell);
      progress.starting(key);
      const last = await runMeasured(
        {
          session_id: session,
          system: 'felix',
          args: latencydemoArgs(options.program, cell),
          profile: cell.profile,
          profile_env: cell.profile_env,
          workload: cell.workload,
          preset: cell.preset,
          preset_spec: cell.preset_spec,
          trial: cell.trial,
          timeoutMs: config.run_timeout_s * 1000,
          git,
          outputsDir,
        },
        {
          maxRetries: options.maxRetries,
          jsonlPath: options.jsonlPath,
          onAttempt: (record, failure) => {
            if (failure !== null)
              progress.log(`${key} attempt ${record.attempt}: ${failure} (${record.stderr_path})`);
          },
        },
      );
      progress.advance();
      const failure = attemptFailure(last);
      if (failure !== null) {
        failed.push(`${key}: ${failure}`);
        if (options.failFast) break;
      }
    }
  } finally {
    progress.stop();
  }

  console.error(
    `records: ${relative(REPO_ROOT, options.jsonlPath)} (session ${session}); outputs: ${relative(REPO_ROOT, outputsDir)}/`,
  );
  if (failed.length > 0) {
    console.error(`${failed.length} run(s) measured nothing after ${options.maxRetries} retries:`);
    for (const line of failed) console.error(`  ${line}`);
    console.error('What did succeed is recorded: aggregate and chart it with npm run perf:charts.');
    return 1;
  }
  return 0;
}

async function main(): Promise<number> {
  const program = perfCommand('run_latency_matrix')
    .description('Run latencydemo over a presets matrix; one JSON record per attempt.')
    .option('--config <file>', 'presets file', PATHS.presets)
    .option('--trials <n>', "trials per cell (default: the file's defaults.trials)", positiveInteger)
    .option(
      '--filter <expr>',
      'only cells matching key=v1|v2,key=v (keys: profile, fanout, batch, payload, binary, preset, trial); repeat for OR',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--resume',
      'continue the latest session (or --session), skipping cells it already measured',
      false,
    )
    .option('--session <id>', 'session id (default: new, or FELIX_PERF_SESSION_ID)')
    .option('--dry-run', 'print the commands and exit', false)
    .option('--max-retries <n>', 'retries of a run that failed', nonNegativeInteger, 2)
    .option('--fail-fast', 'stop at the first run that still fails after its retries', false)
    .parse();
  const o = program.opts<{
    config: string;
    trials?: number;
    filter: string[];
    resume: boolean;
    session?: string;
    dryRun: boolean;
    maxRetries: number;
    failFast: boolean;
  }>();
  return runMatrix({
    configPath: o.config,
    trials: o.trials,
    filters: o.filter,
    resume: o.resume,
    session: o.session,
    dryRun: o.dryRun,
    maxRetries: o.maxRetries,
    failFast: o.failFast,
    program: PATHS.latencydemoMain,
    jsonlPath: PATHS.latencyRunsJsonl,
    outputsRoot: PATHS.runOutputsDir,
  });
}

runIfMain(import.meta.url, main);
