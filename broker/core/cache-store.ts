import { CACHE_ENTRY_OVERHEAD_BYTES } from '../../config/broker-settings.js';
import type { BrokerConfig } from '../config.js';
import { tenantRefusal, type TopicRegistry } from './registry.js';
import type { CacheRequest, CacheService, ReplyTarget } from './ports.js';

/** Bytes an entry costs beyond its key and value (config/broker-settings.ts says what and why). */
export const ENTRY_OVERHEAD_BYTES = CACHE_ENTRY_OVERHEAD_BYTES;

// Below this many nodes the expiry heap is never compacted: not worth a pass.
const HEAP_COMPACT_MIN = 1024;
const NO_VALUE = Buffer.alloc(0);

/**
 * One tenant's entries, newest first: eviction takes the oldest entries of the tenant holding the most
 * bytes (see evictOverBound).
 */
interface TenantEntries {
  readonly tenant: string;
  bytes: number;
  newest: Entry | null;
  oldest: Entry | null;
}

/** Evictions from one chosen tenant before the largest tenant is looked for again (a scan of them all). */
const EVICTIONS_PER_CHOICE = 64;

interface Entry {
  readonly key: string;
  readonly owner: TenantEntries;
  value: Buffer;
  /** performance.now() deadline, Infinity without TTL. */
  expiresAt: number;
  bytes: number;
  /** Bumped whenever the entry gets a deadline: only the heap node carrying the current one is live. */
  deadline: number;
  // Its tenant's LRU list: head is the most recently used.
  newer: Entry | null;
  older: Entry | null;
}

/**
 * The broker's key-value cache: tenant/namespace/cache/key → bytes, with optional TTL (lazy on read,
 * and actively swept with bounded work per tick), a byte bound FELIX_CACHE_MAX_BYTES enforced by LRU
 * eviction — from the tenant holding the most, so one tenant filling the cache evicts its own entries, not
 * other tenants' (a single tenant sees plain LRU) — and key/value size limits answered with error replies.
 */
export class CacheStore implements CacheService {
  private readonly entries = new Map<string, Entry>();
  /** Tenants holding entries (one gone with its last entry). */
  private readonly tenants = new Map<string, TenantEntries>();
  /** The tenant evictions take from, re-chosen every EVICTIONS_PER_CHOICE evictions. */
  private victim: TenantEntries | null = null;
  private evictionsFromVictim = 0;
  /** Min-heap of (deadline, entry) for active expiry; stale nodes are skipped when popped. */
  private readonly heapAt: number[] = [];
  private readonly heapEntry: Entry[] = [];
  private readonly heapDeadline: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  /**
   * The last cache a request was allowed to use, and its entries' key prefix: a client's requests mostly
   * name one cache, so the name checks and the prefix run once per change of cache, not per request.
   * Whether a cache may be used never changes while the broker runs (declared caches and
   * FELIX_AUTO_CREATE_STREAMS are read at start), so a remembered yes stays true.
   */
  private allowedTenant = '';
  private allowedNamespace = '';
  private allowedCache = '';
  private allowedPrefix: string | null = null;

  bytes = 0;
  hits = 0;
  misses = 0;
  puts = 0;
  deletes = 0;
  evictions = 0;
  expirations = 0;

  constructor(
    private readonly config: Pick<
      BrokerConfig,
      | 'cacheMaxBytes'
      | 'cacheMaxKeyBytes'
      | 'cacheMaxValueBytes'
      | 'cacheExpiryKeysPerTick'
      | 'cacheExpiryTickMs'
    >,
    private readonly registry: Pick<TopicRegistry, 'cacheAllowed'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Nodes in the expiry heap, stale ones included: at most twice the entries (or a small constant). */
  get expiryQueueLength(): number {
    return this.heapAt.length;
  }

  start(): void {
    this.timer = setInterval(
      () => this.expireSome(this.config.cacheExpiryKeysPerTick),
      this.config.cacheExpiryTickMs,
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  handle(m: CacheRequest, tenant: string, target: ReplyTarget): void {
    const requestId = m.request_id;
    if (m.tenant_id !== tenant) {
      target.sendError(tenantRefusal(tenant, m.tenant_id), 'forbidden', requestId);
      return;
    }
    let prefix = this.allowedPrefix;
    if (
      prefix === null ||
      m.cache !== this.allowedCache ||
      m.namespace !== this.allowedNamespace ||
      m.tenant_id !== this.allowedTenant
    ) {
      const allowed = this.registry.cacheAllowed(m.tenant_id, m.namespace, m.cache);
      if (!allowed.ok) {
        target.sendError(allowed.message, allowed.code, requestId);
        return;
      }
      prefix = `${m.tenant_id}\u0000${m.namespace}\u0000${m.cache}\u0000`;
      this.allowedTenant = m.tenant_id;
      this.allowedNamespace = m.namespace;
      this.allowedCache = m.cache;
      this.allowedPrefix = prefix;
    }
    if (m.key === '') {
      target.sendError(
        'invalid cache key "": a key is 1 or more bytes of UTF-8',
        'invalid_request',
        requestId,
      );
      return;
    }
    const keyBytes = Buffer.byteLength(m.key);
    if (keyBytes > this.config.cacheMaxKeyBytes) {
      target.sendError(
        `cache key is ${keyBytes} bytes; the limit is ${this.config.cacheMaxKeyBytes} (FELIX_CACHE_MAX_KEY_BYTES)`,
        'limit_exceeded',
        requestId,
      );
      return;
    }
    const fullKey = prefix + m.key;
    switch (m.type) {
      case 'cache_put': {
        if (m.value.length > this.config.cacheMaxValueBytes) {
          target.sendError(
            `cache value is ${m.value.length} bytes; the limit is ${this.config.cacheMaxValueBytes} (FELIX_CACHE_MAX_VALUE_BYTES)`,
            'limit_exceeded',
            requestId,
          );
          return;
        }
        this.put(fullKey, m.value, m.ttl_ms, tenant);
        target.sendCacheOk(requestId);
        return;
      }
      case 'cache_get': {
        target.sendCacheValue(m, this.get(fullKey));
        return;
      }
      case 'cache_delete': {
        target.sendCacheValue(m, this.delete(fullKey));
        return;
      }
    }
  }

  /** Stores a copy of `value` (received bytes are views of a reused buffer) as `tenant`'s. */
  put(key: string, value: Uint8Array, ttlMs: number | null, tenant = ''): void {
    this.puts++;
    const copy = Buffer.allocUnsafeSlow(value.length);
    copy.set(value);
    const expiresAt = ttlMs === null ? Infinity : this.now() + ttlMs;
    const bytes = Buffer.byteLength(key) + copy.length + ENTRY_OVERHEAD_BYTES;
    let entry = this.entries.get(key);
    if (entry !== undefined) {
      this.bytes += bytes - entry.bytes;
      entry.owner.bytes += bytes - entry.bytes;
      entry.value = copy;
      entry.expiresAt = expiresAt;
      entry.bytes = bytes;
      this.touch(entry);
    } else {
      let owner = this.tenants.get(tenant);
      if (owner === undefined) {
        owner = { tenant, bytes: 0, newest: null, oldest: null };
        this.tenants.set(tenant, owner);
      }
      entry = { key, owner, value: copy, expiresAt, bytes, deadline: 0, newer: null, older: null };
      this.entries.set(key, entry);
      this.bytes += bytes;
      owner.bytes += bytes;
      this.linkNewest(entry);
    }
    // Every put retires the heap node of the entry's previous deadline, a put without TTL included.
    entry.deadline++;
    if (expiresAt !== Infinity) this.heapPush(expiresAt, entry, entry.deadline);
    this.evictOverBound(entry);
    if (this.heapAt.length > HEAP_COMPACT_MIN && this.heapAt.length > 2 * this.entries.size)
      this.compactHeap();
  }

  get(key: string): Buffer | null {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return null;
    }
    // No clock read on the hot path for entries without a TTL.
    if (entry.expiresAt !== Infinity && entry.expiresAt <= this.now()) {
      this.remove(entry);
      this.expirations++;
      this.misses++;
      return null;
    }
    this.hits++;
    this.touch(entry);
    return entry.value;
  }

  delete(key: string): Buffer | null {
    const entry = this.entries.get(key);
    if (entry === undefined) return null;
    const value = entry.value;
    this.remove(entry);
    if (entry.expiresAt !== Infinity && entry.expiresAt <= this.now()) {
      this.expirations++;
      return null;
    }
    this.deletes++;
    return value;
  }

  /** Removes at most `budget` expired entries, soonest deadline first. */
  expireSome(budget: number): number {
    return this.expireDue(budget, -1);
  }

  /** Removes at most `budget` expired entries, soonest deadline first, while the cache holds over `bytesAbove`. */
  private expireDue(budget: number, bytesAbove: number): number {
    const now = this.now();
    let removed = 0;
    while (
      removed < budget &&
      this.bytes > bytesAbove &&
      this.heapAt.length !== 0 &&
      this.heapAt[0]! <= now
    ) {
      const live = this.isLive(0);
      const entry = this.heapPop();
      // Stale node: the entry was removed, replaced or given another deadline since.
      if (!live) continue;
      this.remove(entry);
      this.expirations++;
      removed++;
    }
    return removed;
  }

  /**
   * Evicts until the cache is within its bound, never `keep` (the entry just put): the oldest entries of
   * the tenant holding the most bytes, so that a tenant filling the cache pays with its own entries and a
   * tenant holding less than another keeps its own (max-min fair shares, as NATS account limits and
   * per-tenant quotas give, without reserving any tenant's part). The largest tenant is found by a scan
   * once per EVICTIONS_PER_CHOICE evictions, not per put; between scans the putting tenant (the only one
   * that grows) takes over once it holds more, so a shrinking tenant overtaken by a third one is the only
   * case that waits for the next scan.
   */
  private evictOverBound(keep: Entry): void {
    // An expired entry the background sweep has not reached yet is dead weight: it goes before any live
    // entry loses its place (never `keep`, whose deadline is at least 1 ms ahead).
    if (this.bytes > this.config.cacheMaxBytes) this.expireDue(Infinity, this.config.cacheMaxBytes);
    while (this.bytes > this.config.cacheMaxBytes) {
      let victim = this.victim;
      if (
        victim === null ||
        this.evictionsFromVictim >= EVICTIONS_PER_CHOICE ||
        !holdsOtherThan(victim, keep)
      )
        victim = this.chooseVictim(keep);
      // Between scans only the putting tenant grows: once it holds more than the chosen one, it pays.
      else if (keep.owner.bytes > victim.bytes && holdsOtherThan(keep.owner, keep))
        victim = this.victim = keep.owner;
      if (victim === null) break;
      const entry = victim.oldest === keep ? keep.newer : victim.oldest;
      if (entry === null) break;
      this.evictionsFromVictim++;
      this.remove(entry);
      this.evictions++;
    }
  }

  /** The tenant holding the most bytes in entries other than `keep`; null when there are none. */
  private chooseVictim(keep: Entry): TenantEntries | null {
    let largest: TenantEntries | null = null;
    for (const t of this.tenants.values()) {
      if ((largest === null || t.bytes > largest.bytes) && holdsOtherThan(t, keep)) largest = t;
    }
    this.victim = largest;
    this.evictionsFromVictim = 0;
    return largest;
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry.key);
    this.bytes -= entry.bytes;
    entry.owner.bytes -= entry.bytes;
    this.unlink(entry);
    if (entry.owner.newest === null) {
      this.tenants.delete(entry.owner.tenant);
      if (this.victim === entry.owner) this.victim = null;
    }
    // The expiry heap may still point at the entry until its deadline: it must not keep the value alive,
    // or evicted and deleted values would escape FELIX_CACHE_MAX_BYTES for as long as their TTL.
    entry.value = NO_VALUE;
  }

  private touch(entry: Entry): void {
    if (entry.owner.newest === entry) return;
    this.unlink(entry);
    this.linkNewest(entry);
  }

  private linkNewest(entry: Entry): void {
    const list = entry.owner;
    entry.older = list.newest;
    entry.newer = null;
    if (list.newest !== null) list.newest.newer = entry;
    list.newest = entry;
    if (list.oldest === null) list.oldest = entry;
  }

  private unlink(entry: Entry): void {
    const list = entry.owner;
    if (entry.newer !== null) entry.newer.older = entry.older;
    else list.newest = entry.older;
    if (entry.older !== null) entry.older.newer = entry.newer;
    else list.oldest = entry.newer;
    entry.newer = null;
    entry.older = null;
  }

  /**
   * Drops heap nodes whose entry is gone or has another deadline since (replaced, deleted, evicted). Run
   * when the heap holds more than twice the live entries, so its memory stays proportional to what the
   * cache holds, whatever the TTLs; amortised O(1) per put.
   */
  private compactHeap(): void {
    const at = this.heapAt;
    const entries = this.heapEntry;
    const deadlines = this.heapDeadline;
    let n = 0;
    for (let i = 0; i < at.length; i++) {
      if (!this.isLive(i)) continue;
      at[n] = at[i]!;
      entries[n] = entries[i]!;
      deadlines[n] = deadlines[i]!;
      n++;
    }
    at.length = n;
    entries.length = n;
    deadlines.length = n;
    // Heapify bottom-up.
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** Whether heap node `i` carries its entry's current deadline (the entry still being stored). */
  private isLive(i: number): boolean {
    const entry = this.heapEntry[i]!;
    return this.entries.get(entry.key) === entry && entry.deadline === this.heapDeadline[i];
  }

  private siftDown(start: number): void {
    const a = this.heapAt;
    const e = this.heapEntry;
    const d = this.heapDeadline;
    const n = a.length;
    const at = a[start]!;
    const entry = e[start]!;
    const deadline = d[start]!;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && a[child + 1]! < a[child]!) child++;
      if (a[child]! >= at) break;
      a[i] = a[child]!;
      e[i] = e[child]!;
      d[i] = d[child]!;
      i = child;
    }
    a[i] = at;
    e[i] = entry;
    d[i] = deadline;
  }

  private heapPush(at: number, entry: Entry, deadline: number): void {
    const a = this.heapAt;
    const e = this.heapEntry;
    const d = this.heapDeadline;
    let i = a.length;
    a.push(at);
    e.push(entry);
    d.push(deadline);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= at) break;
      a[i] = a[parent]!;
      e[i] = e[parent]!;
      d[i] = d[parent]!;
      i = parent;
    }
    a[i] = at;
    e[i] = entry;
    d[i] = deadline;
  }

  private heapPop(): Entry {
    const a = this.heapAt;
    const e = this.heapEntry;
    const d = this.heapDeadline;
    const top = e[0]!;
    const lastAt = a.pop()!;
    const lastEntry = e.pop()!;
    const lastDeadline = d.pop()!;
    if (a.length === 0) return top;
    a[0] = lastAt;
    e[0] = lastEntry;
    d[0] = lastDeadline;
    this.siftDown(0);
    return top;
  }
}

/** Whether `tenant` holds an entry other than `keep` (one eviction may take). */
function holdsOtherThan(tenant: TenantEntries, keep: Entry): boolean {
  return tenant.oldest !== null && (tenant.oldest !== keep || keep.newer !== null);
}
