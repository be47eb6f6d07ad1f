import { ConfigError, showValue } from './errors.js';
import { MAX_NAME_BYTES } from './shared-settings.js';
import type { Section } from './side.js';
import { didYouMean, suggestNames } from './suggest.js';

export interface NamespaceDeclaration {
  readonly name: string;
  readonly streams: readonly string[];
  readonly caches: readonly string[];
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
        Record<string, { readonly streams?: readonly string[]; readonly caches?: readonly string[] }>
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

/** Checks the block's shape level by level, naming the path (tenants.acme.namespaces…) of what is wrong. */
class Walker {
  constructor(private readonly where: string) {}

  fail(path: string, problem: string, value?: unknown): never {
    throw new ConfigError(`Invalid tenants (${this.where}): ${path} ${problem}.`, {
      setting: 'tenants',
      value,
    });
  }

  mapping(raw: unknown, path: string, allowedFields?: readonly string[]): Record<string, unknown> {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      this.fail(path, `must be a mapping, got ${showValue(raw)}`, raw);
    }
    const record = raw as Record<string, unknown>;
    for (const field of Object.keys(record)) {
      if (allowedFields !== undefined && !allowedFields.includes(field)) {
        this.fail(path, `has an unknown field ${field}.${didYouMean(suggestNames(field, allowedFields))}`);
      }
    }
    return record;
  }

  name(raw: string, path: string): string {
    if (!isValidName(raw)) {
      this.fail(path, `is not a valid name (${JSON.stringify(raw)}); allowed: ${NAME_RULE}`, raw);
    }
    return raw;
  }

  names(raw: unknown, path: string): readonly string[] {
    if (raw === undefined) return Object.freeze([]);
    if (!Array.isArray(raw)) this.fail(path, `must be a list of names, got ${showValue(raw)}`, raw);
    const seen = new Set<string>();
    for (const [index, item] of raw.entries()) {
      const itemPath = `${path}[${index}]`;
      if (typeof item !== 'string') this.fail(itemPath, `must be a name, got ${showValue(item)}`, item);
      const name = this.name(item, itemPath);
      if (seen.has(name)) this.fail(path, `lists ${name} twice`, name);
      seen.add(name);
    }
    return Object.freeze([...seen]);
  }
}

function parseNamespace(walker: Walker, name: string, raw: unknown, path: string): NamespaceDeclaration {
  const fields = walker.mapping(raw, path, ['streams', 'caches']);
  const streams = walker.names(fields.streams, `${path}.streams`);
  const caches = walker.names(fields.caches, `${path}.caches`);
  if (streams.length === 0 && caches.length === 0) walker.fail(path, 'declares no streams and no caches');
  return Object.freeze({ name: walker.name(name, path), streams, caches });
}

function parseTenant(walker: Walker, id: string, raw: unknown, path: string): TenantDeclaration {
  const namespacesPath = `${path}.namespaces`;
  const fields = walker.mapping(raw, path, ['namespaces']);
  const declared = Object.entries(walker.mapping(fields.namespaces, namespacesPath));
  if (declared.length === 0) walker.fail(namespacesPath, 'declares no namespace');
  const namespaces = declared.map(([name, ns]) =>
    parseNamespace(walker, name, ns, `${namespacesPath}.${name}`),
  );
  return Object.freeze({ id: walker.name(id, path), namespaces: Object.freeze(namespaces) });
}

function parseTenants(raw: unknown, where: string): readonly TenantDeclaration[] {
  const walker = new Walker(where);
  const tenants = Object.entries(walker.mapping(raw, 'tenants'));
  return Object.freeze(tenants.map(([id, tenant]) => parseTenant(walker, id, tenant, `tenants.${id}`)));
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
    'them; there is no environment variable for this block.',
  example: [
    'tenants:',
    '  acme:',
    '    namespaces:',
    '      orders:',
    '        streams: [created, shipped]',
    '        caches: [sessions]',
    '      billing:',
    '        streams: [invoices]',
  ].join('\n'),
  parse: parseTenants,
  format: describeTenants,
};
