import { isValidName, NAME_RULE } from '../../config/tenants.js';
import type { TenantDeclaration } from '../config.js';
import type { HopTimings } from './hop-timings.js';
import type { PublishBudget } from './publish-budget.js';
import type { StorageProvider, StreamStorage } from './stream-storage.js';
import type { BrokerStats } from './stats.js';
import { Topic, type BatchingOptions } from './topic.js';

export type Lookup<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly code: 'not_found' | 'invalid_request' | 'storage_error';
      readonly message: string;
    };

export interface RegistryOptions {
  readonly autoCreate: boolean;
  readonly tenants: readonly TenantDeclaration[];
  readonly replayCapacity: number;
  readonly batching: BatchingOptions;
  /** Opens the durable log of the streams that have one (broker/storage/); null: every stream in memory. */
  readonly storage?: StorageProvider | null;
}

/**
 * tenant → namespace → stream. With auto-create on, a stream exists once named; with it off, only what
 * the YAML declared exists and anything else gets Felix's "not found" errors.
 */
export class TopicRegistry {
  private readonly topics = new Map<string, Topic>();
  private readonly declaredStreams = new Set<string>();
  private readonly declaredCaches = new Set<string>();
  private readonly declaredTenants = new Set<string>();
  private readonly declaredNamespaces = new Set<string>();

  constructor(
    private readonly options: RegistryOptions,
    private readonly stats: BrokerStats,
    private readonly schedule: (t: Topic) => void,
    private readonly budget: PublishBudget,
    private readonly timings: HopTimings | null,
  ) {
    for (const t of options.tenants) {
      this.declaredTenants.add(t.id);
      for (const ns of t.namespaces) {
        this.declaredNamespaces.add(`${t.id}\u0000${ns.name}`);
        for (const s of ns.streams) this.declaredStreams.add(key(t.id, ns.name, s));
        for (const c of ns.caches) this.declaredCaches.add(key(t.id, ns.name, c));
      }
    }
  }

  get all(): IterableIterator<Topic> {
    return this.topics.values();
  }

  /** The topic, creating it when allowed. Hot path: one Map lookup once it exists. */
  topic(tenant: string, namespace: string, stream: string): Lookup<Topic> {
    const k = key(tenant, namespace, stream);
    const existing = this.topics.get(k);
    if (existing !== undefined) return { ok: true, value: existing };
    if (!this.options.autoCreate && !this.declaredStreams.has(k)) {
      return { ok: false, code: 'not_found', message: this.missing(tenant, namespace, `stream ${stream}`) };
    }
    const bad = badName(tenant, namespace, 'stream', stream);
    if (bad !== undefined) return bad;
    let storage: StreamStorage | null = null;
    try {
      storage = this.options.storage?.open(tenant, namespace, stream) ?? null;
    } catch (err) {
      return {
        ok: false,
        code: 'storage_error',
        message: `cannot open the durable log of stream ${stream}: ${(err as Error).message}`,
      };
    }
    const created = new Topic(
      tenant,
      namespace,
      stream,
      this.options.replayCapacity,
      this.options.batching,
      this.stats,
      this.schedule,
      this.budget,
      this.timings,
      storage,
    );
    this.topics.set(k, created);
    return { ok: true, value: created };
  }

  /** Whether a cache may be used (it exists once named when auto-create is on). */
  cacheAllowed(tenant: string, namespace: string, cache: string): Lookup<true> {
    if (this.declaredCaches.has(key(tenant, namespace, cache))) return { ok: true, value: true };
    if (!this.options.autoCreate) {
      return { ok: false, code: 'not_found', message: this.missing(tenant, namespace, `cache ${cache}`) };
    }
    return badName(tenant, namespace, 'cache', cache) ?? { ok: true, value: true };
  }

  private missing(tenant: string, namespace: string, what: string): string {
    // Felix's wording, most specific level first.
    if (!this.declaredTenants.has(tenant)) return 'tenant not found';
    if (!this.declaredNamespaces.has(`${tenant}\u0000${namespace}`)) return 'namespace not found';
    return `${what.split(' ')[0]} not found`;
  }
}

/** A refusal when a name of the address breaks the name rules (checked before anything is created). */
function badName(
  tenant: string,
  namespace: string,
  kind: 'stream' | 'cache',
  name: string,
): { ok: false; code: 'invalid_request'; message: string } | undefined {
  const parts: [string, string][] = [
    ['tenant', tenant],
    ['namespace', namespace],
    [kind, name],
  ];
  for (const [what, value] of parts) {
    if (!isValidName(value)) {
      const shown = JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
      return { ok: false, code: 'invalid_request', message: `invalid ${what} name ${shown}: ${NAME_RULE}` };
    }
  }
  return undefined;
}

function key(tenant: string, namespace: string, name: string): string {
  return `${tenant}\u0000${namespace}\u0000${name}`;
}
