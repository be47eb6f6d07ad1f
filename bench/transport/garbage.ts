// Garbage benchmark (issue 10): what a datagram that belongs to no connection costs the server, and how
// a good client fares while such datagrams flood the server's port.
//
// Three kinds of Node process: a server (garbage-server: a transport Endpoint echoing streams), a
// flooder (garbage-flood: one class of garbage, paced or at full rate) and a good client (garbage-client:
// 64-byte echo requests, one in flight). CPU per datagram = the server's CPU time (user + system, from
// process.cpuUsage) during a paced flood and until its socket queue is empty, minus its idle rate, over
// the datagrams it read (sent minus the kernel's drops on its socket, from /proc/net/udp).
// Markdown to stdout, progress to stderr.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { LineChild } from './garbage-children.js';
import type { GoodClientArgs, GoodClientReport } from './garbage-client.js';
import type { FloodArgs, FloodReport } from './garbage-flood.js';
import { GARBAGE_CLASSES, GARBAGE_TITLES, type GarbageClass } from './garbage-packets.js';
import type { CpuSample } from './garbage-server.js';
import { describeMachine } from './machine.js';
import { QUIET_THRESHOLD, otherBusyFraction, readCpuTimes, waitForQuiet } from './quiet.js';
import { summarize, type Summary } from './stats.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./garbage-server.js', import.meta.url));
const FLOOD_SCRIPT = fileURLToPath(new URL('./garbage-flood.js', import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL('./garbage-client.js', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const IDLE_MS = 1000;
// After a flood: wait for the server's socket queue to empty, at most this long.
const DRAIN_LIMIT_MS = 20_000;
const DRAIN_EXTRA_MS = 100;

interface Options {
  trials: number;
  count: number;
  rate: number;
  goodput: boolean;
  floodMs: number;
  floodRates: number[];
  quietWait: number;
  json?: string;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function rateList(value: string): number[] {
  return value.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError('expected integers ≥ 0 (0 = full rate)');
    return n;
  });
}

function parseOptions(): Options {
  return new Command()
    .name('garbage')
    .description('CPU per garbage datagram, and a good client under a garbage flood, on a transport Endpoint')
    .option('--trials <n>', 'trials; tables show the median [min–max]', positiveInt, 3)
    .option('--count <n>', 'datagrams per class per trial in the CPU measurement', positiveInt, 15_000)
    .option(
      '--rate <n>',
      'datagrams per second in the CPU measurement (below saturation)',
      positiveInt,
      5_000,
    )
    .option('--no-goodput', 'skip the good-client-under-flood measurement')
    .option('--flood-ms <ms>', 'good-client measurement length per flood', positiveInt, 5_000)
    .option(
      '--flood-rates <list>',
      'flood rates for the good-client measurement, 0 = full rate',
      rateList,
      [0, 20_000],
    )
    .option(
      '--quiet-wait <s>',
      'before each CPU measurement, wait up to this long for other processes to leave the CPUs',
      Number,
      30,
    )
    .option('--json <file>', 'also write every trial as JSON')
    .parse()
    .opts<Options>();
}

interface UdpSocketState {
  readonly rxQueueBytes: number;
  readonly drops: number;
}

/** The kernel's view of the server's socket (Linux): bytes waiting to be read, datagrams dropped. */
async function udpSocketState(port: number): Promise<UdpSocketState | null> {
  let text: string;
  try {
    text = await readFile('/proc/net/udp', 'utf8');
  } catch {
    return null;
  }
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== local) continue;
    return { rxQueueBytes: parseInt(f[4]!.split(':')[1]!, 16), drops: Number(f[12]) };
  }
  return null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitForEmptyQueue(port: number): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < DRAIN_LIMIT_MS) {
    const state = await udpSocketState(port);
    if (state === null || state.rxQueueBytes === 0) break;
    await sleep(10);
  }
  await sleep(DRAIN_EXTRA_MS);
}

interface CpuTrial {
  readonly trial: number;
  readonly kind: GarbageClass;
  readonly sent: number;
  readonly kernelDrops: number;
  readonly replies: number;
  readonly cpuMicros: number;
  readonly idleMicros: number;
  readonly microsPerDatagram: number;
  /** The kernel's share (system time) of microsPerDatagram: receiving, and sending any replies. */
  readonly systemMicrosPerDatagram: number;
  /** Share of all CPUs other processes used during the measurement (null: not measurable here). */
  readonly otherBusy: number | null;
}

interface GoodputTrial {
  readonly trial: number;
  /** null: no flood. */
  readonly kind: GarbageClass | null;
  readonly floodRate: number;
  readonly floodSentPerSecond: number;
  readonly client: GoodClientReport;
}

class ServerChild {
  private constructor(
    private readonly child: LineChild,
    readonly port: number,
  ) {}

  static async start(): Promise<ServerChild> {
    const child = LineChild.start(SERVER_SCRIPT, {});
    const { port } = await child.next<{ port: number }>(START_TIMEOUT_MS);
    return new ServerChild(child, port);
  }

  cpu(): Promise<CpuSample> {
    this.child.send('cpu');
    return this.child.next<CpuSample>(START_TIMEOUT_MS);
  }

  stop(): Promise<void> {
    return this.child.stop(5_000);
  }
}

async function idleMicrosPerMs(server: ServerChild): Promise<number> {
  const a = await server.cpu();
  await sleep(IDLE_MS);
  const b = await server.cpu();
  return (b.cpuMicros - a.cpuMicros) / (b.atMs - a.atMs);
}

async function measureCpu(
  server: ServerChild,
  trial: number,
  kind: GarbageClass,
  opts: Options,
  idleRate: number,
): Promise<CpuTrial> {
  await waitForQuiet(QUIET_THRESHOLD, opts.quietWait * 1000);
  const before = await udpSocketState(server.port);
  const machineBefore = readCpuTimes();
  const a = await server.cpu();
  const args: FloodArgs = { port: server.port, kind, rate: opts.rate, count: opts.count, durationMs: 0 };
  const flood = LineChild.start(FLOOD_SCRIPT, args);
  const sent = await flood.next<FloodReport>((opts.count / opts.rate) * 1000 + 30_000);
  await waitForEmptyQueue(server.port);
  const b = await server.cpu();
  const machineAfter = readCpuTimes();
  const after = await udpSocketState(server.port);
  await flood.stop(5_000);
  const ownCpuSeconds = (b.cpuMicros - a.cpuMicros + sent.cpuMicros) / 1e6;
  const otherBusy = otherBusyFraction(
    machineBefore,
    machineAfter,
    ownCpuSeconds,
    (b.atMs - a.atMs) / 1000,
    availableParallelism(),
  );
  const kernelDrops = before !== null && after !== null ? after.drops - before.drops : 0;
  const idleMicros = idleRate * (b.atMs - a.atMs);
  const cpuMicros = b.cpuMicros - a.cpuMicros;
  const read = Math.max(1, sent.sent - kernelDrops);
  return {
    trial,
    kind,
    sent: sent.sent,
    kernelDrops,
    replies: sent.replies,
    cpuMicros,
    idleMicros,
    microsPerDatagram: (cpuMicros - idleMicros) / read,
    systemMicrosPerDatagram: (b.systemMicros - a.systemMicros) / read,
    otherBusy,
  };
}

async function measureGoodput(
  server: ServerChild,
  trial: number,
  kind: GarbageClass | null,
  floodRate: number,
  opts: Options,
): Promise<GoodputTrial> {
  await waitForQuiet(QUIET_THRESHOLD, opts.quietWait * 1000);
  const clientArgs: GoodClientArgs = { port: server.port, durationMs: opts.floodMs };
  const client = LineChild.start(CLIENT_SCRIPT, clientArgs);
  await client.next(START_TIMEOUT_MS);
  let flood: LineChild | null = null;
  if (kind !== null) {
    // The flood outlasts the measurement on both ends.
    const floodMs = opts.floodMs + 1000;
    const args: FloodArgs = {
      port: server.port,
      kind,
      rate: floodRate,
      count: Math.ceil((floodRate * floodMs) / 1000),
      durationMs: floodMs,
    };
    flood = LineChild.start(FLOOD_SCRIPT, args);
    await sleep(300);
  }
  client.send('go');
  const report = await client.next<GoodClientReport>(opts.floodMs + 30_000);
  await client.stop(5_000);
  let floodSentPerSecond = 0;
  if (flood !== null) {
    const f = await flood.next<FloodReport>(opts.floodMs + 30_000);
    floodSentPerSecond = f.sent / f.seconds;
    await flood.stop(5_000);
    await waitForEmptyQueue(server.port);
  }
  return { trial, kind, floodRate, floodSentPerSecond, client: report };
}

/** Median [min–max] of the values that exist (a run with no answered request has no latency). */
function spread(values: readonly (number | null)[]): Summary | null {
  return summarize(values.filter((v): v is number => v !== null && Number.isFinite(v)));
}

function cell(s: Summary | null, digits = 1): string {
  if (s === null) return '—';
  const f = (n: number): string => n.toFixed(digits);
  return `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
}

function renderCpu(trials: readonly CpuTrial[], opts: Options): string {
  const lines = [
    `CPU per datagram, paced at ${opts.rate}/s, ${opts.count} datagrams per class per trial, median of ${opts.trials} [min–max]:`,
    '',
    '| datagram class | server CPU µs per datagram | of which system | kernel drops (sum) | replies per datagram | other load (max) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const kind of GARBAGE_CLASSES) {
    const mine = trials.filter((t) => t.kind === kind);
    const drops = mine.reduce((n, t) => n + t.kernelDrops, 0);
    const replies =
      mine.reduce((n, t) => n + t.replies, 0) /
      Math.max(
        1,
        mine.reduce((n, t) => n + t.sent, 0),
      );
    const others = mine.map((t) => t.otherBusy).filter((v): v is number => v !== null);
    const otherLoad = others.length === 0 ? '—' : `${(Math.max(...others) * 100).toFixed(0)}%`;
    lines.push(
      `| ${GARBAGE_TITLES[kind]} | ${cell(summarize(mine.map((t) => t.microsPerDatagram)))} | ` +
        `${cell(summarize(mine.map((t) => t.systemMicrosPerDatagram)))} | ${drops} | ` +
        `${replies.toFixed(3)} | ${otherLoad} |`,
    );
  }
  return lines.join('\n');
}

function renderGoodput(trials: readonly GoodputTrial[], opts: Options): string {
  const lines = [
    `Good client during a flood (64 B echo requests, one in flight, ${opts.floodMs} ms per run), median of ${opts.trials} [min–max]:`,
    '',
    '| flood | flood rate offered | flood sent/s | good client requests/s | p99 ms | max ms |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const rows: { kind: GarbageClass | null; rate: number }[] = [{ kind: null, rate: 0 }];
  for (const rate of opts.floodRates) for (const kind of GARBAGE_CLASSES) rows.push({ kind, rate });
  for (const row of rows) {
    const mine = trials.filter((t) => t.kind === row.kind && (row.kind === null || t.floodRate === row.rate));
    if (mine.length === 0) continue;
    lines.push(
      `| ${row.kind === null ? 'none' : GARBAGE_TITLES[row.kind]} | ${row.kind === null ? '—' : row.rate === 0 ? 'full' : `${row.rate}/s`} | ` +
        `${row.kind === null ? '—' : cell(summarize(mine.map((t) => t.floodSentPerSecond)), 0)} | ` +
        `${cell(summarize(mine.map((t) => t.client.requestsPerSecond)), 0)} | ` +
        `${cell(spread(mine.map((t) => t.client.p99Ms)), 2)} | ${cell(spread(mine.map((t) => t.client.maxMs)), 1)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const machine = describeMachine();
  const cpuTrials: CpuTrial[] = [];
  const goodputTrials: GoodputTrial[] = [];
  for (let trial = 1; trial <= opts.trials; trial++) {
    const server = await ServerChild.start();
    try {
      const idleRate = await idleMicrosPerMs(server);
      for (const kind of GARBAGE_CLASSES) {
        const t = await measureCpu(server, trial, kind, opts, idleRate);
        cpuTrials.push(t);
        process.stderr.write(
          `trial ${trial} ${kind}: ${t.microsPerDatagram.toFixed(1)} µs/datagram (${t.sent} sent, ` +
            `${t.kernelDrops} dropped by the kernel, ${t.replies} replies, ` +
            `others used ${t.otherBusy === null ? '?' : (t.otherBusy * 100).toFixed(0)}% of the CPUs)\n`,
        );
      }
      if (opts.goodput) {
        const runs: [GarbageClass | null, number][] = [[null, 0]];
        for (const rate of opts.floodRates) for (const kind of GARBAGE_CLASSES) runs.push([kind, rate]);
        for (const [kind, rate] of runs) {
          const t = await measureGoodput(server, trial, kind, rate, opts);
          goodputTrials.push(t);
          process.stderr.write(
            `trial ${trial} good client, flood ${kind ?? 'none'} at ${rate === 0 ? 'full rate' : `${rate}/s`}: ` +
              `${t.client.requestsPerSecond.toFixed(0)} req/s (flood ${t.floodSentPerSecond.toFixed(0)}/s)\n`,
          );
        }
      }
    } finally {
      await server.stop();
    }
  }
  // The raw trials first: a report that fails to render must not lose them.
  if (opts.json !== undefined) {
    writeFileSync(opts.json, JSON.stringify({ machine, options: opts, cpuTrials, goodputTrials }, null, 2));
  }
  console.log(
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}\n`,
  );
  console.log(renderCpu(cpuTrials, opts));
  if (opts.goodput) console.log(`\n${renderGoodput(goodputTrials, opts)}`);
}

await main();
