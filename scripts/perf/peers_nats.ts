// felix-ts vs NATS: the peer workloads (comparison.ts) through latencydemo (which spawns the broker) and
// through nats_latency (which spawns nats-server), trials alternating between the two systems, then the
// median ratios felix/NATS and the acceptance checks. Usage: node dist/scripts/perf/peers_nats.js --help
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import type { Command } from 'commander';
import {
  nonNegativeInteger,
  nonNegativeNumber,
  perfCommand,
  positiveInteger,
  runIfMain,
  UsageError,
} from './cli.js';
import { defaultPubWindow } from '../../latencydemo/publish-window.js';
import {
  ALL_PEER_WORKLOADS,
  comparisonTable,
  compareWithNats,
  FELIX_PEER_PRESET,
  FELIX_PEER_PROFILE,
  peerWorkloadId,
  type ComparisonLine,
  type PeerWorkload,
} from './comparison.js';
import { toCsv } from './csv.js';
import { presetArgs, workloadArgs, type Workload } from './matrix.js';
import { requireNatsServer } from './nats_server.js';
import { loadPerfConfig } from './perf_config.js';
import { PATHS, REPO_ROOT } from './paths.js';
import { startProgress } from './progress.js';
import { describeHost, gitState, newSessionId } from './provenance.js';
import { runMeasured } from './run_attempt.js';
import {
  attemptFailure,
  latestSession,
  readRecords,
  type MeasuredSystem,
  type RunRecord,
} from './run_records.js';

interface PeerOptions {
  readonly trials: number;
  readonly maxLoad: number;
  readonly loadWaitS: number;
  readonly maxRetries: number;
  readonly workloads: readonly PeerWorkload[];
}

/** Waits until the 1-minute load average is below maxLoad, at most waitS; returns the load it started with. */
async function waitForLowLoad(maxLoad: number, waitS: number): Promise<number> {
  const deadline = Date.now() + waitS * 1000;
  while (os.loadavg()[0]! >= maxLoad && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5000));
  }
  return os.loadavg()[0]!;
}

type PeerRun = Pick<RunRecord, 'profile' | 'profile_env' | 'preset' | 'preset_spec'> & { args: string[] };

/**
 * The batches each side keeps in flight until delivered to every subscriber: latencydemo's default window
 * for the workload, passed explicitly to both (latencydemo --pub-window, nats_latency --window), so that no
 * cell compares a pipelined felix-ts with a flush-per-batch NATS. The open loop bounds nothing (the rate is
 * the load) and the acked batch-1 mode has one request in flight on both sides: no window flag there.
 */
export function peerWindowArgs(system: MeasuredSystem, w: Workload): string[] {
  if (w.rate !== undefined || (w.batch <= 1 && !w.binary)) return [];
  const window = String(defaultPubWindow(w.batch, w.payload_bytes));
  return system === 'nats' ? ['--window', window] : ['--pub-window', window];
}

/**
 * Each system with the same connections: one publisher connection (felix-ts: the preset, one stream) and
 * one connection per subscriber, as the NATS harness has, and the same batches in flight. The broker runs
 * the balanced profile.
 */
function peerRuns(): (system: MeasuredSystem, workload: Workload) => PeerRun {
  const config = loadPerfConfig(PATHS.presets);
  const profileEnv = config.profiles[FELIX_PEER_PROFILE];
  const preset = config.presets[FELIX_PEER_PRESET];
  if (profileEnv === undefined || preset === undefined) {
    throw new UsageError(
      `${config.source} lacks profile ${FELIX_PEER_PROFILE} or preset ${FELIX_PEER_PRESET}`,
    );
  }
  return (system, workload) => {
    if (system === 'nats') {
      const args = [
        PATHS.natsLatencyMain,
        ...workloadArgs(workload),
        ...peerWindowArgs('nats', workload),
        '--json',
      ];
      return { args, profile: 'nats', profile_env: {}, preset: 'nats', preset_spec: null };
    }
    const spec = { ...preset, sub_conns: workload.fanout };
    const args = [
      PATHS.latencydemoMain,
      ...workloadArgs(workload),
      ...peerWindowArgs('felix', workload),
      ...presetArgs(spec),
      '--json',
    ];
    return {
      args,
      profile: FELIX_PEER_PROFILE,
      profile_env: profileEnv,
      preset: FELIX_PEER_PRESET,
      preset_spec: spec,
    };
  };
}

async function runComparison(o: PeerOptions, session: string): Promise<number> {
  const runFor = peerRuns();
  const git = gitState();
  const outputsDir = join(PATHS.runOutputsDir, session);
  const loadBefore = await waitForLowLoad(o.maxLoad, o.loadWaitS);
  console.error(`session ${session}: 1-minute load ${loadBefore.toFixed(2)} at start`);
  const progress = startProgress(o.trials * o.workloads.length * 2, 'runs');
  let failed = 0;
  try {
    for (let trial = 1; trial <= o.trials; trial++) {
      // Alternate who goes first, so that neither system always runs on a machine the other just warmed.
      const order: MeasuredSystem[] = trial % 2 === 1 ? ['felix', 'nats'] : ['nats', 'felix'];
      for (const { id, workload } of o.workloads) {
        for (const system of order) {
          progress.starting(`${system} ${id} trial ${trial}`);
          const last = await runMeasured(
            {
              ...runFor(system, workload),
              session_id: session,
              system,
              workload,
              trial,
              timeoutMs: 300_000,
              git,
              outputsDir,
            },
            {
              maxRetries: o.maxRetries,
              jsonlPath: PATHS.peerRunsJsonl,
              onAttempt: (r, failure) => {
                if (failure !== null)
                  progress.log(`${system} ${id} trial ${trial}: ${failure} (${r.stderr_path})`);
              },
            },
          );
          if (attemptFailure(last) !== null) failed++;
          progress.advance();
        }
      }
    }
  } finally {
    progress.stop();
  }
  console.error(`1-minute load ${os.loadavg()[0]!.toFixed(2)} at end`);
  return failed;
}

function loadRange(records: readonly RunRecord[]): string {
  const loads = records.map((r) => r.host.load_1m);
  return `${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`;
}

/** The programs' own warnings (e.g. an incomplete warmup), once each, with who gave them. */
function runWarnings(records: readonly RunRecord[]): string[] {
  const seen = new Set<string>();
  for (const r of records)
    for (const w of r.metrics?.warnings ?? []) seen.add(`${r.system} ${peerWorkloadId(r.workload)}: ${w}`);
  return seen.size === 0 ? [] : ['', 'Warnings of the runs:', '', ...[...seen].map((w) => `- ${w}`)];
}

function reportMarkdown(lines: readonly ComparisonLine[], records: readonly RunRecord[]): string {
  const first = records[0]!;
  const trials = (system: MeasuredSystem) =>
    new Set(records.filter((r) => r.system === system).map((r) => r.trial)).size;
  return [
    comparisonTable(lines),
    '',
    `Medians of ${trials('felix')} felix-ts and ${trials('nats')} NATS trials (alternating), session ` +
      `${first.session_id}, git ${first.git_sha.slice(0, 12)}${records.some((r) => r.git_dirty) ? ' (uncommitted changes)' : ''}, ` +
      `${first.timestamp.slice(0, 10)}.`,
    `felix-ts: profile ${FELIX_PEER_PROFILE}, preset ${FELIX_PEER_PRESET} (one publish connection and stream), ` +
      'one event connection per subscriber; NATS: one connection for the publisher and one per subscriber. ' +
      "Both keep the same batches in flight (latencydemo's default window, given to both); the open-loop " +
      'rows (r = msg/s) pace single publishes with the same code and count latency from the scheduled send time.',
    `Machine: ${describeHost(first.host, first.node)}. 1-minute load average when each run started: ${loadRange(records)}.`,
    ...runWarnings(records),
    '',
  ].join('\n');
}

/** Where the table goes: data/derived by default, or --derived-dir (a trial run that must not replace it). */
function writeReport(records: readonly RunRecord[], derivedDir: string | undefined): ComparisonLine[] {
  const csvPath = derivedDir === undefined ? PATHS.peersCsv : join(derivedDir, basename(PATHS.peersCsv));
  const markdownPath =
    derivedDir === undefined ? PATHS.peersMarkdown : join(derivedDir, basename(PATHS.peersMarkdown));
  const lines = compareWithNats(records);
  const markdown = reportMarkdown(lines, records);
  mkdirSync(dirname(csvPath), { recursive: true });
  writeFileSync(
    csvPath,
    toCsv(
      ['workloadId', 'metric', 'felix', 'nats', 'ratio', 'target', 'verdict', 'felixTrials', 'natsTrials'],
      lines,
    ),
  );
  writeFileSync(markdownPath, markdown);
  console.log(markdown);
  console.error(`wrote ${relative(REPO_ROOT, csvPath)} and ${relative(REPO_ROOT, markdownPath)}`);
  return lines;
}

/** The workloads --workloads names (all by default), or only the open-loop ones with --open-loop. */
export function selectWorkloads(ids: string | undefined, openLoopOnly: boolean): PeerWorkload[] {
  let selected = openLoopOnly
    ? ALL_PEER_WORKLOADS.filter((w) => w.workload.rate !== undefined)
    : [...ALL_PEER_WORKLOADS];
  if (ids !== undefined) {
    const wanted = ids.split(',').map((id) => id.trim());
    const unknown = wanted.filter((id) => !ALL_PEER_WORKLOADS.some((w) => w.id === id));
    if (unknown.length > 0) throw new UsageError(`unknown workload ${unknown.join(', ')}`);
    selected = selected.filter((w) => wanted.includes(w.id));
  }
  if (selected.length === 0) throw new UsageError('no workload selected');
  return selected;
}

/** The flags that shape a run, which --report-only (running nothing) would take and drop. */
const RUN_FLAGS = [
  ['trials', '--trials'],
  ['maxLoad', '--max-load'],
  ['loadWait', '--load-wait'],
  ['maxRetries', '--max-retries'],
  ['workloads', '--workloads'],
  ['openLoop', '--open-loop'],
] as const;

function checkReportOnly(command: Command): void {
  if (command.getOptionValue('reportOnly') !== true) return;
  const given = RUN_FLAGS.find(([key]) => command.getOptionValueSource(key) === 'cli');
  if (given !== undefined) {
    throw new UsageError(
      `${given[1]} and --report-only exclude each other (--report-only runs nothing: its table is the ` +
        'last recorded session, whole)',
    );
  }
}

async function main(): Promise<number> {
  const command = perfCommand('peers_nats')
    .description('felix-ts (latencydemo) vs nats-server on the same workloads; ratios and acceptance checks')
    .option(
      '--trials <n>',
      'trials per system and workload (at least 3 for a median worth quoting)',
      positiveInteger,
      3,
    )
    .option(
      '--max-load <load>',
      'wait for the 1-minute load average to fall below this first',
      nonNegativeNumber,
      0.5,
    )
    .option('--load-wait <s>', 'at most this long', nonNegativeInteger, 300)
    .option('--max-retries <n>', 'retries of a run that failed', nonNegativeInteger, 1)
    .option(
      '--workloads <ids>',
      `comma-separated workload ids (default: all): ${ALL_PEER_WORKLOADS.map((w) => w.id).join(', ')}`,
    )
    .option('--open-loop', 'only the open-loop workloads (the r<rate> ones)', false)
    .option('--derived-dir <dir>', 'write peers_nats.csv and peers_nats.md here instead of data/derived')
    .option(
      '--report-only',
      'recompute the table from the latest recorded session, running nothing (no run flags)',
      false,
    )
    .parse();
  checkReportOnly(command);
  const o = command.opts<{
    trials: number;
    maxLoad: number;
    loadWait: number;
    maxRetries: number;
    reportOnly: boolean;
    workloads?: string;
    openLoop: boolean;
    derivedDir?: string;
  }>();

  let failed = 0;
  let session: string | undefined;
  if (o.reportOnly) {
    session = latestSession(readRecords(PATHS.peerRunsJsonl).records);
    if (session === undefined)
      throw new UsageError(`no records in ${relative(REPO_ROOT, PATHS.peerRunsJsonl)}`);
  } else {
    requireNatsServer();
    for (const program of [PATHS.latencydemoMain, PATHS.natsLatencyMain]) {
      if (!existsSync(program))
        throw new UsageError(`${relative(REPO_ROOT, program)} does not exist: build first (npm run build)`);
    }
    session = newSessionId();
    failed = await runComparison(
      { ...o, loadWaitS: o.loadWait, workloads: selectWorkloads(o.workloads, o.openLoop) },
      session,
    );
  }
  const records = readRecords(PATHS.peerRunsJsonl).records.filter((r) => r.session_id === session);
  writeReport(records, o.derivedDir);
  if (failed > 0) console.error(`${failed} run(s) measured nothing after their retries`);
  // Like the transport benchmark: a failed run is an error, a ratio that misses its target is a result.
  return failed > 0 ? 1 : 0;
}

runIfMain(import.meta.url, main);
