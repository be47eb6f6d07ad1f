import type { HopTimings } from '../core/hop-timings.js';
import type { BrokerStats } from '../core/stats.js';
import type { SubscriberQueue } from '../core/subscriber-queue.js';
import type {
  CounterReading,
  DashboardSnapshot,
  HopInterval,
  SlowSubscriber,
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
  readonly topic: Pick<StreamSource, 'tenant' | 'namespace' | 'name'>;
  readonly queue: Pick<SubscriberQueue, 'depth' | 'capacity' | 'droppedTotal' | 'policy'>;
}

export interface CacheSource {
  readonly size: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

/** Everything the dashboard shows, read from counters the broker keeps anyway. */
export interface DashboardSources {
  readonly stats: Pick<BrokerStats, 'publishedMessages' | 'deliveredEvents' | 'drops' | 'disconnects'>;
  streams(): Iterable<StreamSource>;
  subscriptions(): Iterable<SubscriptionSource>;
  connections(): number;
  readonly cache: CacheSource;
  /** null while timings are off (FELIX_DISABLE_TIMINGS=1). */
  readonly timings: Pick<HopTimings, 'takeInterval' | 'recentSamples'> | null;
  readonly latencyBandsUs: readonly number[];
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

/** Counter values at the previous snapshot, to turn totals into per-second rates. */
interface Baseline {
  readonly at: number;
  readonly published: number;
  readonly delivered: number;
  readonly drops: Readonly<Record<string, number>>;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly cacheEvictions: number;
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
  }

  take(): DashboardSnapshot {
    const { sources } = this;
    const before = this.baseline;
    const now = this.readBaseline();
    this.baseline = now;
    const seconds = Math.max(now.at - before.at, 1) / 1000;
    const reading = (total: number, previous: number): CounterReading => ({
      total,
      perSecond: Math.max(0, total - previous) / seconds,
    });
    const hits = now.cacheHits - before.cacheHits;
    const gets = hits + now.cacheMisses - before.cacheMisses;
    return {
      tick: ++this.tick,
      at: this.clock.wall(),
      intervalMs: Math.round(seconds * 1000),
      connections: sources.connections(),
      subscriptions: countOf(sources.subscriptions()),
      published: reading(now.published, before.published),
      delivered: reading(now.delivered, before.delivered),
      streamCount: now.streams.size,
      streams: busiestStreams(now, before, reading),
      hops: sources.timings === null ? null : hopIntervals(sources.timings.takeInterval()),
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
    };
  }

  private readBaseline(): Baseline {
    const { stats, cache } = this.sources;
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
    b.queue.depth - a.queue.depth || b.queue.droppedTotal - a.queue.droppedTotal || a.id - b.id;
  for (const sub of subscriptions) {
    if (deepest.length === MAX_SLOW_SUBSCRIBERS_SHOWN && deeper(sub, deepest[deepest.length - 1]!) >= 0)
      continue;
    deepest.push(sub);
    deepest.sort(deeper);
    if (deepest.length > MAX_SLOW_SUBSCRIBERS_SHOWN) deepest.pop();
  }
  return deepest.map((sub) => ({
    id: sub.id,
    stream: streamName(sub.topic),
    depth: sub.queue.depth,
    capacity: sub.queue.capacity,
    dropped: sub.queue.droppedTotal,
    policy: sub.queue.policy,
  }));
}
