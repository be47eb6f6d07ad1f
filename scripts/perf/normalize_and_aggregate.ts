// data/raw/latency_demo_runs.jsonl → data/derived/latency_demo_runs.csv (every attempt) and
// data/derived/latency_demo_agg.csv (one row per cell: trial counts, failures, medians, p10/p90).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { aggregateRuns, runRow } from './aggregate.js';
import { perfCommand, runIfMain, UsageError } from './cli.js';
import { rowsToCsv } from './csv.js';
import { PATHS, REPO_ROOT } from './paths.js';
import { latestSession, readRecords, type RunRecord } from './run_records.js';

/** `latest` (the default: the jsonl accumulates every session ever run), `all`, or a session id. */
export function selectSession(records: readonly RunRecord[], session: string): RunRecord[] {
  if (session === 'all') return [...records];
  const wanted = session === 'latest' ? latestSession(records) : session;
  return records.filter((r) => r.session_id === wanted);
}

function writeFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.error(`wrote ${relative(REPO_ROOT, path)}`);
}

async function main(): Promise<number> {
  const o = perfCommand('normalize_and_aggregate')
    .description('Flatten the run records to CSV and aggregate the trials of each cell.')
    .option('--input <jsonl>', 'run records', PATHS.latencyRunsJsonl)
    .option('--session <id>', 'latest, all, or a session id', 'latest')
    .option('--runs-csv <file>', 'every attempt', PATHS.runsCsv)
    .option('--agg-csv <file>', 'one row per cell', PATHS.aggCsv)
    .parse()
    .opts<{ input: string; session: string; runsCsv: string; aggCsv: string }>();

  const { records, malformed } = readRecords(o.input);
  for (const bad of malformed)
    console.error(`${relative(REPO_ROOT, o.input)} line ${bad.line} skipped: ${bad.reason}`);
  if (records.length === 0) {
    // A fresh clone has no raw data (it is git-ignored); the committed tables are then what there is.
    console.error(
      `no run records in ${relative(REPO_ROOT, o.input)}: keeping the existing tables in data/derived/`,
    );
    return 0;
  }
  const selected = selectSession(records, o.session).filter((r) => r.system === 'felix');
  if (selected.length === 0) throw new UsageError(`no latencydemo records for session ${o.session}`);
  writeFile(o.runsCsv, rowsToCsv(selected.map(runRow)));
  const aggregated = aggregateRuns(selected);
  writeFile(o.aggCsv, rowsToCsv(aggregated));
  const failedTrials = aggregated.reduce((n, row) => n + row.failed_trials, 0);
  console.error(
    `${selected.length} attempts → ${aggregated.length} cells` +
      (failedTrials > 0 ? `; ${failedTrials} trial(s) failed` : ''),
  );
  return 0;
}

runIfMain(import.meta.url, main);
