#!/usr/bin/env node
/**
 * felix-ts cache against Redis 7, same workload, alternating trials: `npm run perf:cache-peers`.
 *
 * Each felix trial runs cachedemo (which starts its own broker process); each Redis trial starts a fresh
 * redis-server (loopback, no persistence) and runs the same workload through ioredis
 * (scripts/perf/lib/cache_redis_bench.ts). Both keep `--concurrency` requests in flight on the client
 * side; ioredis on one connection with auto-pipelining off (its default) unless --redis-auto-pipelining.
 * Trials alternate felix/redis (the order flips every trial) and wait for the machine to be quiet first.
 * Prints medians with min–max and the felix/redis ratios, as a table and as markdown for
 * docs/benchmarks.md. With --rate both sides run cachedemo's open loop at that rate (the same pacer):
 * the table then compares latencies (from each operation's scheduled start), since both deliver the rate.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { runMain } from '../../cachedemo/cli.js';
import { benchArgsProblem, benchEnvFlags } from '../../cachedemo/settings.js';
import { nonNegativeInteger, nonNegativeNumber, perfCommand, positiveInteger } from './cli.js';
import { loadAverage, machineInfo, waitForQuiet, type MachineInfo } from './lib/cache_machine.js';
import { redisVersion, startRedis } from './lib/cache_redis_server.js';
import { spread } from './stats.js';

const CACHEDEMO = fileURLToPath(new URL('../../cachedemo/main.js', import.meta.url));
const REDIS_BENCH = fileURLToPath(new URL('./lib/cache_redis_bench.js', import.meta.url));

interface Options {
  trials: number;
  payloads: string;
  ops: string;
  concurrency: string;
  keys: string;
  warmup: string;
  samples: string;
  redisAutoPipelining?: boolean;
  maxLoad: number;
  loadWaitS: number;
  rate?: string;
}

/** One row of a child's JSON document (cachedemo/report.ts jsonRows). */
interface Row {
  op: string;
  payload_bytes: number;
  n: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us?: number;
  throughput_ops: number;
  achieved_rate_ops?: number | null;
  unexpected: number;
  client_cpu_us_per_op: number;
  server_cpu_us_per_op: number | null;
}

interface Trial {
  system: 'felix' | 'redis';
  loadBefore: number;
  rows: Row[];
}

/**
 * cachedemo reads FELIX_CACHE_BENCH_*, the Redis side does not: a variable left in the environment would
 * change the felix-ts half of the comparison alone (or be overridden by this script's flags, unsaid).
 */
function benchEnvConflict(program: Command): string | undefined {
  const set = benchEnvFlags().find(({ env }) => process.env[env] !== undefined);
  if (set === undefined) return undefined;
  const { env: name, flag } = set;
  // This script has a flag for the common settings only (--concurrency, --keys, …).
  const instead = program.options.some((option) => option.long === flag) ? `; use ${flag}` : '';
  return (
    `${name} is set: cache_vs_redis gives both systems the same workload through its own flags, and the ` +
    `variable would reach the felix-ts side only (unset it${instead})`
  );
}

async function main(): Promise<number> {
  const program = perfCommand('cache_vs_redis')
    .description('felix-ts cache vs Redis 7 (ioredis), same workload, alternating trials')
    // Parsed as flags: Number() of the text took "abc" as NaN, which ran no trial and waited for no quiet.
    .option('--trials <n>', 'trials per system', positiveInteger, 3)
    .option('--payloads <list>', 'value sizes in bytes', '256')
    .option('--ops <list>', 'operations', 'put,get_hit')
    .option('--concurrency <n>', 'requests in flight', '32')
    .option('--keys <n>', 'distinct keys', '1024')
    .option('--warmup <n>', 'unmeasured operations per op and payload', '20000')
    .option('--samples <n>', 'measured operations per op and payload', '200000')
    .option('--rate <ops/s>', "open loop at this rate on both sides (cachedemo's --rate)")
    .option('--redis-auto-pipelining', "turn on ioredis' enableAutoPipelining (off by default)")
    .option(
      '--max-load <load>',
      'wait before each trial until the 1-minute load is below this',
      nonNegativeNumber,
      0.5,
    )
    .option(
      '--load-wait-s <s>',
      'longest wait for a quiet machine before each trial',
      nonNegativeInteger,
      90,
    );
  program.parse(process.argv);
  const o = program.opts<Options>();
  const envProblem = benchEnvConflict(program);
  if (envProblem !== undefined) {
    process.stderr.write(`${envProblem}\n`);
    return 2;
  }
  const workload = [
    ...['--payloads', o.payloads, '--ops', o.ops, '--concurrency', o.concurrency, '--keys', o.keys],
    ...['--warmup', o.warmup, '--samples', o.samples, '--json'],
    ...(o.rate === undefined ? [] : ['--rate', o.rate]),
  ];
  // Both sides take the workload as cachedemo's flags: a bad one is refused now, not after the first
  // wait for a quiet machine.
  const workloadProblem = benchArgsProblem(workload);
  if (workloadProblem !== undefined) {
    process.stderr.write(`${workloadProblem}\n`);
    return 2;
  }
  const found = redisVersion();
  if (!found.ok) {
    process.stderr.write(`${found.message}\n`);
    return 2;
  }
  const machine = machineInfo();
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const redisArgs = o.redisAutoPipelining === true ? ['--auto-pipelining'] : [];
  say(`felix-ts cache vs redis ${found.version}: ${o.trials} trials each, ${workload.join(' ')}`);

  const trials: Trial[] = [];
  const count = o.trials;
  for (let t = 0; t < count; t++) {
    const order: Trial['system'][] = t % 2 === 0 ? ['felix', 'redis'] : ['redis', 'felix'];
    for (const system of order) {
      const loadBefore = await waitForQuiet(o.maxLoad, o.loadWaitS * 1000, say);
      say(`trial ${t + 1}/${count} ${system} (load ${loadBefore.toFixed(2)})`);
      const rows =
        system === 'felix' ? await runFelix(workload) : await runRedis([...workload, ...redisArgs]);
      for (const row of rows) {
        say(
          `  ${row.op} ${row.payload_bytes} B: ${row.throughput_ops.toFixed(0)} ops/s p50 ${row.p50_us} us`,
        );
        if (row.unexpected > 0)
          throw new Error(`INVALID RUN: ${system} ${row.op} had ${row.unexpected} unexpected answers`);
      }
      trials.push({ system, loadBefore, rows });
    }
  }
  const loadAfter = loadAverage();
  const mode = o.redisAutoPipelining === true ? 'on' : 'off';
  const command = ['npm run perf:cache-peers --', ...process.argv.slice(2)].join(' ');
  const table = o.rate === undefined ? report : openLoopReport;
  process.stdout.write(`${table(trials, machine, found.version, mode, loadAfter, command)}\n`);
  return 0;
}

async function runFelix(args: string[]): Promise<Row[]> {
  return (await runJson(process.execPath, [CACHEDEMO, ...args])).results as Row[];
}

async function runRedis(args: string[]): Promise<Row[]> {
  const redis = await startRedis();
  try {
    return (await runJson(process.execPath, [REDIS_BENCH, '--redis-port', String(redis.port), ...args]))
      .results as Row[];
  } finally {
    await redis.stop();
  }
}

/** Runs a benchmark child and parses the JSON document it prints last on stdout. */
function runJson(command: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    child.on('exit', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      // Exit 2 is a bad setting (one it inherited from the environment, say): this script's too.
      if (code === 2) return reject(new BadSetting(stderr.trim()));
      if (code !== 0) return reject(new Error(`${args[0]} exited with ${code}: ${stderr.trim()}`));
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`${args[0]} printed no JSON document: ${stdout.slice(-2000)}`));
      }
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The cells (op and payload) the trials measured, and each system's row of a cell, trial by trial. */
function rowsByCell(trials: Trial[]): {
  keys: string[];
  rowsOf: (system: Trial['system'], key: string) => Row[];
} {
  const keys = [...new Set(trials.flatMap((t) => t.rows.map((r) => `${r.op}|${r.payload_bytes}`)))];
  const rowsOf = (system: Trial['system'], key: string): Row[] =>
    trials
      .filter((t) => t.system === system)
      .map((t) => t.rows.find((r) => `${r.op}|${r.payload_bytes}` === key)!);
  return { keys, rowsOf };
}

function report(
  trials: Trial[],
  machine: MachineInfo,
  redisVersionText: string,
  mode: string,
  loadAfter: number,
  command: string,
): string {
  const { keys, rowsOf } = rowsByCell(trials);
  const lines = [
    '| op | payload | felix ops/s, median (min–max) | redis ops/s, median (min–max) | felix/redis | p50 µs felix / redis | CPU µs/op felix client + broker | CPU µs/op redis client + server |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const key of keys) {
    const [op, payload] = key.split('|');
    const felix = rowsOf('felix', key);
    const redis = rowsOf('redis', key);
    const ratio = median(felix.map((r) => r.throughput_ops)) / median(redis.map((r) => r.throughput_ops));
    const cpu = (rows: Row[]) =>
      `${median(rows.map((r) => r.client_cpu_us_per_op)).toFixed(1)} + ${median(rows.map((r) => r.server_cpu_us_per_op ?? NaN)).toFixed(1)}`;
    lines.push(
      `| ${op} | ${payload} B | ${spread(felix.map((r) => r.throughput_ops))} | ${spread(redis.map((r) => r.throughput_ops))} | ` +
        `**${ratio.toFixed(2)}** | ${median(felix.map((r) => r.p50_us)).toFixed(0)} / ${median(redis.map((r) => r.p50_us)).toFixed(0)} | ` +
        `${cpu(felix)} | ${cpu(redis)} |`,
    );
  }
  return [
    ...lines,
    '',
    `- Command: \`${command}\``,
    ...setupLines(trials, machine, redisVersionText, mode, loadAfter),
  ].join('\n');
}

/** How the run was made: the two systems, the machine, and its load around the trials. */
function setupLines(
  trials: Trial[],
  machine: MachineInfo,
  redisVersionText: string,
  mode: string,
  loadAfter: number,
): string[] {
  const loads = trials.map((t) => t.loadBefore);
  return [
    `- Redis ${redisVersionText} (redis-server --save '' --appendonly no, loopback), ioredis one connection, auto-pipelining ${mode}; felix-ts broker in its own process (cachedemo), client settings at their defaults unless the environment set them.`,
    `- Machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.kernel}, Node ${machine.node}, ${machine.date}.`,
    `- Load (1-minute) before each trial: ${loads.map((l) => l.toFixed(2)).join(', ')}; after: ${loadAfter.toFixed(2)}.`,
  ];
}

/** The open loop's table: both sides start the same rate, so latencies are what differ. */
function openLoopReport(
  trials: Trial[],
  machine: MachineInfo,
  redisVersionText: string,
  mode: string,
  loadAfter: number,
  command: string,
): string {
  const { keys, rowsOf } = rowsByCell(trials);
  const lines = [
    '| op | payload | achieved ops/s felix / redis | p50 µs felix | p50 µs redis | p50 felix/redis | p99 µs felix | p99 µs redis | p99 felix/redis | p999 µs felix / redis |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const key of keys) {
    const [op, payload] = key.split('|');
    const felix = rowsOf('felix', key);
    const redis = rowsOf('redis', key);
    const m = (rows: Row[], pick: (r: Row) => number) => median(rows.map(pick));
    const achieved = (rows: Row[]) => m(rows, (r) => r.achieved_rate_ops ?? NaN).toFixed(0);
    const ratio = (pick: (r: Row) => number) => (m(felix, pick) / m(redis, pick)).toFixed(2);
    lines.push(
      `| ${op} | ${payload} B | ${achieved(felix)} / ${achieved(redis)} | ` +
        `${spread(felix.map((r) => r.p50_us))} | ${spread(redis.map((r) => r.p50_us))} | **${ratio((r) => r.p50_us)}** | ` +
        `${spread(felix.map((r) => r.p99_us))} | ${spread(redis.map((r) => r.p99_us))} | **${ratio((r) => r.p99_us)}** | ` +
        `${m(felix, (r) => r.p999_us).toFixed(0)} / ${m(redis, (r) => r.p999_us).toFixed(0)} |`,
    );
  }
  return [
    ...lines,
    '',
    `- Command: \`${command}\``,
    `- Open loop: operations start evenly spaced at the rate whatever is in flight (the same pacer on both sides), latency from each operation's scheduled start; warm-up closed-loop. Medians of the trials, min–max in brackets.`,
    ...setupLines(trials, machine, redisVersionText, mode, loadAfter),
  ].join('\n');
}

/** A benchmark child refused its settings (its exit 2): said as it said it, and this script exits 2. */
class BadSetting extends Error {}

runMain('cache_vs_redis', main, (error) =>
  error instanceof BadSetting
    ? { message: error.message, code: 2 }
    : { message: (error as Error).stack ?? String(error), code: 1 },
);
