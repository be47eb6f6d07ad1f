/**
 * The slow-consumer demo's flags. A value that does not parse is an error, never replaced by the default.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { brokerArgument } from '../cli/connection-flags.js';
import { addVersionFlag } from '../config/cli-flags.js';

export const POLICIES = ['block', 'drop_new', 'drop_old'] as const;
export type Policy = (typeof POLICIES)[number];

export interface DemoRequest {
  /** Events per second the publisher aims at. */
  readonly rate: number;
  readonly payloadBytes: number;
  /** Seconds of publishing per run, after the warm-up. */
  readonly durationS: number;
  /** Seconds of publishing before latencies are recorded. */
  readonly warmupS: number;
  /** Fast subscribers. */
  readonly concurrency: number;
  /** What the slow subscriber spends on each event, ± jitter; Infinity: it never reads (stalled). */
  readonly slowMs: number;
  readonly jitterMs: number;
  /** The slow client's own receive windows (stream; its connection gets four times as much). */
  readonly slowRecvWindow: number;
  /** Policies to run, each against a broker of its own; empty with --broker. */
  readonly policies: readonly Policy[];
  /** Also run once without the slow subscriber, the fast subscribers' baseline. */
  readonly baseline: boolean;
  /** host:port of a running broker (its own policy applies); undefined: spawn one per run. */
  readonly broker: string | undefined;
  readonly stream: string;
  readonly json: boolean;
  /** Internal (a child of the demo): make only this run and print its result as JSON (see isolated.ts). */
  readonly onlyRun: Policy | 'baseline' | undefined;
}

function number(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) {
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
}

const integer = (min: number, max: number) => (text: string) => {
  const value = number(min, max)(text);
  if (!Number.isInteger(value)) throw new InvalidArgumentError(`expected an integer, got "${text}"`);
  return value;
};

function policyList(text: string): Policy[] {
  const names = text.split(',').map((p) => p.trim());
  for (const name of names) {
    if (!(POLICIES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`expected policies from ${POLICIES.join(', ')}, got "${name}"`);
    }
  }
  return names as Policy[];
}

interface RawOptions {
  rate: number;
  payloadBytes: number;
  duration: number;
  warmup: number;
  concurrency: number;
  slowMs: number;
  jitterMs: number;
  stall?: boolean;
  slowRecvWindow: number;
  policies: Policy[];
  baseline: boolean;
  broker?: string;
  stream: string;
  json?: boolean;
  onlyRun?: Policy | 'baseline';
}

export function buildProgram(): Command {
  return addVersionFlag(new Command('slowdemo'))
    .description(
      'A publisher at a fixed rate, fast subscribers and one slow one; run once per broker queue policy ' +
        '(each on a broker of its own, default profile) and once without the slow subscriber, printing ' +
        'what each client saw.',
    )
    .addOption(
      new Option('--rate <n>', 'events per second published')
        .argParser(integer(1, 1_000_000))
        .default(20_000),
    )
    .addOption(new Option('--payload-bytes <n>', 'event size').argParser(integer(16, 1 << 20)).default(256))
    .addOption(
      new Option('--duration <s>', 'seconds of publishing per run').argParser(number(1, 3600)).default(10),
    )
    .addOption(
      new Option('--warmup <s>', 'seconds published first, not measured')
        .argParser(number(0, 600))
        .default(2),
    )
    .addOption(new Option('--concurrency <n>', 'fast subscribers').argParser(integer(1, 1000)).default(2))
    .addOption(
      new Option('--slow-ms <ms>', 'time the slow subscriber spends per event')
        .argParser(number(0, 60_000))
        .default(5),
    )
    .addOption(
      new Option('--jitter-ms <ms>', 'random ± added to --slow-ms').argParser(number(0, 60_000)).default(2),
    )
    .addOption(
      // A subscriber that never reads spends no time per event: --slow-ms and --jitter-ms would be dropped.
      new Option('--stall', 'the slow subscriber never reads at all').conflicts(['slowMs', 'jitterMs']),
    )
    .addOption(
      new Option('--slow-recv-window <bytes>', "the slow client's stream receive window (its connection: 4×)")
        .argParser(integer(1024, 1 << 30))
        .default(256 * 1024),
    )
    .addOption(
      // A --broker keeps its own policy (one run): the list would be dropped.
      new Option('--policies <list>', 'broker queue policies to run, comma-separated; not with --broker')
        .argParser(policyList)
        .default([...POLICIES])
        .conflicts('broker'),
    )
    .addOption(new Option('--no-baseline', 'skip the run without the slow subscriber'))
    .addOption(
      new Option(
        '--broker <host:port>',
        'use this running broker instead (one run, its own policy)',
      ).argParser(brokerArgument),
    )
    .addOption(new Option('--stream <name>', 'stream to publish on').default('slowdemo'))
    .addOption(new Option('--json', 'print the results as JSON'))
    .addOption(
      new Option('--only-run <label>', 'internal: one run in this process, its result as JSON')
        .choices(['baseline', ...POLICIES])
        .hideHelp(),
    )
    .exitOverride();
}

export function parseCommandLine(args: readonly string[]): DemoRequest {
  const program = buildProgram();
  program.parse([...args], { from: 'user' });
  const o = program.opts<RawOptions>();
  return {
    rate: o.rate,
    payloadBytes: o.payloadBytes,
    durationS: o.duration,
    warmupS: o.warmup,
    concurrency: o.concurrency,
    slowMs: o.stall === true ? Number.POSITIVE_INFINITY : o.slowMs,
    jitterMs: o.jitterMs,
    slowRecvWindow: o.slowRecvWindow,
    policies: o.broker === undefined ? o.policies : [],
    baseline: o.baseline,
    broker: o.broker,
    stream: o.stream,
    json: o.json === true,
    onlyRun: o.onlyRun,
  };
}
