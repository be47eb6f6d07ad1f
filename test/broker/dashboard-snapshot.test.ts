import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { latencyBandsFrom } from '../../broker/dashboard/latency-bands.js';
import {
  MAX_SLOW_SUBSCRIBERS_SHOWN,
  MAX_STREAMS_SHOWN,
  SnapshotBuilder,
  type DashboardSources,
  type StreamSource,
  type SubscriptionSource,
} from '../../broker/dashboard/snapshot-builder.js';
import type { SampledBatch } from '../../broker/core/hop-timings.js';
import { BrokerStats } from '../../broker/core/stats.js';

function stream(name: string, publishedEvents = 0, fannedOutEvents = 0, subscribers = 1): StreamSource {
  return {
    tenant: 't1',
    namespace: 'default',
    name,
    subscribers: new Array(subscribers).fill(null),
    publishedEvents,
    fannedOutEvents,
  };
}

function subscription(id: number, depth: number, droppedTotal = 0): SubscriptionSource {
  return {
    id,
    connection: 1,
    topic: { tenant: 't1', namespace: 'default', name: `s${id}` },
    queue: { depth, capacity: 512, droppedTotal, policy: 'drop_new' },
  };
}

interface Fixture {
  readonly sources: DashboardSources;
  readonly stats: BrokerStats;
  readonly streams: StreamSource[];
  readonly subscriptions: SubscriptionSource[];
  readonly cache: { size: number; bytes: number; hits: number; misses: number; evictions: number };
  readonly timings: { intervals: number; samples: SampledBatch[] };
  /** Advances the monotonic clock the builder reads. */
  advance(ms: number): void;
  readonly builder: SnapshotBuilder;
}

function fixture(options: { timings?: boolean } = {}): Fixture {
  const stats = new BrokerStats();
  const streams: StreamSource[] = [];
  const subscriptions: SubscriptionSource[] = [];
  const cache = { size: 0, bytes: 0, hits: 0, misses: 0, evictions: 0 };
  const timings = { intervals: 0, samples: [] as SampledBatch[] };
  let now = 1000;
  const sources: DashboardSources = {
    stats,
    streams: () => streams,
    subscriptions: () => subscriptions,
    connections: () => 3,
    cache,
    timings:
      options.timings === false
        ? null
        : {
            takeInterval: () => {
              timings.intervals++;
              const hop = { count: timings.intervals, p50_us: 40, p99_us: 900, p999_us: 2000 };
              return { publish_to_broker: hop, decode_to_enqueue: hop, queue: hop };
            },
            recentSamples: () => timings.samples,
          },
    latencyBandsUs: [250, 1000, 5000],
  };
  const builder = new SnapshotBuilder(sources, { monotonic: () => now, wall: () => 1_700_000_000_000 + now });
  return {
    sources,
    stats,
    streams,
    subscriptions,
    cache,
    timings,
    advance: (ms) => (now += ms),
    builder,
  };
}

describe('SnapshotBuilder', () => {
  it('turns counter totals into per-second rates over the interval since the last snapshot', () => {
    const f = fixture();
    f.builder.reset();
    f.stats.publishedMessages = 500;
    f.stats.deliveredEvents = 1000;
    f.advance(500);
    const first = f.builder.take();
    expect(first.tick).toBe(1);
    expect(first.intervalMs).toBe(500);
    expect(first.published).toEqual({ total: 500, perSecond: 1000 });
    expect(first.delivered).toEqual({ total: 1000, perSecond: 2000 });
    expect(first.connections).toBe(3);
    expect(first.at).toBe(1_700_000_001_500);

    f.stats.publishedMessages = 600;
    f.advance(1000);
    const second = f.builder.take();
    expect(second.tick).toBe(2);
    expect(second.published).toEqual({ total: 600, perSecond: 100 });
    expect(second.delivered.perSecond).toBe(0);
  });

  it('restarts ticks and rates on reset, so a new dashboard sees only what follows', () => {
    const f = fixture();
    f.stats.publishedMessages = 10_000;
    f.advance(60_000);
    f.builder.reset();
    f.advance(1000);
    const snapshot = f.builder.take();
    expect(snapshot.tick).toBe(1);
    expect(snapshot.published).toEqual({ total: 10_000, perSecond: 0 });
  });

  it('lists the busiest streams by publish rate, with fan-out, counting a new stream from zero', () => {
    const f = fixture();
    const quiet = stream('quiet', 1000, 1000);
    const busy = stream('busy', 0, 0, 3);
    f.streams.push(quiet, busy);
    f.builder.reset();
    (busy as { publishedEvents: number }).publishedEvents = 200;
    (busy as { fannedOutEvents: number }).fannedOutEvents = 600;
    f.streams.push(stream('new', 50, 0, 0));
    f.advance(1000);
    const s = f.builder.take();
    expect(s.streamCount).toBe(3);
    expect(s.streams.map((r) => r.stream)).toEqual(['t1/default/busy', 't1/default/new', 't1/default/quiet']);
    expect(s.streams[0]).toEqual({
      stream: 't1/default/busy',
      subscribers: 3,
      published: { total: 200, perSecond: 200 },
      fannedOut: { total: 600, perSecond: 600 },
    });
    expect(s.streams[1]!.published.perSecond).toBe(50);
    expect(s.streams[2]!.published).toEqual({ total: 1000, perSecond: 0 });
  });

  it(`shows at most ${MAX_STREAMS_SHOWN} streams`, () => {
    const f = fixture();
    for (let i = 0; i < 20; i++) f.streams.push(stream(`s${i}`, i));
    f.advance(1000);
    const s = f.builder.take();
    expect(s.streamCount).toBe(20);
    expect(s.streams).toHaveLength(MAX_STREAMS_SHOWN);
    expect(s.streams[0]!.stream).toBe('t1/default/s19');
  });

  it('takes the hop interval once per snapshot and passes the recent samples through', () => {
    const f = fixture();
    f.builder.reset();
    expect(f.timings.intervals).toBe(1);
    f.timings.samples.push({ at: 1, stream: 't1/default/a', offset: 7, events: 2, hops: { queue: 31 } });
    const s = f.builder.take();
    expect(f.timings.intervals).toBe(2);
    expect(Object.keys(s.hops!)).toEqual(['publish_to_broker', 'decode_to_enqueue', 'queue']);
    expect(s.hops!.queue).toEqual({ count: 2, p50Us: 40, p99Us: 900 });
    expect(s.recent).toEqual(f.timings.samples);
    expect(s.latencyBandsUs).toEqual([250, 1000, 5000]);
  });

  it('has no hops and no samples while timings are off', () => {
    const s = fixture({ timings: false }).builder.take();
    expect(s.hops).toBeNull();
    expect(s.recent).toEqual([]);
  });

  it('reports drops by policy as totals and rates, and disconnects by reason', () => {
    const f = fixture();
    f.builder.reset();
    f.stats.drops.drop_new = 30;
    f.stats.noteDisconnect('slow_consumer');
    f.advance(2000);
    const s = f.builder.take();
    expect(s.drops).toEqual({
      block: { total: 0, perSecond: 0 },
      drop_new: { total: 30, perSecond: 15 },
      drop_old: { total: 0, perSecond: 0 },
    });
    expect(s.disconnects).toEqual({ slow_consumer: 1 });
  });

  it(`lists the ${MAX_SLOW_SUBSCRIBERS_SHOWN} deepest queues, the most dropped first among equals`, () => {
    const f = fixture();
    const depths = [3, 0, 512, 7, 0, 100, 512, 1, 9];
    depths.forEach((depth, i) => f.subscriptions.push(subscription(i + 1, depth, i === 6 ? 40 : 0)));
    const s = f.builder.take();
    expect(s.subscriptions).toBe(depths.length);
    expect(s.slowSubscribers.map((sub) => [sub.id, sub.depth, sub.dropped])).toEqual([
      [7, 512, 40],
      [3, 512, 0],
      [6, 100, 0],
      [9, 9, 0],
      [4, 7, 0],
    ]);
    expect(s.slowSubscribers[0]).toEqual({
      id: 7,
      connection: 1,
      stream: 't1/default/s7',
      depth: 512,
      capacity: 512,
      dropped: 40,
      policy: 'drop_new',
    });
  });

  it("gives the cache's hit ratio over the interval, and none without gets", () => {
    const f = fixture();
    f.cache.hits = 100;
    f.cache.misses = 100;
    f.builder.reset();
    f.cache.hits = 130;
    f.cache.misses = 110;
    f.cache.evictions = 4;
    f.cache.size = 12;
    f.cache.bytes = 4096;
    f.advance(1000);
    const s = f.builder.take();
    expect(s.cache).toEqual({
      entries: 12,
      bytes: 4096,
      hits: { total: 130, perSecond: 30 },
      misses: { total: 110, perSecond: 10 },
      hitRatio: 0.75,
      evictions: { total: 4, perSecond: 4 },
    });
    f.advance(1000);
    expect(f.builder.take().cache.hitRatio).toBeNull();
  });
});

describe('FELIX_DASHBOARD_LATENCY_BANDS_US', () => {
  const load = (value?: string) =>
    loadBrokerConfig({ env: value === undefined ? {} : { FELIX_DASHBOARD_LATENCY_BANDS_US: value } }).config;

  it('defaults to 250,1000,5000 µs', () => {
    expect(latencyBandsFrom(load().dashboardLatencyBandsUs)).toEqual([250, 1000, 5000]);
    expect(latencyBandsFrom(load('100,200,300').dashboardLatencyBandsUs)).toEqual([100, 200, 300]);
  });

  it.each(['250,1000', '250,1000,5000,9000', '0,1,2', '250, 1000, 5000', '1e3,2e3,3e3', ''])(
    'refuses %j at start-up, naming the setting',
    (value) => {
      expect(() => load(value)).toThrow(/FELIX_DASHBOARD_LATENCY_BANDS_US/);
    },
  );

  it('refuses thresholds that do not ascend', () => {
    expect(() => load('1000,250,5000')).toThrow(/FELIX_DASHBOARD_LATENCY_BANDS_US must ascend/);
    expect(() => load('250,250,5000')).toThrow(/must ascend/);
  });
});
