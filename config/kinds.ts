import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import { certificateFileProblem } from './certificate-file.js';
import {
  BYTE_SUFFIX_NAMES,
  formatBytes,
  formatBytesCompact,
  parseByteSize,
  parseDecimalInteger,
} from './units.js';

export type KindName =
  | 'integer'
  | 'byte size'
  | 'duration'
  | 'boolean'
  | 'enum'
  | 'string'
  | 'bind address'
  | 'file path'
  | 'certificate file';

/**
 * How one kind of value is read and shown. `parse` receives whatever a source holds: always a string
 * from the environment, a string/number/boolean from YAML, and a typed value or a string from options.
 */
export interface Kind<T> {
  readonly name: KindName;
  /** The accepted value, or undefined when `raw` is not acceptable. */
  parse(raw: unknown): T | undefined;
  /**
   * Why `raw`, which parse refused, is not acceptable, when `allowed` alone would not tell (a file that
   * exists but does not hold what it must); undefined when `allowed` says it all.
   */
  refusal?(raw: unknown): string | undefined;
  /** What is accepted, in words, with units: the tail of every error message and the docs' "allowed" line. */
  readonly allowed: string;
  /** The same in a few words, for the docs' overview table. */
  readonly summary: string;
  /** Inclusive bounds of the numeric kinds, in the kind's own unit. */
  readonly range?: NumericRange;
  /** For start-up logs and docs. */
  format(value: T): string;
  /** The value as written in a YAML file; undefined for "unset", which a file cannot express. */
  toYaml(value: T): string | number | boolean | undefined;
}

export interface NumericRange {
  readonly min: number;
  readonly max: number;
  /** The meaning of 0 when 0 is a switch rather than a quantity, e.g. "disables the timeout". */
  readonly zeroMeans?: string;
}

function inRange(value: number | undefined, range: NumericRange): number | undefined {
  return value !== undefined && value >= range.min && value <= range.max ? value : undefined;
}

function zeroNote(range: NumericRange): string {
  return range.zeroMeans === undefined ? '' : `; 0 ${range.zeroMeans}`;
}

/**
 * A number comes typed from options, or from YAML, which hands on as numbers only those written as decimal
 * digits (yaml-file.ts); either is accepted when it is an exact integer.
 */
function integerFrom(raw: unknown, parseText: (text: string) => number | undefined): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw === 'string') return parseText(raw);
  return undefined;
}

export function integerKind(range: NumericRange & { readonly unit: string }): Kind<number> {
  return {
    name: 'integer',
    range,
    parse: (raw) => inRange(integerFrom(raw, parseDecimalInteger), range),
    allowed: `an integer from ${range.min} to ${range.max} (${range.unit})${zeroNote(range)}`,
    summary: `${range.min} – ${range.max} ${range.unit}`,
    format: (value) => String(value),
    toYaml: (value) => value,
  };
}

export function byteSizeKind(range: NumericRange): Kind<number> {
  return {
    name: 'byte size',
    range,
    parse: (raw) => inRange(integerFrom(raw, parseByteSize), range),
    allowed:
      `a byte size from ${formatBytes(range.min)} to ${formatBytes(range.max)}, written as a number of ` +
      `bytes or with a suffix ${BYTE_SUFFIX_NAMES.join(', ')} (e.g. 64KiB)${zeroNote(range)}`,
    summary: `${formatBytes(range.min)} – ${formatBytes(range.max)}`,
    format: formatBytes,
    toYaml: (value) => (value % 1024 === 0 ? formatBytesCompact(value) : value),
  };
}

export type DurationUnit = 'ms' | 'us';

const DURATION_WORDS: Record<DurationUnit, { readonly plural: string; readonly symbol: string }> = {
  ms: { plural: 'milliseconds', symbol: 'ms' },
  us: { plural: 'microseconds', symbol: 'µs' },
};

export function durationKind(unit: DurationUnit, range: NumericRange): Kind<number> {
  const words = DURATION_WORDS[unit];
  return {
    name: 'duration',
    range,
    parse: (raw) => inRange(integerFrom(raw, parseDecimalInteger), range),
    allowed: `an integer number of ${words.plural} from ${range.min} to ${range.max}${zeroNote(range)}`,
    summary: `${range.min} – ${range.max} ${words.symbol}`,
    format: (value) => `${value} ${words.symbol}`,
    toYaml: (value) => value,
  };
}

const BOOLEAN_SPELLINGS: ReadonlyMap<unknown, boolean> = new Map<unknown, boolean>([
  [true, true],
  [false, false],
  [1, true],
  [0, false],
  ['1', true],
  ['0', false],
  ['true', true],
  ['false', false],
]);

/** Only 1/0/true/false: "yes", "on" or "TRUE" read as false by Felix's parser would be a silent fallback. */
export const booleanKind: Kind<boolean> = {
  name: 'boolean',
  parse: (raw) => BOOLEAN_SPELLINGS.get(raw),
  allowed: '1, 0, true or false',
  summary: '1, 0, true, false',
  format: (value) => String(value),
  toYaml: (value) => value,
};

export function enumKind<const V extends readonly string[]>(values: V): Kind<V[number]> {
  return {
    name: 'enum',
    parse: (raw) => (typeof raw === 'string' && values.includes(raw) ? raw : undefined),
    allowed: `one of ${values.join(', ')}`,
    summary: values.join(', '),
    format: (value) => value,
    toYaml: (value) => value,
  };
}

/** A free-form string that may be left unset (null). */
export function stringKind(pattern: RegExp, describe: string): Kind<string | null> {
  return {
    name: 'string',
    parse: (raw) => (typeof raw === 'string' && pattern.test(raw) ? raw : undefined),
    allowed: describe,
    summary: describe,
    format: (value) => value ?? 'unset',
    toYaml: (value) => value ?? undefined,
  };
}

export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

const BIND_PATTERN = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;
/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
export const HOSTNAME_PATTERN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function isHost(host: string, bracketed: boolean): boolean {
  if (bracketed) return isIP(host) === 6;
  // All-digit dotted names such as 999.1.1.1 satisfy the hostname grammar but are mistyped IPv4.
  if (/^[\d.]+$/.test(host)) return isIP(host) === 4;
  return HOSTNAME_PATTERN.test(host);
}

export function parseBindAddress(text: string): BindAddress | undefined {
  const match = BIND_PATTERN.exec(text);
  if (match === null) return undefined;
  const [, bracketedHost, plainHost, portText] = match;
  const host = bracketedHost ?? plainHost;
  const port = Number(portText);
  if (!isHost(host, bracketedHost !== undefined) || port > 65_535) return undefined;
  return Object.freeze({ host, port });
}

export function formatBindAddress(address: BindAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function bindAddressFrom(raw: unknown): BindAddress | undefined {
  if (typeof raw === 'string') return parseBindAddress(raw);
  // Options may pass the typed form; round-tripping through text applies the same checks.
  if (typeof raw === 'object' && raw !== null && 'host' in raw && 'port' in raw) {
    const { host, port } = raw as { host: unknown; port: unknown };
    if (typeof host === 'string' && typeof port === 'number' && Number.isInteger(port)) {
      return parseBindAddress(formatBindAddress({ host, port }));
    }
  }
  return undefined;
}

export const bindAddressKind: Kind<BindAddress> = {
  name: 'bind address',
  parse: bindAddressFrom,
  allowed: 'host:port, e.g. 0.0.0.0:5000, 127.0.0.1:0 or [::1]:5000 (port 0 picks a free port)',
  summary: 'host:port',
  format: formatBindAddress,
  toYaml: formatBindAddress,
};

function isExistingFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isExistingPath(raw: unknown): raw is string {
  return typeof raw === 'string' && raw !== '' && isExistingFile(raw);
}

/** A path that may be left unset (null); when set, the file must exist now rather than fail later. */
export const filePathKind: Kind<string | null> = {
  name: 'file path',
  parse: (raw) => (isExistingPath(raw) ? raw : undefined),
  allowed: 'the path of an existing file (relative paths start from the working directory)',
  summary: 'path of an existing file',
  format: (value) => value ?? 'unset',
  toYaml: (value) => value ?? undefined,
};

/**
 * Like filePathKind, and the file must hold PEM certificates that parse, checked when the setting is read:
 * a CA file that is not one is a configuration error naming the setting, not a failed TLS handshake later.
 */
export const certificateFileKind: Kind<string | null> = {
  name: 'certificate file',
  parse: (raw) => (isExistingPath(raw) && certificateFileProblem(raw) === undefined ? raw : undefined),
  refusal: (raw) => (isExistingPath(raw) ? certificateFileProblem(raw) : undefined),
  allowed:
    'the path of an existing file of PEM certificates (-----BEGIN CERTIFICATE----- blocks; relative paths ' +
    'start from the working directory)',
  summary: 'path of a PEM certificate file',
  format: (value) => value ?? 'unset',
  toYaml: (value) => value ?? undefined,
};
