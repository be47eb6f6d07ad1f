// presets.yml / fast.yml: what the latency matrix runs. Read with `yaml`, then checked key by key, so a
// typo fails at once with the file and the key named instead of hours later as a missing chart.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parse } from 'yaml';
import { catalogue } from '../../config/catalogue.js';
import { PROFILES } from '../../config/setting.js';
import { UsageError } from './cli.js';
import { FilterSyntaxError, parseFilter } from './filters.js';
import { REPO_ROOT } from './paths.js';

export const SHARDING_MODES = ['hash_stream', 'rr'] as const;
export type Sharding = (typeof SHARDING_MODES)[number];

/** How the publisher spreads its load, as Felix's presets: connections × streams per connection. */
export interface PublisherPreset {
  readonly pub_conns: number;
  readonly pub_streams_per_conn: number;
  readonly pub_sharding: Sharding;
  /** How many broker streams the messages are spread over; with hash_stream one stream pins one worker. */
  readonly pub_stream_count: number;
  readonly sub_conns?: number;
}

export interface WorkloadGrid {
  readonly fanout: readonly number[];
  readonly batch: readonly number[];
  readonly payload_bytes: readonly number[];
  readonly warmup: number;
  /** A floor: batched runs are lengthened to min_run_bytes (see matrix.ts). */
  readonly total: number;
  readonly binary: readonly boolean[];
  readonly min_run_bytes: number;
  readonly max_total: number;
}

export interface PerfConfig {
  /** The file it came from, relative to the repository, for messages and records. */
  readonly source: string;
  readonly trials: number;
  readonly workload: WorkloadGrid;
  /** Profile name → FELIX_* environment of the latencydemo process (and so of the broker it spawns). */
  readonly profiles: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** In chart order. */
  readonly presets: Readonly<Record<string, PublisherPreset>>;
  /** Filters (filters.ts syntax) the matrix is restricted to; empty: the whole grid. */
  readonly only: readonly string[];
  readonly chart_outlier_cap_percentile: number;
  /** A run still going after this long is killed and recorded as failed. */
  readonly run_timeout_s: number;
}

/** A usage error: runIfMain prints its message (file and key named) and exits 2. */
export class PerfConfigError extends UsageError {
  override readonly name = 'PerfConfigError';
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

type Raw = Record<string, unknown>;

/** Checks one parsed document; every message starts with the file and the dotted key at fault. */
class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, message: string): never {
    throw new PerfConfigError(`${this.source}: ${path}: ${message}`);
  }

  object(value: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Raw {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, `expected a mapping, got ${describe(value)}`);
    }
    const raw = value as Raw;
    const known = [...required, ...optional];
    for (const key of Object.keys(raw)) {
      if (!known.includes(key)) this.fail(join(path, key), `unknown key (known: ${known.join(', ')})`);
    }
    for (const key of required) {
      if (!(key in raw)) this.fail(join(path, key), 'missing');
    }
    return raw;
  }

  /** A mapping whose keys are names the user chose (profiles, presets): checked, order kept. */
  namedEntries(value: unknown, path: string): [string, unknown][] {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, `expected a mapping, got ${describe(value)}`);
    }
    const entries = Object.entries(value as Raw);
    if (entries.length === 0) this.fail(path, 'must name at least one entry');
    for (const [name] of entries) {
      if (!NAME_PATTERN.test(name)) {
        this.fail(join(path, name), 'names may use letters, digits, "_" and "-" (they become file names)');
      }
    }
    return entries;
  }

  integer(value: unknown, path: string, min: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.fail(path, `expected an integer ≥ ${min}, got ${describe(value)}`);
    }
    return value;
  }

  integerList(value: unknown, path: string, min: number): number[] {
    const list = this.nonEmptyList(value, path);
    return list.map((item, i) => this.integer(item, `${path}[${i}]`, min));
  }

  /** `true`, `false` or a list of them: which encodings to run. */
  booleanList(value: unknown, path: string): boolean[] {
    const list = typeof value === 'boolean' ? [value] : this.nonEmptyList(value, path);
    return list.map((item, i) => {
      if (typeof item !== 'boolean')
        this.fail(`${path}[${i}]`, `expected true or false, got ${describe(item)}`);
      return item;
    });
  }

  fraction(value: unknown, path: string): number {
    if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
      this.fail(path, `expected a number in (0, 1], got ${describe(value)}`);
    }
    return value;
  }

  private nonEmptyList(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value) || value.length === 0)
      this.fail(path, `expected a non-empty list, got ${describe(value)}`);
    return value;
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}

function checkWorkload(check: Checker, value: unknown): WorkloadGrid {
  const keys = [
    'fanout',
    'batch',
    'payload_bytes',
    'warmup',
    'total',
    'binary',
    'min_run_bytes',
    'max_total',
  ];
  const raw = check.object(value, 'workload', keys);
  const workload: WorkloadGrid = {
    fanout: check.integerList(raw.fanout, 'workload.fanout', 1),
    batch: check.integerList(raw.batch, 'workload.batch', 1),
    payload_bytes: check.integerList(raw.payload_bytes, 'workload.payload_bytes', 0),
    warmup: check.integer(raw.warmup, 'workload.warmup', 0),
    total: check.integer(raw.total, 'workload.total', 1),
    binary: check.booleanList(raw.binary, 'workload.binary'),
    min_run_bytes: check.integer(raw.min_run_bytes, 'workload.min_run_bytes', 0),
    max_total: check.integer(raw.max_total, 'workload.max_total', 1),
  };
  if (workload.max_total < workload.total) {
    check.fail('workload.max_total', `${workload.max_total} is below workload.total (${workload.total})`);
  }
  return workload;
}

function checkProfileEnv(check: Checker, value: unknown, path: string): Record<string, string> {
  const raw = check.object(value, path, ['env']);
  const envPath = `${path}.env`;
  const env: Record<string, string> = {};
  for (const [name, setting] of check.namedEntries(raw.env, envPath)) {
    if (!catalogue.knownEnvNames.has(name))
      check.fail(join(envPath, name), 'not a FELIX_* setting felix-ts knows');
    if (!['string', 'number', 'boolean'].includes(typeof setting)) {
      check.fail(join(envPath, name), `expected a scalar, got ${describe(setting)}`);
    }
    env[name] = String(setting);
  }
  const profile = env.FELIX_PROFILE;
  if (profile !== undefined && !(PROFILES as readonly string[]).includes(profile)) {
    check.fail(join(envPath, 'FELIX_PROFILE'), `"${profile}" is not one of ${PROFILES.join(', ')}`);
  }
  return env;
}

function checkPreset(check: Checker, value: unknown, path: string): PublisherPreset {
  const raw = check.object(
    value,
    path,
    ['pub_conns', 'pub_streams_per_conn', 'pub_sharding', 'pub_stream_count'],
    ['sub_conns'],
  );
  const sharding = raw.pub_sharding;
  if (!(SHARDING_MODES as readonly unknown[]).includes(sharding)) {
    check.fail(
      `${path}.pub_sharding`,
      `expected one of ${SHARDING_MODES.join(', ')}, got ${describe(sharding)}`,
    );
  }
  return {
    pub_conns: check.integer(raw.pub_conns, `${path}.pub_conns`, 1),
    pub_streams_per_conn: check.integer(raw.pub_streams_per_conn, `${path}.pub_streams_per_conn`, 1),
    pub_sharding: sharding as Sharding,
    pub_stream_count: check.integer(raw.pub_stream_count, `${path}.pub_stream_count`, 1),
    ...(raw.sub_conns === undefined
      ? {}
      : { sub_conns: check.integer(raw.sub_conns, `${path}.sub_conns`, 1) }),
  };
}

function checkOnly(check: Checker, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) check.fail('only', `expected a list of filters, got ${describe(value)}`);
  return value.map((item, i) => {
    if (typeof item !== 'string') check.fail(`only[${i}]`, `expected a filter string, got ${describe(item)}`);
    try {
      parseFilter(item);
    } catch (error) {
      if (error instanceof FilterSyntaxError) check.fail(`only[${i}]`, error.message);
      throw error;
    }
    return item;
  });
}

/** Validates a parsed document; `source` names it in every error. */
export function checkPerfConfig(document: unknown, source: string): PerfConfig {
  const check = new Checker(source);
  const raw = check.object(
    document,
    '',
    ['defaults', 'workload', 'profiles', 'presets', 'chart_outlier_cap_percentile'],
    ['only', 'run_timeout_s'],
  );
  const defaults = check.object(raw.defaults, 'defaults', ['trials']);
  const profiles = Object.fromEntries(
    check
      .namedEntries(raw.profiles, 'profiles')
      .map(([name, v]) => [name, checkProfileEnv(check, v, `profiles.${name}`)]),
  );
  const presets = Object.fromEntries(
    check
      .namedEntries(raw.presets, 'presets')
      .map(([name, v]) => [name, checkPreset(check, v, `presets.${name}`)]),
  );
  return {
    source,
    trials: check.integer(defaults.trials, 'defaults.trials', 1),
    workload: checkWorkload(check, raw.workload),
    profiles,
    presets,
    only: checkOnly(check, raw.only),
    chart_outlier_cap_percentile: check.fraction(
      raw.chart_outlier_cap_percentile,
      'chart_outlier_cap_percentile',
    ),
    run_timeout_s:
      raw.run_timeout_s === undefined ? 600 : check.integer(raw.run_timeout_s, 'run_timeout_s', 1),
  };
}

export function parsePerfConfig(text: string, source: string): PerfConfig {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new PerfConfigError(`${source}: not valid YAML: ${(error as Error).message}`);
  }
  return checkPerfConfig(document, source);
}

export function loadPerfConfig(path: string): PerfConfig {
  const inRepository = relative(REPO_ROOT, path);
  const source = inRepository.startsWith('..') || inRepository === '' ? path : inRepository;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PerfConfigError(`${source}: cannot read: ${(error as Error).message}`);
  }
  return parsePerfConfig(text, source);
}
