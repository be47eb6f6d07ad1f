/**
 * The benchmark's settings: Felix's FELIX_CACHE_BENCH_* variables (services/broker/src/bin/cachedemo.rs),
 * each with a matching flag that wins over it. Unlike Felix, a bad value stops the demo with a message
 * naming the variable or flag, instead of quietly falling back to the default (felix-ts' rule for every
 * setting), a bad variable even when its flag is given. Defaults differ from Felix where noted:
 * concurrency 32 (Felix: 1), and more warm-up and samples (Felix: 200 / 2000), because V8 compiles the hot
 * path only after a few thousand calls.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { CACHE_BENCH_ENV_NAMES } from '../config/catalogue.js';
import { booleanKind } from '../config/kinds.js';

export type BenchOp = 'put' | 'get_hit' | 'get_miss';
export const BENCH_OPS: readonly BenchOp[] = ['put', 'get_hit', 'get_miss'];

export interface BenchSettings {
  readonly warmup: number;
  /** Operations measured per op and payload; ignored when durationMs is set (never both given). */
  readonly samples: number;
  /** felix-ts extension: measure for this long instead of a number of samples. */
  readonly durationMs: number | null;
  readonly payloads: readonly number[];
  /** TTL of every put (prepopulation and the put benchmark); null: no expiry. */
  readonly ttlMs: number | null;
  readonly concurrency: number;
  readonly keys: number;
  readonly ops: readonly BenchOp[];
  /** Compare every get_hit value with the payload stored under its key. */
  readonly validateEach: boolean;
  /** Print how many requests went out on each cache connection. */
  readonly connStats: boolean;
  /** Felix's per-stage timings; felix-ts has none, the flag only says so. */
  readonly timings: boolean;
  /**
   * felix-ts extension (--rate, flag only): measure in an open loop, starting this many operations a second
   * evenly spaced whatever is still in flight, latency from each one's scheduled start; null: the closed
   * loop (--concurrency in flight). Warm-up stays closed-loop.
   */
  readonly rate: number | null;
}

interface SettingSpec<K extends keyof BenchSettings> {
  readonly key: K;
  /** Listed in config/catalogue.ts, so the client's loader does not warn about it. */
  readonly env: (typeof CACHE_BENCH_ENV_NAMES)[number];
  readonly flag: string;
  readonly help: string;
  readonly default: BenchSettings[K];
  readonly parse: (text: string) => BenchSettings[K];
}

const spec = <K extends keyof BenchSettings>(s: SettingSpec<K>): SettingSpec<keyof BenchSettings> =>
  s as unknown as SettingSpec<keyof BenchSettings>;

const MAX_COUNT = 1_000_000_000;
const MAX_PAYLOAD = 64 * 1024 * 1024;

const SPECS: readonly SettingSpec<keyof BenchSettings>[] = [
  spec({
    key: 'warmup',
    env: 'FELIX_CACHE_BENCH_WARMUP',
    flag: '--warmup <n>',
    help: 'unmeasured operations before each measurement',
    default: 10_000,
    parse: (t) => count(t, 0),
  }),
  spec({
    key: 'samples',
    env: 'FELIX_CACHE_BENCH_SAMPLES',
    flag: '--samples <n>',
    help: 'measured operations per op and payload',
    default: 20_000,
    parse: (t) => count(t, 1),
  }),
  spec({
    key: 'durationMs',
    env: 'FELIX_CACHE_BENCH_DURATION_MS',
    flag: '--duration-ms <ms>',
    help: 'measure each op and payload for this long instead of --samples',
    default: null,
    parse: (t) => count(t, 1),
  }),
  spec({
    key: 'payloads',
    env: 'FELIX_CACHE_BENCH_PAYLOADS',
    flag: '--payloads <list>',
    help: 'value sizes in bytes, comma-separated',
    default: [0, 64, 256, 1024, 4096],
    parse: (t) => list(t, (part) => count(part, 0, MAX_PAYLOAD)),
  }),
  spec({
    key: 'ttlMs',
    env: 'FELIX_CACHE_BENCH_TTL_MS',
    flag: '--ttl-ms <ms>',
    help: 'TTL of every put; unset: no expiry',
    default: null,
    parse: (t) => count(t, 1),
  }),
  spec({
    key: 'concurrency',
    env: 'FELIX_CACHE_BENCH_CONCURRENCY',
    flag: '--concurrency <n>',
    help: 'requests kept in flight',
    default: 32,
    parse: (t) => count(t, 1, 1_000_000),
  }),
  spec({
    key: 'keys',
    env: 'FELIX_CACHE_BENCH_KEYS',
    flag: '--keys <n>',
    help: 'distinct keys per op and payload',
    default: 1024,
    parse: (t) => count(t, 1, 10_000_000),
  }),
  spec({
    key: 'ops',
    env: 'FELIX_CACHE_BENCH_OPS',
    flag: '--ops <list>',
    help: `operations, comma-separated: ${BENCH_OPS.join(', ')}`,
    default: BENCH_OPS,
    parse: (t) => list(t, op),
  }),
  spec({
    key: 'validateEach',
    env: 'FELIX_CACHE_BENCH_VALIDATE_EACH',
    flag: '--validate-each',
    help: 'check every get_hit value byte for byte',
    default: false,
    parse: bool,
  }),
  spec({
    key: 'connStats',
    env: 'FELIX_CACHE_BENCH_CONN_STATS',
    flag: '--conn-stats',
    help: 'print requests sent per cache connection',
    default: false,
    parse: bool,
  }),
  spec({
    key: 'timings',
    env: 'FELIX_CACHE_BENCH_TIMINGS',
    flag: '--timings',
    help: "Felix's per-stage timings (not collected by felix-ts)",
    default: false,
    parse: bool,
  }),
];

/** `; default …` for --help, or nothing for a default that is absence (null) or off (false). */
function defaultText(value: BenchSettings[keyof BenchSettings]): string {
  if (value === null || value === false) return '';
  return `; default ${Array.isArray(value) ? value.join(',') : String(value)}`;
}

/** Every FELIX_CACHE_BENCH_* name the demo reads. */
export const benchEnvNames = (): string[] => SPECS.map((s) => s.env);

/** Each FELIX_CACHE_BENCH_* name with the flag that sets the same thing (`--concurrency`). */
export const benchEnvFlags = (): { readonly env: string; readonly flag: string }[] =>
  SPECS.map((s) => ({ env: s.env, flag: s.flag.split(' ')[0]! }));

const RATE_FLAG = '--rate';
const MAX_RATE = 10_000_000;

/** Adds one flag per setting to `command`. */
export function addBenchFlags(command: Command): Command {
  for (const s of SPECS) {
    const option = new Option(s.flag, `${s.help} (${s.env}${defaultText(s.default)})`);
    if (s.flag.includes('<')) option.argParser((text: string) => parseOrThrow(s, text, InvalidArgumentError));
    command.addOption(option);
  }
  command.addOption(
    new Option(
      `${RATE_FLAG} <ops/s>`,
      'open loop: start this many operations a second, evenly spaced, whatever is in flight; latency ' +
        'counts from each scheduled start (replaces --concurrency while measuring)',
    ).argParser((text: string) => {
      try {
        return count(text, 1, MAX_RATE);
      } catch (error) {
        throw new InvalidArgumentError(
          `invalid ${RATE_FLAG}=${JSON.stringify(text)}: ${(error as Error).message}`,
        );
      }
    }),
  );
  return command;
}

/**
 * The settings `args` (cachedemo's flags, as a script hands them on) give with no variable set, or the
 * message cachedemo would refuse them with: a script checks its workload before it starts anything.
 */
export function benchArgsProblem(args: readonly string[]): string | undefined {
  const command = addBenchFlags(new Command('cachedemo'))
    .option('--json')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  try {
    command.parse([...args], { from: 'user' });
    resolveBenchSettings({}, command.opts());
    return undefined;
  } catch (error) {
    if (error instanceof CommanderError || error instanceof BenchSettingError) return error.message;
    throw error;
  }
}

/**
 * Defaults < environment < flags (commander's parsed options, already validated). A variable is checked
 * even when its flag wins, as every FELIX_* setting is (docs/configuration.md: every layer is validated):
 * a malformed one is a mistake in the environment that the next run without the flag would meet.
 */
export function resolveBenchSettings(
  env: Readonly<Record<string, string | undefined>>,
  flags: Readonly<Record<string, unknown>>,
): BenchSettings {
  const fromEnv: Record<string, unknown> = {};
  for (const s of SPECS) {
    const text = env[s.env];
    // An empty value is a bad value, not "use the default" (docs/configuration.md), as for every FELIX_*.
    if (text !== undefined) fromEnv[s.key] = parseOrThrow(s, text, BenchSettingError, s.env);
  }
  const settings: Record<string, unknown> = {};
  for (const s of SPECS) settings[s.key] = flags[s.key] ?? fromEnv[s.key] ?? s.default;
  settings.durationMs = measuredFor(fromEnv, flags);
  settings.rate = typeof flags.rate === 'number' ? flags.rate : null;
  checkValidateEach(settings as unknown as BenchSettings, flags);
  return Object.freeze(settings) as unknown as BenchSettings;
}

/**
 * --validate-each compares get_hit values: without get_hit among the ops nothing is compared, and the
 * setting would be taken and do nothing (the run's report would not say so). Named as the layer gave it.
 */
function checkValidateEach(settings: BenchSettings, flags: Readonly<Record<string, unknown>>): void {
  if (!settings.validateEach || settings.ops.includes('get_hit')) return;
  const validate = flags.validateEach !== undefined ? '--validate-each' : 'FELIX_CACHE_BENCH_VALIDATE_EACH';
  const ops = flags.ops !== undefined ? '--ops' : 'FELIX_CACHE_BENCH_OPS';
  throw new BenchSettingError(
    `${validate} checks get_hit values, but ${ops} (${settings.ops.join(',')}) has no get_hit`,
  );
}

/**
 * --duration-ms replaces --samples: the two are one choice, how long each op is measured. The layer that
 * makes it (flags over the environment) makes it whole, so a flag's --samples is not dropped for a
 * variable's duration, and a layer that sets both contradicts itself (latencydemo's --duration and --total
 * alike). Returns the duration, or null to measure --samples.
 */
function measuredFor(
  fromEnv: Readonly<Record<string, unknown>>,
  flags: Readonly<Record<string, unknown>>,
): number | null {
  const layers = [
    [flags, '--duration-ms', '--samples'],
    [fromEnv, 'FELIX_CACHE_BENCH_DURATION_MS', 'FELIX_CACHE_BENCH_SAMPLES'],
  ] as const;
  // Every layer is checked, the one a higher layer replaces included, as every value is.
  for (const [layer, durationName, samplesName] of layers) {
    if (layer.durationMs !== undefined && layer.samples !== undefined) {
      throw new BenchSettingError(
        `${durationName} and ${samplesName} exclude each other (${durationName} measures for a time ` +
          `instead of a number of samples)`,
      );
    }
  }
  const choice = layers.find(([layer]) => layer.durationMs !== undefined || layer.samples !== undefined);
  return (choice?.[0].durationMs as number | undefined) ?? null;
}

/** A bad FELIX_CACHE_BENCH_* value. */
export class BenchSettingError extends Error {
  override readonly name = 'BenchSettingError';
}

function parseOrThrow(
  s: SettingSpec<keyof BenchSettings>,
  text: string,
  ErrorType: new (message: string) => Error,
  source = s.flag.split(' ')[0]!,
): unknown {
  try {
    return s.parse(text);
  } catch (error) {
    throw new ErrorType(`invalid ${source}=${JSON.stringify(text)}: ${(error as Error).message}`);
  }
}

function count(text: string, min: number, max = MAX_COUNT): number {
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`expected an integer from ${min} to ${max}`);
  }
  return value;
}

function list<T>(text: string, item: (part: string) => T): T[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw new Error('expected a comma-separated list without empty items');
  return [...new Set(parts)].map(item);
}

function op(text: string): BenchOp {
  if ((BENCH_OPS as readonly string[]).includes(text)) return text as BenchOp;
  throw new Error(`expected ${BENCH_OPS.join(', ')}`);
}

function bool(text: string): boolean {
  // Felix reads "1" or "true" (any case) as on and anything else as off, so `yes` would silently be off:
  // the settings' own boolean kind (1, 0, true, false) refuses what it does not know instead.
  const value = booleanKind.parse(text);
  if (value === undefined) throw new Error(`expected ${booleanKind.allowed}`);
  return value;
}
