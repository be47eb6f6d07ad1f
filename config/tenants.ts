import { ConfigError, showValue } from './errors.js';
import { MAX_NAME_BYTES } from './shared-settings.js';
import type { Section } from './side.js';
import { didYouMean, suggestNames } from './suggest.js';
import { parseByteSize, parseDecimalInteger } from './units.js';

/** A durable stream's own retention (each unset: the FELIX_DURABLE_RETENTION_* default). */
export interface DurableStreamDeclaration {
  readonly bytes?: number;
  readonly ms?: number;
}

export interface NamespaceDeclaration {
  readonly name: string;
  readonly streams: readonly string[];
  readonly caches: readonly string[];
  /** The streams declared `durable: true`, by name, with their retention overrides (absent when none). */
  readonly durable?: Readonly<Record<string, DurableStreamDeclaration>>;
}

/** A stream listed with options instead of by name alone. */
export interface StreamEntryInput {
  readonly name: string;
  readonly durable?: boolean;
  readonly retention_bytes?: number | string;
  readonly retention_ms?: number | string;
}

export interface TenantDeclaration {
  readonly id: string;
  readonly namespaces: readonly NamespaceDeclaration[];
}

/** The YAML shape, also accepted as an explicit option. */
export type TenantsInput = Readonly<
  Record<
    string,
    {
      readonly namespaces: Readonly<
        Record<
          string,
          { readonly streams?: readonly (string | StreamEntryInput)[]; readonly caches?: readonly string[] }
        >
      >;
    }
  >
>;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** The rule every tenant, namespace, stream and cache name follows, in words. */
export const NAME_RULE = `letters, digits, '.', '_' and '-', starting with a letter or digit, at most ${MAX_NAME_BYTES} bytes`;

/** Whether `name` follows NAME_RULE: the YAML block and auto-creation on the wire apply the same rule. */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && Buffer.byteLength(name) <= MAX_NAME_BYTES;
}

/** Where in the block: keys, and list indexes (`['tenants', 'acme', 'namespaces', 'orders', 'streams', 0]`). */
type Path = readonly (string | number)[];

/** The path as the operator reads it: tenants.acme.namespaces.orders.streams[0]. */
function shown(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Checks the block's shape level by level, naming the path (tenants.acme.namespaces…) of what is wrong. */
class Walker {
  constructor(
    private readonly where: string,
    /** Where a path is in the source (its own line of the YAML file), when the source can tell. */
    private readonly whereIs?: (path: Path) => string,
  ) {}

  /** Throws the ConfigError for `problem` at `path`; `at`: where it is, when not at `path` itself. */
  fail(path: Path, problem: string, value?: unknown, at: Path = path): never {
    const where = this.whereIs?.(at.slice(1)) ?? this.where;
    const end = /[.?]$/.test(problem) ? '' : '.';
    throw new ConfigError(`Invalid tenants (${where}): ${shown(path)} ${problem}${end}`, {
      setting: 'tenants',
      value,
    });
  }

  mapping(raw: unknown, path: Path, allowedFields?: readonly string[]): Record<string, unknown> {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      this.fail(path, `must be a mapping, got ${showValue(raw)}`, raw);
    }
    const record = raw as Record<string, unknown>;
    for (const field of Object.keys(record)) {
      if (allowedFields !== undefined && !allowedFields.includes(field)) {
        this.fail(
          path,
          `has an unknown field ${field}.${didYouMean(suggestNames(field, allowedFields))}`,
          undefined,
          [...path, field],
        );
      }
    }
    return record;
  }

  name(raw: string, path: Path): string {
    if (!isValidName(raw)) {
      this.fail(path, `is not a valid name (${JSON.stringify(raw)}); allowed: ${NAME_RULE}`, raw);
    }
    return raw;
  }

  names(raw: unknown, path: Path): readonly string[] {
    if (raw === undefined) return Object.freeze([]);
    if (!Array.isArray(raw)) this.fail(path, `must be a list of names, got ${showValue(raw)}`, raw);
    const seen = new Set<string>();
    for (const [index, item] of raw.entries()) {
      const itemPath = [...path, index];
      if (typeof item !== 'string') this.fail(itemPath, `must be a name, got ${showValue(item)}`, item);
      const name = this.name(item, itemPath);
      if (seen.has(name)) this.fail(path, `lists ${name} twice`, name, itemPath);
      seen.add(name);
    }
    return Object.freeze([...seen]);
  }
}

const STREAM_ENTRY_FIELDS = ['name', 'durable', 'retention_bytes', 'retention_ms'];

/**
 * The streams list: each item a name, or a mapping `{name, durable, retention_bytes, retention_ms}` for a
 * stream with options. Returns the plain list of names (as a list of names alone would) and the durable ones.
 */
function parseStreams(
  walker: Walker,
  raw: unknown,
  path: Path,
): { names: readonly string[]; durable: Readonly<Record<string, DurableStreamDeclaration>> } {
  if (!Array.isArray(raw)) return { names: walker.names(raw, path), durable: Object.freeze({}) };
  const names: unknown[] = [];
  const durable: Record<string, DurableStreamDeclaration> = {};
  for (const [index, item] of raw.entries()) {
    if (typeof item !== 'object' || item === null) {
      names.push(item);
      continue;
    }
    const itemPath = [...path, index];
    const fields = walker.mapping(item, itemPath, STREAM_ENTRY_FIELDS);
    if (typeof fields.name !== 'string')
      walker.fail([...itemPath, 'name'], `must be a name, got ${showValue(fields.name)}`);
    names.push(fields.name);
    if (fields.durable !== undefined && typeof fields.durable !== 'boolean') {
      walker.fail(
        [...itemPath, 'durable'],
        `must be true or false, got ${showValue(fields.durable)}`,
        fields.durable,
      );
    }
    const bytes = retentionValue(walker, fields.retention_bytes, [...itemPath, 'retention_bytes'], {
      parse: parseByteSize,
      what: 'a byte size: a whole number of bytes, or one with B, KiB, MiB, GiB or TiB (10GiB)',
    });
    const ms = retentionValue(walker, fields.retention_ms, [...itemPath, 'retention_ms'], {
      parse: parseDecimalInteger,
      what: 'a whole number of milliseconds',
    });
    if (fields.durable !== true) {
      if (bytes !== undefined || ms !== undefined)
        walker.fail(itemPath, 'sets a retention but is not durable: true');
      continue;
    }
    durable[fields.name] = Object.freeze({
      ...(bytes !== undefined && { bytes }),
      ...(ms !== undefined && { ms }),
    });
  }
  return { names: walker.names(names, path), durable: Object.freeze(durable) };
}

function retentionValue(
  walker: Walker,
  raw: unknown,
  path: Path,
  unit: { readonly parse: (text: string) => number | undefined; readonly what: string },
): number | undefined {
  if (raw === undefined) return undefined;
  const value =
    typeof raw === 'number'
      ? Number.isSafeInteger(raw) && raw >= 0
        ? raw
        : undefined
      : typeof raw === 'string'
        ? unit.parse(raw)
        : undefined;
  if (value === undefined) walker.fail(path, `must be ${unit.what}, got ${showValue(raw)}`, raw);
  return value;
}

function parseNamespace(walker: Walker, name: string, raw: unknown, path: Path): NamespaceDeclaration {
  const fields = walker.mapping(raw, path, ['streams', 'caches']);
  const { names: streams, durable } = parseStreams(walker, fields.streams, [...path, 'streams']);
  const caches = walker.names(fields.caches, [...path, 'caches']);
  if (streams.length === 0 && caches.length === 0) walker.fail(path, 'declares no streams and no caches');
  const declared = Object.keys(durable).length > 0 ? { durable } : {};
  return Object.freeze({ name: walker.name(name, path), streams, caches, ...declared });
}

function parseTenant(walker: Walker, id: string, raw: unknown, path: Path): TenantDeclaration {
  const namespacesPath = [...path, 'namespaces'];
  const fields = walker.mapping(raw, path, ['namespaces']);
  const declared = Object.entries(walker.mapping(fields.namespaces, namespacesPath));
  if (declared.length === 0) walker.fail(namespacesPath, 'declares no namespace');
  const namespaces = declared.map(([name, ns]) =>
    parseNamespace(walker, name, ns, [...namespacesPath, name]),
  );
  return Object.freeze({ id: walker.name(id, path), namespaces: Object.freeze(namespaces) });
}

function parseTenants(
  raw: unknown,
  where: string,
  whereIs?: (path: Path) => string,
): readonly TenantDeclaration[] {
  const walker = new Walker(where, whereIs);
  const tenants = Object.entries(walker.mapping(raw, ['tenants']));
  return Object.freeze(tenants.map(([id, tenant]) => parseTenant(walker, id, tenant, ['tenants', id])));
}

function describeTenants(tenants: readonly TenantDeclaration[]): string {
  if (tenants.length === 0) return 'none';
  const namespaces = tenants.flatMap((tenant) => tenant.namespaces);
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  return [
    count(tenants.length, 'tenant'),
    count(namespaces.length, 'namespace'),
    count(
      namespaces.reduce((sum, ns) => sum + ns.streams.length, 0),
      'stream',
    ),
    count(
      namespaces.reduce((sum, ns) => sum + ns.caches.length, 0),
      'cache',
    ),
  ].join(', ');
}

export const tenantsSection: Section<readonly TenantDeclaration[], TenantsInput> = {
  yamlKey: 'tenants',
  default: Object.freeze([]),
  doc:
    'The tenants, namespaces, streams and caches the broker serves from start-up. With ' +
    'FELIX_AUTO_CREATE_STREAMS=0 they are the only ones it serves: a publish, subscribe or cache request ' +
    'naming anything else is refused. With auto-creation on they are created up front and others are ' +
    `added on first use. Names use ${NAME_RULE}. Only the YAML file (or an explicit option) can declare ` +
    'them; there is no environment variable for this block. A stream may be listed as a mapping ' +
    '`{name, durable: true, retention_bytes, retention_ms}` to keep it on disk (FELIX_DURABLE_STORAGE_DIR) ' +
    'with its own retention (otherwise FELIX_DURABLE_RETENTION_BYTES / _MS).',
  example: [
    'tenants:',
    '  acme:',
    '    namespaces:',
    '      orders:',
    '        streams: [created, shipped]',
    '        caches: [sessions]',
    '      audit:',
    '        streams:',
    '          - { name: events, durable: true, retention_bytes: 10GiB, retention_ms: 2592000000 }',
    '      billing:',
    '        streams: [invoices]',
  ].join('\n'),
  parse: parseTenants,
  format: describeTenants,
};
