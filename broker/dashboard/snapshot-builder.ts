import type { HopTimings } from '../core/hop-timings.js';
import type { BrokerStats } from '../core/stats.js';
import type { SubscriberQueue } from '../core/subscriber-queue.js';
import type { StorageStats } from '../storage/storage-stats.js';
import { ProcessHealthSampler } from './process-health.js';
import type {
  BrokerIdentity,
  ConnectionRow,
  CounterReading,
  DashboardSnapshot,
  HopInterval,
  SlowSubscriber,
  StorageReading,
  StreamRates,
} from './snapshot-types.js';

/** What a snapshot reads of a stream: its name, subscriber count and the two counters it bumps. */
export interface StreamSource {
  readonly tenant: string;
  readonly namespace: string;
  readonly name: string;
  readonly subscribers: readonly unknown[];
  readonly publishedEvents: number;
  readonly fannedOutEvents: number;
}

export interface SubscriptionSource {
  readonly id: number;
  /** The connection's number (as in the connections table): ids are counted per connection. */
  readonly connection: number;
  readonly topic: Pick<StreamSource, 'tenant' | 'namespace' | 'name'>;
  readonly queue: Pick<SubscriberQueue, 'depth' | 'capacity' | 'droppedTotal' | 'policy'>;
}

export interface CacheSource {
  readonly size: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly puts?: number;
  readonly deletes?: number;
}

/** One open connection, as the node knows it. */
export interface ConnectionDetail {
  readonly id: number;
  readonly remote: string;
  readonly tenant: string | null;
  /** Wall-clock time it was accepted (ms since the epoch). */
  readonly openedAt: number;
  readonly subscriptions: number;
}

/** The durable store's totals and counters (broker/storage/). */
export interface StorageSource {
  totals(): { bytes: number; segments: number; streams: number; refusing: number };
  readonly stats: Pick<
    StorageStats,
    | 'bytesWritten'
    | 'fsyncs'
    | 'fsyncSeconds'
    | 'writeErrors'
    | 'fsyncErrors'
    | 'corruptRecords'
    | 'damagedSegments'
    | 'tornTails'
    | 'offsetsMissing'
    | 'offsetsSkipped'
  >;
}

/** Everything the dashboard shows, read from counters the broker keeps anyway. */
export interface DashboardSources {
  readonly stats: Pick<BrokerStats, 'publishedMessages' | 'deliveredEvents' | 'drops' | 'disconnects'> &
    Partial<Pick<BrokerStats, 'publishedBytes' | 'deliveredBytes' | 'publishErrors' | 'protocolErrors'>>;
  streams(): Iterable<StreamSource>;
  subscriptions(): Iterable<SubscriptionSource>;
  connections(): number;
  readonly cache: CacheSource;
  /** null while timings are off (FELIX_DISABLE_TIMINGS=1). */
  readonly timings: Pick<HopTimings, 'takeInterval' | 'recentSamples'> | null;
  readonly latencyBandsUs: readonly number[];
  /** Version, binds, profile (the node's); absent: the snapshot says null. */
  identity?(): BrokerIdentity;
  /** Open connections, oldest first; absent: an empty list. */
  connectionDetails?(): Iterable<ConnectionDetail>;
  /** The durable store; absent or null when the broker keeps no stream on disk. */
  readonly storage?: StorageSource | null;
}

export interface SnapshotClock {
  /** Monotonic milliseconds, for the length of an interval. */
  monotonic(): number;
  /** Milliseconds since the epoch, for the time shown. */
  wall(): number;
}

const SYSTEM_CLOCK: SnapshotClock = { monotonic: () => performance.now(), wall: () => Date.now() };
export const MAX_STREAMS_SHOWN = 8;
export const MAX_SLOW_SUBSCRIBERS_SHOWN = 5;
export const MAX_CONNECTIONS_SHOWN = 20;

/** Counter values at the previous snapshot, to turn totals into per-second rates. */
interface Baseline {
  readonly at: number;
  readonly published: number;
  readonly delivered: number;
  readonly drops: Readonly<Record<string, number>>;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly cacheEvictions: number;
  readonly cachePuts: number;
  readonly cacheDeletes: number;
  readonly publishedBytes: number;
  readonly deliveredBytes: number;
  readonly publishErrors: number;
  readonly protocolErrors: number;
  readonly storageBytesWritten: number;
  readonly fsyncs: number;
  readonly fsyncSeconds: number;
  /** Keyed by the stream object, so a stream created since simply has no baseline (counts from 0). */
  readonly streams: ReadonlyMap<StreamSource, { readonly published: number; readonly fannedOut: number }>;
}

/**
 * Builds the dashboard's once-a-second snapshot. All the work happens here, at snapshot time: the broker's
 * hot path only bumps plain counters, and nothing is computed while no dashboard is connected.
 */
export class SnapshotBuilder {
  private baseline: Baseline;
  private tick = 0;
  private readonly health = new ProcessHealthSampler();

  constructor(
    private readonly sources: DashboardSources,
    private readonly clock: SnapshotClock = SYSTEM_CLOCK,
  ) {
    this.baseline = this.readBaseline();
  }

  /** Starts afresh (the first dashboard connected): rates and hop percentiles cover only what follows. */
  reset(): void {
    this.tick = 0;
    this.baseline = this.readBaseline();
    this.sources.timings?.takeInterval();
    this.health.start();
  }

  /** No dashboard is connected any more: the event-loop monitor stops until the next reset. */
  idle(): void {
    this.health.stop();
  }

  take(): DashboardSnapshot {
    return this.build(true);
  }

  /**
   * A snapshot for the page's first render (embedded in the HTML, so it never shows an empty state):
   * rates over the time since the last snapshot, nothing taken from the next one (the baseline, the hop
   * interval and the CPU reading stay as they are), hop percentiles left out (they cover whole intervals).
   */
  preview(): DashboardSnapshot {
    return this.build(false);
  }

  private build(commit: boolean): DashboardSnapshot {
    const { sources } = this;
    const before = this.baseline;
    const now = this.readBaseline();
    if (commit) this.baseline = now;
    const seconds = Math.max(now.at - before.at, 1) / 1000;
    const reading = (total: number, previous: number): CounterReading => ({
      total,
      perSecond: Math.max(0, total - previous) / seconds,
    });
    const hits = now.cacheHits - before.cacheHits;
    const gets = hits + now.cacheMisses - before.cacheMisses;
    const at = this.clock.wall();
    const identity = sources.identity?.() ?? null;
    return {
      tick: commit ? ++this.tick : this.tick,
      at,
      intervalMs: Math.round(seconds * 1000),
      connections: sources.connections(),
      subscriptions: countOf(sources.subscriptions()),
      published: reading(now.published, before.published),
      delivered: reading(now.delivered, before.delivered),
      streamCount: now.streams.size,
      streams: busiestStreams(now, before, reading),
      hops: sources.timings === null ? null : commit ? hopIntervals(sources.timings.takeInterval()) : {},
      drops: Object.fromEntries(
        Object.entries(now.drops).map(([policy, total]) => [
          policy,
          reading(total, before.drops[policy] ?? 0),
        ]),
      ),
      disconnects: { ...sources.stats.disconnects },
      slowSubscribers: deepestQueues(sources.subscriptions()),
      cache: {
        entries: sources.cache.size,
        bytes: sources.cache.bytes,
        hits: reading(now.cacheHits, before.cacheHits),
        misses: reading(now.cacheMisses, before.cacheMisses),
        hitRatio: gets > 0 ? hits / gets : null,
        evictions: reading(now.cacheEvictions, before.cacheEvictions),
      },
      recent: sources.timings === null ? [] : sources.timings.recentSamples(),
      latencyBandsUs: sources.latencyBandsUs,
      broker: identity,
      uptimeMs: identity === null ? null : Math.max(0, at - identity.startedAt),
      process: this.health.read(commit),
      connectionList: oldestConnections(sources.connectionDetails?.() ?? [], at),
      cacheRequests: {
        gets: reading(now.cacheHits + now.cacheMisses, before.cacheHits + before.cacheMisses),
        puts: reading(now.cachePuts, before.cachePuts),
        deletes: reading(now.cacheDeletes, before.cacheDeletes),
      },
      publishedBytes: reading(now.publishedBytes, before.publishedBytes),
      deliveredBytes: reading(now.deliveredBytes, before.deliveredBytes),
      publishRejects: reading(now.publishErrors, before.publishErrors),
      protocolErrors: reading(now.protocolErrors, before.protocolErrors),
      storage: storageReading(sources.storage ?? null, now, before, reading),
    };
  }

  private readBaseline(): Baseline {
    const { stats, cache } = this.sources;
    const storage = this.sources.storage ?? null;
    const streams = new Map<StreamSource, { published: number; fannedOut: number }>();
    for (const s of this.sources.streams()) {
      streams.set(s, { published: s.publishedEvents, fannedOut: s.fannedOutEvents });
    }
    return {
      at: this.clock.monotonic(),
      published: stats.publishedMessages,
      delivered: stats.deliveredEvents,
      drops: { ...stats.drops },
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
      cacheEvictions: cache.evictions,
      cachePuts: cache.puts ?? 0,
      cacheDeletes: cache.deletes ?? 0,
      publishedBytes: stats.publishedBytes ?? 0,
      deliveredBytes: stats.deliveredBytes ?? 0,
      publishErrors: stats.publishErrors ?? 0,
      protocolErrors: stats.protocolErrors ?? 0,
      storageBytesWritten: storage?.stats.bytesWritten ?? 0,
      fsyncs: storage?.stats.fsyncs ?? 0,
      fsyncSeconds: storage?.stats.fsyncSeconds ?? 0,
      streams,
    };
  }
}

function countOf(items: Iterable<unknown>): number {
  if ('size' in items && typeof items.size === 'number') return items.size;
  let n = 0;
  for (const _ of items) n++;
  return n;
}

function streamName(s: Pick<StreamSource, 'tenant' | 'namespace' | 'name'>): string {
  return `${s.tenant}/${s.namespace}/${s.name}`;
}

function busiestStreams(
  now: Baseline,
  before: Baseline,
  reading: (total: number, previous: number) => CounterReading,
): StreamRates[] {
  const rates: StreamRates[] = [];
  for (const [stream, counts] of now.streams) {
    const previous = before.streams.get(stream) ?? { published: 0, fannedOut: 0 };
    rates.push({
      stream: streamName(stream),
      subscribers: stream.subscribers.length,
      published: reading(counts.published, previous.published),
      fannedOut: reading(counts.fannedOut, previous.fannedOut),
    });
  }
  rates.sort(
    (a, b) =>
      b.published.perSecond - a.published.perSecond ||
      b.published.total - a.published.total ||
      a.stream.localeCompare(b.stream),
  );
  return rates.slice(0, MAX_STREAMS_SHOWN);
}

function hopIntervals(
  summary: Record<string, { count: number; p50_us: number; p99_us: number }>,
): Record<string, HopInterval> {
  const out: Record<string, HopInterval> = {};
  for (const [hop, s] of Object.entries(summary))
    out[hop] = { count: s.count, p50Us: s.p50_us, p99Us: s.p99_us };
  return out;
}

/** The few deepest queues (then the most dropped): one pass, keeping a short sorted list. */
function deepestQueues(subscriptions: Iterable<SubscriptionSource>): SlowSubscriber[] {
  const deepest: SubscriptionSource[] = [];
  const deeper = (a: SubscriptionSource, b: SubscriptionSource): number =>
    b.queue.depth - a.queue.depth ||
    b.queue.droppedTotal - a.queue.droppedTotal ||
    a.connection - b.connection ||
    a.id - b.id;
  for (const sub of subscriptions) {
    if (deepest.length === MAX_SLOW_SUBSCRIBERS_SHOWN && deeper(sub, deepest[deepest.length - 1]!) >= 0)
      continue;
    deepest.push(sub);
    deepest.sort(deeper);
    if (deepest.length > MAX_SLOW_SUBSCRIBERS_SHOWN) deepest.pop();
  }
  return deepest.map((sub) => ({
    id: sub.id,
    connection: sub.connection,
    stream: streamName(sub.topic),
    depth: sub.queue.depth,
    capacity: sub.queue.capacity,
    dropped: sub.queue.droppedTotal,
    policy: sub.queue.policy,
  }));
}

/** The first MAX_CONNECTIONS_SHOWN connections (the node lists them oldest first), with their age. */
function oldestConnections(connections: Iterable<ConnectionDetail>, at: number): ConnectionRow[] {
  const rows: ConnectionRow[] = [];
  for (const c of connections) {
    if (rows.length === MAX_CONNECTIONS_SHOWN) break;
    rows.push({
      id: c.id,
      remote: c.remote,
      tenant: c.tenant,
      ageMs: Math.max(0, at - c.openedAt),
      subscriptions: c.subscriptions,
    });
  }
  return rows;
}

function storageReading(
  storage: StorageSource | null,
  now: Baseline,
  before: Baseline,
  reading: (total: number, previous: number) => CounterReading,
): StorageReading | null {
  if (storage === null) return null;
  const totals = storage.totals();
  const fsyncs = now.fsyncs - before.fsyncs;
  return {
    streams: totals.streams,
    logBytes: totals.bytes,
    segments: totals.segments,
    refusing: totals.refusing,
    bytesWritten: reading(now.storageBytesWritten, before.storageBytesWritten),
    fsyncs: reading(now.fsyncs, before.fsyncs),
    fsyncMeanMs: fsyncs > 0 ? ((now.fsyncSeconds - before.fsyncSeconds) / fsyncs) * 1000 : null,
    writeErrors: storage.stats.writeErrors,
    fsyncErrors: storage.stats.fsyncErrors,
    corruptRecords: storage.stats.corruptRecords,
    damagedSegments: storage.stats.damagedSegments,
    tornTails: storage.stats.tornTails,
    offsetsMissing: storage.stats.offsetsMissing,
    offsetsSkipped: storage.stats.offsetsSkipped,
  };
}
