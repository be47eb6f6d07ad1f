/**
 * Felix's latency-demo flags, parsed with commander. Unlike Felix, a value that does not parse is an error
 * rather than silently replaced by the default. Defaults are Felix's, except where this module says why not.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { brokerArgument } from '../cli/connection-flags.js';
import { addVersionFlag } from '../config/cli-flags.js';
import type { CasePlanRequest, CaseSettings, RunMode, Sharding } from './cases.js';
import { usesAcks } from './publisher.js';
import { eventBytes } from './stamp.js';

/**
 * Defaults that come from the client settings in effect (FELIX_* environment, FELIX_CLIENT_CONFIG), so a
 * flag wins over the environment and the environment over Felix's demo defaults.
 */
export interface SettingDefaults {
  readonly pubConns: number;
  readonly pubStreamsPerConn: number;
  readonly pubSharding: Sharding;
  readonly subConns: number;
  /** The largest message this client sends (FELIX_MAX_FRAME_BYTES less the envelope's reserve). */
  readonly largestMessageBytes: number;
}

export interface DemoRequest extends CasePlanRequest {
  readonly json: boolean;
  readonly progress: boolean;
  /** host:port of a running broker; undefined: spawn one per case. */
  readonly broker: string | undefined;
  /** Extra Node flags for every spawned broker process. */
  readonly brokerNodeFlags: readonly string[];
}

// Felix's defaults for a single case; --matrix and --all change warmup and total as Felix does.
const FELIX_DEFAULTS = { warmup: 1000, total: 10000, payload: 0, fanout: 1, batch: 1, idleMs: 2000 };
const MATRIX_DEFAULTS = { warmup: 200, total: 2000, payloads: [0, 256, 1024, 4096], fanouts: [1, 10, 100] };

function integer(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
}

function integerList(min: number): (text: string) => number[] {
  const one = integer(min);
  return (text) => {
    const values = text
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map(one);
    if (values.length === 0) throw new InvalidArgumentError('expected a comma-separated list of integers');
    return values;
  };
}

/** A positive number of seconds (fractions allowed), at most an hour. */
function seconds(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0) || value > 3600) {
    throw new InvalidArgumentError(`expected seconds above 0 and at most 3600, got "${text}"`);
  }
  return value;
}

interface RawOptions {
  warmup?: number;
  total?: number;
  payload?: number;
  fanout?: number;
  batch?: number;
  binary?: boolean;
  idleMs?: number;
  pubConns?: number;
  pubStreamsPerConn?: number;
  pubSharding?: Sharding;
  pubStreamCount?: number;
  subConns?: number;
  pubWindow?: number;
  rate?: number;
  duration?: number;
  all?: boolean;
  matrix?: boolean;
  payloads?: number[];
  fanouts?: number[];
  broker?: string;
  brokerNodeFlags?: string;
  json?: boolean;
  progress?: boolean;
}

export function buildProgram(): Command {
  return addVersionFlag(new Command('latencydemo'))
    .description(
      'felix-ts pub/sub latency and throughput demo (Felix latency-demo): publisher and subscribers in this ' +
        'process, the broker in its own process',
    )
    .option(
      '--warmup <n>',
      'messages published and drained before the clock starts (default 1000; with --rate, at most one ' +
        "second's worth)",
      integer(0),
    )
    .option('--total <n>', 'measured messages (default 10000)', integer(1))
    .option('--payload <bytes>', 'bytes after the 16-byte timestamp header (default 0)', integer(0))
    .option('--fanout <n>', 'subscribers per stream (default 1)', integer(1))
    .option(
      '--batch <n>',
      'messages per publish batch; also FELIX_FANOUT_BATCH (default 1)',
      integer(1, 65536),
    )
    .option(
      '--binary',
      // The SDK sends binary batches whenever the broker offers them: only the ack mode is left to choose.
      'Felix binary publish mode: unacknowledged publishes even at batch 1 (above batch 1 it changes ' +
        'nothing: batches are unacknowledged binary batches either way; recorded in the report)',
    )
    .option(
      '--idle-ms <ms>',
      'silence after which missing deliveries are given up (default 2000)',
      integer(1),
    )
    .option('--pub-conns <n>', 'publish connections (default FELIX_PUB_CONN_POOL, 4)', integer(1, 256))
    .option(
      '--pub-streams-per-conn <n>',
      'publish streams per connection (default FELIX_PUB_STREAMS_PER_CONN, 2)',
      integer(1, 1024),
    )
    .addOption(
      new Option(
        '--pub-sharding <mode>',
        'publish stream choice (default FELIX_PUB_SHARDING, hash_stream)',
      ).choices(['hash_stream', 'rr']),
    )
    .option('--pub-stream-count <n>', 'streams published to, in rotation (default 1)', integer(1, 4096))
    .option(
      '--sub-conns <n>',
      'event connections for the subscribers (default FELIX_SUB_CONNS, 1)',
      integer(1, 256),
    )
    .option(
      '--pub-window <batches>',
      'unacknowledged batches in flight until delivered to every subscriber; 0: unbounded ' +
        '(default: as many as hold 1 MiB per subscriber, 2 to 16); not in the acked mode (batch 1 without ' +
        '--binary), where each publish awaits its ack',
      integer(0),
    )
    .option(
      '--rate <msgs/s>',
      'open loop: publish this many messages a second, evenly spaced, one unacknowledged publish each; ' +
        "latency counts from each message's scheduled send time (not in Felix)",
      integer(1, 10_000_000),
    )
    .option(
      '--duration <s>',
      'with --rate: measure for this long (--total = rate × duration; warmup: --warmup messages first)',
      seconds,
    )
    .option(
      '--all',
      "Felix's full sweep: latency cases, throughput cases, publisher scaling; it sets each case's payload, " +
        "fanout, batch, warmup and total (not with those flags) and the scaling cases' publish pools",
    )
    .option('--matrix', 'every --payloads × --fanouts case (warmup 200, total 2000 unless given)')
    .option('--payloads <csv>', '--matrix payloads (default 0,256,1024,4096)', integerList(0))
    .option('--fanouts <csv>', '--matrix fanouts (default 1,10,100)', integerList(1))
    .option('--broker <addr>', 'use the broker at host:port instead of spawning one per case', brokerArgument)
    .addOption(
      // A --broker is not spawned here, so it could not take them: saying so beats ignoring the flag.
      new Option(
        '--broker-node-flags <flags>',
        "extra Node flags for each spawned broker, e.g. '--cpu-prof --cpu-prof-dir=prof'",
      ).conflicts('broker'),
    )
    .option('--json', 'print one JSON object on stdout instead of the text report')
    .option('--progress', 'show the progress line on stderr even when it is not a terminal')
    .exitOverride();
}

/** The flags as given, checked against each other but not yet against the settings in effect. */
export interface ParsedFlags {
  readonly program: Command;
  readonly options: RawOptions;
}

/**
 * Parses user arguments (without node and script). Throws commander's CommanderError on a bad flag, and for
 * --help and --version once they are answered: before any setting is read, so a bad FELIX_* variable
 * cannot stop them.
 */
export function parseFlags(args: readonly string[]): ParsedFlags {
  const program = buildProgram();
  program.parse([...args], { from: 'user' });
  const o = program.opts<RawOptions>();
  if (o.all === true && o.matrix === true) program.error('--all and --matrix exclude each other');
  checkMatrixFlags(program, o);
  checkAllFlags(program, o);
  checkOpenLoopFlags(program, o);
  checkPubWindow(program, o);
  return { program, options: o };
}

/** parseFlags, then demoRequest. */
export function parseCommandLine(args: readonly string[], defaults: SettingDefaults): DemoRequest {
  return demoRequest(parseFlags(args), defaults);
}

/** The run the flags ask for, with what they leave out from `defaults` (the client settings in effect). */
export function demoRequest(flags: ParsedFlags, defaults: SettingDefaults): DemoRequest {
  const { program, options: o } = flags;
  // Felix runs --all when no flag is given; its own docs call that bare command a single run, which is
  // what a bare `npm run demo:latency` should be on a shared two-core machine. --all is explicit here.
  const mode: RunMode = o.all === true ? 'all' : o.matrix === true ? 'matrix' : 'single';
  const sized = mode === 'matrix' ? MATRIX_DEFAULTS : FELIX_DEFAULTS;
  checkPayloads(program, o, defaults.largestMessageBytes);
  const base: CaseSettings = {
    // The open loop paces its warmup too: 1000 messages at --rate 10 would be 100 s before measuring.
    warmup: o.warmup ?? (o.rate === undefined ? sized.warmup : Math.min(sized.warmup, Math.ceil(o.rate))),
    total:
      o.rate !== undefined && o.duration !== undefined
        ? Math.max(1, Math.round(o.rate * o.duration))
        : (o.total ?? sized.total),
    payload: o.payload ?? FELIX_DEFAULTS.payload,
    fanout: o.fanout ?? FELIX_DEFAULTS.fanout,
    batch: o.batch ?? FELIX_DEFAULTS.batch,
    binary: o.binary === true,
    idleMs: o.idleMs ?? FELIX_DEFAULTS.idleMs,
    pubConns: o.pubConns ?? defaults.pubConns,
    pubStreamsPerConn: o.pubStreamsPerConn ?? defaults.pubStreamsPerConn,
    pubSharding: o.pubSharding ?? defaults.pubSharding,
    pubStreamCount: o.pubStreamCount ?? 1,
    subConns: o.subConns ?? defaults.subConns,
    pubWindow: o.pubWindow,
    rate: o.rate,
  };
  return {
    mode,
    base,
    payloads: o.payloads ?? MATRIX_DEFAULTS.payloads,
    fanouts: o.fanouts ?? MATRIX_DEFAULTS.fanouts,
    json: o.json === true,
    progress: o.progress === true,
    broker: o.broker,
    brokerNodeFlags: o.brokerNodeFlags?.split(/\s+/).filter((flag) => flag !== '') ?? [],
  };
}

/** Every event (the 16-byte header and the payload) must be a message the broker can take. */
function checkPayloads(program: Command, o: RawOptions, largest: number): void {
  for (const payload of [o.payload, ...(o.payloads ?? [])]) {
    if (payload !== undefined && eventBytes(payload) > largest) {
      program.error(
        `--payload ${payload}: with the 16-byte header the event is larger than the largest message, ` +
          `${largest} bytes (FELIX_MAX_FRAME_BYTES less 1 KiB): at most ${largest - eventBytes(0)}`,
      );
    }
  }
}

/**
 * --payloads and --fanouts list the cases of --matrix, which takes each case's payload and fanout from them:
 * a flag the chosen mode does not read would otherwise be dropped without a word (Felix's way, not this
 * demo's), as --duration is refused without --rate.
 */
function checkMatrixFlags(program: Command, o: RawOptions): void {
  const lists = [
    ['--payloads', o.payloads, '--payload', o.payload],
    ['--fanouts', o.fanouts, '--fanout', o.fanout],
  ] as const;
  for (const [listFlag, list, singleFlag, single] of lists) {
    if (o.matrix !== true && list !== undefined) {
      program.error(`${listFlag} needs --matrix (it lists the matrix's ${listFlag.slice(2)})`);
    }
    if (o.matrix === true && single !== undefined) {
      program.error(`${singleFlag} and --matrix exclude each other (--matrix takes ${listFlag})`);
    }
  }
}

/**
 * --all is Felix's fixed sweep: every case's payload, fanout, batch, warmup and total are its own
 * (cases.ts), so one of those flags would be dropped without a word (Felix's run_all ignores them) and the
 * sweep read as if it had measured it. The other flags apply to every case, but the scaling cases, which
 * compare 1 × 1 with 4 × 2 publish connections × streams (their names say so), set their own pool.
 */
function checkAllFlags(program: Command, o: RawOptions): void {
  if (o.all !== true) return;
  const fixed = [
    ['--payload', o.payload],
    ['--fanout', o.fanout],
    ['--batch', o.batch],
    ['--warmup', o.warmup],
    ['--total', o.total],
  ] as const;
  for (const [flag, value] of fixed) {
    if (value !== undefined) {
      program.error(
        `${flag} and --all exclude each other (--all sets each case's payload, fanout, batch, warmup ` +
          'and total)',
      );
    }
  }
}

/**
 * The open loop publishes single unacknowledged messages on a schedule: the closed loop's batch, ack and
 * window flags have no meaning there, and saying so beats ignoring them. (The broker's own batching is
 * FELIX_FANOUT_BATCH, left as configured in the open loop.)
 */
function checkOpenLoopFlags(program: Command, o: RawOptions): void {
  if (o.rate === undefined) {
    if (o.duration !== undefined) program.error('--duration needs --rate (the open loop)');
    return;
  }
  if (o.duration !== undefined && o.total !== undefined) {
    program.error('--duration and --total exclude each other (--total = rate × duration)');
  }
  // The achieved rate is (measured − 1) over the span of their sends: one message has none.
  const measured =
    o.duration !== undefined && o.rate !== undefined ? Math.round(o.rate * o.duration) : o.total;
  if (measured !== undefined && measured < 2) {
    program.error(
      '--rate measures at least 2 messages (--total, or rate × --duration rounded), to have a rate',
    );
  }
  if (o.all === true) program.error('--rate and --all exclude each other');
  if (o.batch !== undefined && o.batch !== 1) {
    program.error('--rate publishes one message at a time: --batch does not apply (set FELIX_FANOUT_BATCH)');
  }
  if (o.binary === true) program.error('--rate publishes unacknowledged messages already: drop --binary');
  if (o.pubWindow !== undefined) program.error('--rate bounds nothing in flight: drop --pub-window');
}

/**
 * --pub-window bounds unacknowledged batches in flight. In the acked mode (batch 1 without --binary, which
 * --matrix keeps for every case) each publish awaits its ack before the next goes out, so no window
 * applies: the flag would be accepted and change nothing but the queue bound the demo gives its broker.
 * --all has cases of both kinds (its latency cases are the acked mode), and the report gives each case's
 * window (null in the acked mode). The open loop refuses it already.
 */
function checkPubWindow(program: Command, o: RawOptions): void {
  if (o.pubWindow === undefined || o.all === true || o.rate !== undefined) return;
  if (usesAcks({ batch: o.batch ?? FELIX_DEFAULTS.batch, binary: o.binary === true })) {
    program.error(
      '--pub-window bounds unacknowledged batches: at batch 1 without --binary each publish awaits its ack ' +
        '(give --batch above 1, or --binary)',
    );
  }
}
