// `npm run bench:transport`: felix-ts transport vs @matrixai/quic's high-level API vs node:net TCP.
// For every stack the runner starts a server process, then one client process per measurement and
// trial; each reports one JSON line. Trials are interleaved (trial → workload → stack) so a burst of
// background load hits all stacks alike. The report (markdown) goes to stdout, progress to stderr.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { STACK_NAMES, STACK_TITLES, type StackName } from './channel.js';
import { evaluateChecks } from './checks.js';
import { spawnNodeChild, stopChild, waitForExit, type NodeChild } from './children.js';
import type { ClientArgs, ClientReport } from './client.js';
import { currentLoad, describeMachine } from './machine.js';
import { MEASUREMENT_IDS, QUICK_DIVISOR, buildPlan, type Measurement } from './plan.js';
import { summarizeProfile } from './profile.js';
import type { ServerArgs } from './server.js';
import { NOTABLE_OTHER_LOAD, QUIET_THRESHOLD, describeBusy, isDisturbed, waitForQuiet } from './quiet.js';
import { renderReport, writeJsonReport, type RunOutcome } from './report.js';
import type { TrialRecord } from './stats.js';
import { formatCount, formatMegabytes } from './table.js';
import type { WorkloadResult, WorkloadSpec } from './workloads.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./server.js', import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL('./client.js', import.meta.url));
const SERVER_START_TIMEOUT_MS = 30_000;
const CLIENT_TIMEOUT_MS = 180_000;

interface Options {
  trials: number;
  quick: boolean;
  only: StackName[];
  workloads: string[] | null;
  json?: string;
  profileDir?: string;
  quietWait: number;
  retries: number;
  nodeFlags?: string;
}

function commaList<T extends string>(allowed: readonly T[], what: string) {
  return (value: string): T[] => {
    const items = value.split(',').map((s) => s.trim());
    for (const item of items) {
      if (!allowed.includes(item as T))
        throw new InvalidArgumentError(`unknown ${what} "${item}" (one of: ${allowed.join(', ')})`);
    }
    return items as T[];
  };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

function parseOptions(): Options {
  return new Command()
    .name('bench:transport')
    .description('Transport benchmark: felix-ts vs the @matrixai/quic high-level API vs node:net TCP')
    .option('--trials <n>', 'trials per measurement; the table reports the median [min–max]', positiveInt, 3)
    .option('--quick', `smoke run: every total divided by ${QUICK_DIVISOR}`, false)
    .addOption(
      new Option('--only <stacks>', `stacks to run, comma-separated: ${STACK_NAMES.join(',')}`)
        .argParser(commaList(STACK_NAMES, 'stack'))
        .default([...STACK_NAMES], 'all'),
    )
    .addOption(
      new Option('--workloads <ids>', `measurements to run, comma-separated: ${MEASUREMENT_IDS.join(',')}`)
        .argParser(commaList(MEASUREMENT_IDS, 'workload'))
        .default(null, 'all'),
    )
    .option(
      '--quiet-wait <seconds>',
      `before each run, wait up to this long for other processes to leave the CPUs (≤ ${QUIET_THRESHOLD * 100}% busy); 0: never wait`,
      nonNegativeNumber,
      30,
    )
    .option(
      '--retries <n>',
      `run a measurement again, up to n times, when other processes used over ${NOTABLE_OTHER_LOAD * 100}% of the CPUs during it`,
      nonNegativeInt,
      2,
    )
    .option(
      '--node-flags <flags>',
      'extra Node/V8 flags for every child process, all stacks alike (e.g. "--initial-heap-size=64")',
    )
    .option('--json <file>', 'also write raw trial results, machine info and checks to this file')
    .option(
      '--profile-dir <dir>',
      'run every child process under node --cpu-prof, write the profiles here and print where the time went',
    )
    .parse()
    .opts<Options>();
}

/** Node flags for one child: --node-flags, then --cpu-prof with a name that says which run it was. */
function childFlags(opts: Options, name: string): string[] {
  const extra = opts.nodeFlags?.split(/\s+/).filter((f) => f !== '') ?? [];
  const dir = opts.profileDir;
  if (dir === undefined) return extra;
  // 100 µs sampling (default 1 ms): per-packet work is tens of µs, so coarse samples blur it.
  return [
    ...extra,
    '--cpu-prof',
    '--cpu-prof-interval=100',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-name=${name}.cpuprofile`,
  ];
}

/** Servers are keyed by stack and UDP payload (a QUIC endpoint's payload is fixed when it starts). */
class Servers {
  private readonly running = new Map<string, { child: NodeChild; port: number }>();
  readonly profileNames: string[] = [];

  constructor(private readonly opts: Options) {}

  async portFor(stack: StackName, udpPayload: number): Promise<number> {
    const key = stack === 'tcp' ? stack : `${stack}-${udpPayload}`;
    const known = this.running.get(key);
    if (known !== undefined) return known.port;
    const args: ServerArgs = { stack, udpPayload };
    const name = `server-${key}`;
    this.profileNames.push(name);
    const child = spawnNodeChild(SERVER_SCRIPT, args, {
      nodeFlags: childFlags(this.opts, name),
      keepStdin: true,
      timeoutMs: SERVER_START_TIMEOUT_MS,
    });
    const { port } = (await child.report) as { port: number };
    this.running.set(key, { child, port });
    return port;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((s) => stopChild(s.child.process, 5000)));
    this.running.clear();
  }
}

async function runClient(
  args: ClientArgs,
  nodeFlags: string[],
): Promise<{ result: WorkloadResult; otherBusy: number | null }> {
  const child = spawnNodeChild(CLIENT_SCRIPT, args, {
    nodeFlags,
    keepStdin: false,
    timeoutMs: CLIENT_TIMEOUT_MS,
  });
  try {
    const report = (await child.report) as ClientReport;
    if (!report.ok) throw new Error(report.error);
    return report;
  } finally {
    await waitForExit(child.process, 5000);
  }
}

function describeResult(r: WorkloadResult): string {
  const parts: string[] = [];
  if (r.megabytesPerSecond !== undefined) parts.push(`${formatMegabytes(r.megabytesPerSecond)} MB/s`);
  if (r.cpuSecondsPerGB !== undefined) parts.push(`${r.cpuSecondsPerGB.toPrecision(3)} CPU s/GB`);
  if (r.p50Micros !== undefined) parts.push(`p50 ${r.p50Micros} µs, p99 ${r.p99Micros} µs`);
  if (r.framesPerSecond !== undefined) parts.push(`${formatCount(r.framesPerSecond)} frames/s`);
  return `${parts.join(', ')} in ${r.seconds.toFixed(2)} s`;
}

interface Measured {
  /** The kept trial of every measurement and stack. */
  readonly records: TrialRecord[];
  /** Runs thrown away because other processes took too much CPU during them. */
  readonly disturbed: TrialRecord[];
}

class Measurer {
  readonly servers: Servers;
  readonly clientProfiles: string[] = [];

  constructor(private readonly opts: Options) {
    this.servers = new Servers(opts);
  }

  async runOnce(
    m: Measurement,
    stack: StackName,
    workload: WorkloadSpec,
    trial: number,
  ): Promise<TrialRecord> {
    const label = `[trial ${trial}/${this.opts.trials}] ${m.id} ${STACK_TITLES[stack]}`;
    const profileName = `client-${stack}-${m.id}-t${trial}`;
    let busyBefore: number | null = null;
    try {
      const port = await this.servers.portFor(stack, m.udpPayload);
      busyBefore = (await waitForQuiet(QUIET_THRESHOLD, this.opts.quietWait * 1000)).busy;
      const args: ClientArgs = { stack, port, udpPayload: m.udpPayload, workload };
      const { result, otherBusy } = await runClient(args, childFlags(this.opts, profileName));
      if (!this.clientProfiles.includes(profileName)) this.clientProfiles.push(profileName);
      process.stderr.write(`${label}: ${describeResult(result)}${describeBusy(busyBefore, otherBusy)}\n`);
      return { measurementId: m.id, stack, trial, result, busyBefore, otherBusyDuring: otherBusy };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      process.stderr.write(`${label}: FAILED ${error}\n`);
      return { measurementId: m.id, stack, trial, error, busyBefore };
    }
  }
}

async function measure(opts: Options, plan: readonly Measurement[]): Promise<Measured> {
  const measurer = new Measurer(opts);
  const records: TrialRecord[] = [];
  const disturbed: TrialRecord[] = [];
  try {
    for (let trial = 1; trial <= opts.trials; trial++) {
      for (const m of plan) {
        for (const stack of STACK_NAMES) {
          const workload = m.specs[stack];
          if (workload === undefined) continue;
          let record = await measurer.runOnce(m, stack, workload, trial);
          // A shared machine: a run that other processes competed with measures them, not the stack.
          for (let retry = 1; retry <= opts.retries && isDisturbed(record); retry++) {
            process.stderr.write(`  disturbed by other processes: run again (${retry}/${opts.retries})\n`);
            disturbed.push(record);
            record = await measurer.runOnce(m, stack, workload, trial);
          }
          records.push(record);
        }
      }
    }
  } finally {
    await measurer.servers.stopAll();
  }
  if (opts.profileDir !== undefined)
    printProfiles(opts.profileDir, [...measurer.servers.profileNames, ...measurer.clientProfiles]);
  return { records, disturbed };
}

function printProfiles(dir: string, names: readonly string[]): void {
  for (const name of names) {
    const path = join(dir, `${name}.cpuprofile`);
    if (existsSync(path)) process.stderr.write(`\n${summarizeProfile(path)}\n`);
  }
}

function commandLine(): string {
  const args = process.argv.slice(2);
  return `npm run bench:transport${args.length === 0 ? '' : ` -- ${args.join(' ')}`}`;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  if (opts.profileDir !== undefined) {
    opts.profileDir = resolve(opts.profileDir);
    mkdirSync(opts.profileDir, { recursive: true });
  }
  const plan = buildPlan({ quick: opts.quick, stacks: opts.only, measurementIds: opts.workloads });
  const machine = describeMachine();
  const startedAt = new Date();
  const { records, disturbed } = await measure(opts, plan);
  machine.loadAtEnd = currentLoad();
  const run: RunOutcome = {
    startedAt,
    command: commandLine(),
    options: opts,
    machine,
    plan,
    records,
    disturbed,
    checks: evaluateChecks(records),
  };
  process.stdout.write(renderReport(run));
  if (opts.json !== undefined) writeJsonReport(opts.json, run);
  if (records.some((r) => r.error !== undefined)) process.exitCode = 1;
}

await main();
