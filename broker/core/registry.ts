import { performance } from 'node:perf_hooks';
import { quotedName, shownName } from '../../config/shown-name.js';
import { isValidName, NAME_RULE } from '../../config/tenants.js';
import type { TenantDeclaration } from '../config.js';
import { AutoStreams } from './auto-streams.js';
import type { HopTimings } from './hop-timings.js';
import type { ErrorSite } from './ports.js';
import type { PublishBudget } from './publish-budget.js';
import { StorageOpenError, type StorageProvider, type StreamStorage } from './stream-storage.js';
import type { BrokerStats } from './stats.js';
import { Topic, type BatchingOptions } from './topic.js';

export type Lookup<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly code: 'not_found' | 'invalid_request' | 'storage_error' | 'storage_full' | 'limit_exceeded';
      readonly message: string;
      /** A retry class other than the code's, and `detail` (a limit that frees itself). */
      readonly site?: ErrorSite;
    };

export interface RegistryOptions {
  readonly autoCreate: boolean;
  readonly tenants: readonly TenantDeclaration[];
  readonly replayCapacity: number;
  /** FELIX_STREAM_REPLAY_MAX_BYTES (default: no bound in bytes). */
  readonly replayMaxBytes?: number;
  readonly batching: BatchingOptions;
  /** Opens the durable log of the streams that have one (broker/storage/); null: every stream in memory. */
  readonly storage?: StorageProvider | null;
  /** FELIX_MAX_AUTO_STREAMS_PER_TENANT (default: no bound). */
  readonly maxAutoStreamsPerTenant?: number;
  /** FELIX_STREAM_IDLE_TIMEOUT_MS: idle auto-created in-memory streams are removed after it (0: never). */
  readonly idleTimeoutMs?: number;
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
  private readonly autoStreams: AutoStreams;

  constructor(
    private readonly options: RegistryOptions,
    private readonly stats: BrokerStats,
    private readonly schedule: (t: Topic) => void,
    private readonly budget: PublishBudget,
    private readonly timings: HopTimings | null,
  ) {
    this.autoStreams = new AutoStreams(
      options.idleTimeoutMs ?? 0,
      () => performance.now(),
      (k) => this.topics.delete(k),
    );
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
    // A name no stream can have is invalid_request whether or not auto-create is on (declared names are
    // checked when the configuration loads).
    const bad = badName(tenant, namespace, 'stream', stream);
    if (bad !== undefined) return bad;
    if (!this.options.autoCreate && !this.declaredStreams.has(k)) {
      return { ok: false, code: 'not_found', message: this.missing(tenant, namespace, `stream ${stream}`) };
    }
    const declared = this.declaredStreams.has(k);
    const autoCount = declared ? 0 : this.autoStreams.count(tenant);
    const maxAuto = this.options.maxAutoStreamsPerTenant ?? Infinity;
    if (!declared && autoCount >= maxAuto) {
      // `retry_after` when one of its streams is idle and will be removed, else limit_exceeded's `fatal`.
      const site = this.autoStreams.limitRefusal(tenant);
      return {
        ok: false,
        code: 'limit_exceeded',
        message: `tenant ${shownName(tenant)} already has ${autoCount} auto-created streams (FELIX_MAX_AUTO_STREAMS_PER_TENANT)`,
        ...(site === undefined ? {} : { site }),
      };
    }
    let storage: StreamStorage | null = null;
    try {
      storage = this.options.storage?.open(tenant, namespace, stream) ?? null;
    } catch (err) {
      return {
        ok: false,
        code: err instanceof StorageOpenError ? err.code : 'storage_error',
        message: `cannot open the durable log of stream ${shownName(stream)}: ${(err as Error).message}`,
      };
    }
    const created = new Topic(
      tenant,
      namespace,
      stream,
      {
        events: this.options.replayCapacity,
        bytes: this.options.replayMaxBytes ?? Number.POSITIVE_INFINITY,
      },
      this.options.batching,
      this.stats,
      this.schedule,
      this.budget,
      this.timings,
      storage,
    );
    this.topics.set(k, created);
    // Durable streams keep their history on disk: never removed for idleness.
    if (!declared) this.autoStreams.add(k, created, storage === null);
    return { ok: true, value: created };
  }

  /** Auto-created streams of `tenant` (for the limit). */
  autoCreatedStreams(tenant: string): number {
    return this.autoStreams.count(tenant);
  }

  /** How often sweepIdle is to be called (a tenth of FELIX_STREAM_IDLE_TIMEOUT_MS, 250 ms–5 s); 0: never. */
  get idleLookPeriodMs(): number {
    return this.autoStreams.lookPeriodMs;
  }

  /**
   * Removes auto-created in-memory streams that had no subscriber, nothing pending and no publish for
   * FELIX_STREAM_IDLE_TIMEOUT_MS (AutoStreams.look). Returns how many.
   */
  sweepIdle(): number {
    return this.autoStreams.look();
  }

  /** Whether a cache may be used (it exists once named when auto-create is on). */
  cacheAllowed(tenant: string, namespace: string, cache: string): Lookup<true> {
    if (this.declaredCaches.has(key(tenant, namespace, cache))) return { ok: true, value: true };
    const bad = badName(tenant, namespace, 'cache', cache);
    if (bad !== undefined) return bad;
    if (!this.options.autoCreate) {
      return { ok: false, code: 'not_found', message: this.missing(tenant, namespace, `cache ${cache}`) };
    }
    return { ok: true, value: true };
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
      const shown = quotedName(value);
      return { ok: false, code: 'invalid_request', message: `invalid ${what} name ${shown}: ${NAME_RULE}` };
    }
  }
  return undefined;
}

/** The refusal of a request naming another tenant than the one its stream authenticated as. */
export function tenantRefusal(authenticated: string, asked: string): string {
  return `stream authenticated for tenant ${shownName(authenticated)} may not use tenant ${shownName(asked)}`;
}

function key(tenant: string, namespace: string, name: string): string {
  return `${tenant}\u0000${namespace}\u0000${name}`;
}
