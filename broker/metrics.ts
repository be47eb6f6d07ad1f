import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheStore } from './core/cache-store.js';
import { BROKER_HOPS, type BrokerHop, type HopSummary, type HopTimings } from './core/hop-timings.js';
import type { BrokerStats } from './core/stats.js';

/** Live values only the broker can compute at scrape time (sums over subscriptions, open connections). */
export interface BrokerGauges {
  connections(): number;
  subscriptions(): number;
  /** Events queued for subscribers, summed, and the deepest single queue. */
  queueDepth(): { total: number; max: number };
  publishInflightBytes(): number;
  draining(): boolean;
}

/**
 * A Prometheus counter fed by a plain running total the hot path bumps with `++`: read at scrape time,
 * so counting costs nothing between scrapes.
 */
export function counterFromTotal(registry: Registry, name: string, help: string, read: () => number): void {
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > reported) this.inc(now - reported);
      reported = now;
    },
  });
}

/** A Prometheus gauge read at scrape time. */
export function gaugeFromValue(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/**
 * Prometheus registry of one broker node. A registry per node (not prom-client's global one) so several
 * brokers in one process, as in tests, never collide.
 */
export function createMetricsRegistry(
  stats: BrokerStats,
  gauges: BrokerGauges,
  cache: CacheStore,
  timings: HopTimings | null,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'felix_' });

  const monotonic = (name: string, help: string, read: () => number): void =>
    counterFromTotal(registry, name, help, read);
  const labelled = (name: string, help: string, label: string, read: () => Record<string, number>): void => {
    const reported: Record<string, number> = {};
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        for (const [key, now] of Object.entries(read())) {
          const before = reported[key] ?? 0;
          // Touching every label once makes zero-valued series visible (drops by each policy).
          this.inc({ [label]: key }, Math.max(0, now - before));
          reported[key] = now;
        }
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number): void =>
    gaugeFromValue(registry, name, help, read);

  monotonic('felix_connections_opened_total', 'QUIC connections accepted', () => stats.connectionsOpened);
  monotonic('felix_connections_closed_total', 'QUIC connections ended', () => stats.connectionsClosed);
  gauge('felix_connections', 'Open QUIC connections', gauges.connections);
  monotonic(
    'felix_published_messages_total',
    'Messages accepted from publishers',
    () => stats.publishedMessages,
  );
  monotonic(
    'felix_published_bytes_total',
    'Payload bytes accepted from publishers',
    () => stats.publishedBytes,
  );
  monotonic('felix_publish_errors_total', 'Publishes answered with an error', () => stats.publishErrors);
  monotonic(
    'felix_publish_rejected_budget_total',
    'Acked publishes refused because an in-flight byte budget was exhausted',
    () => stats.publishRejectedBudget,
  );
  gauge(
    'felix_publish_inflight_bytes',
    'Publish bytes accepted but not yet fanned out',
    gauges.publishInflightBytes,
  );
  monotonic(
    'felix_delivered_events_total',
    'Events handed to subscriber streams',
    () => stats.deliveredEvents,
  );
  monotonic(
    'felix_delivered_bytes_total',
    'Frame bytes handed to subscriber streams',
    () => stats.deliveredBytes,
  );
  monotonic(
    'felix_delivered_frames_total',
    'Event-batch frames handed to subscriber streams',
    () => stats.deliveredFrames,
  );
  gauge('felix_subscriptions', 'Active subscriptions', gauges.subscriptions);
  monotonic('felix_subscriptions_opened_total', 'Subscriptions accepted', () => stats.subscriptionsOpened);
  labelled(
    'felix_subscriber_dropped_events_total',
    'Events dropped by subscriber queue policy',
    'policy',
    () => stats.drops,
  );
  labelled(
    'felix_subscriber_disconnects_total',
    'Subscribers disconnected by the broker, by reason',
    'reason',
    () => stats.disconnects,
  );
  gauge(
    'felix_subscriber_queue_depth_events',
    'Events queued for all subscribers',
    () => gauges.queueDepth().total,
  );
  gauge(
    'felix_subscriber_queue_depth_max_events',
    'Events queued for the most backed-up subscriber',
    () => gauges.queueDepth().max,
  );
  monotonic(
    'felix_protocol_errors_total',
    'Malformed, oversized or unknown frames received',
    () => stats.protocolErrors,
  );
  monotonic(
    'felix_internal_errors_total',
    'Unexpected exceptions while serving a connection (the connection was closed with code 0x1)',
    () => stats.internalErrors,
  );
  gauge('felix_draining', '1 while the broker drains for shutdown', () => (gauges.draining() ? 1 : 0));
  registerCacheMetrics(registry, cache);
  if (timings !== null) registerHopMetrics(registry, timings);
  return registry;
}

function registerCacheMetrics(registry: Registry, cache: CacheStore): void {
  const counter = (name: string, help: string, read: () => number): void =>
    counterFromTotal(registry, name, help, read);
  counter('felix_cache_hits_total', 'Cache gets that found a live entry', () => cache.hits);
  counter(
    'felix_cache_misses_total',
    'Cache gets that found nothing (or an expired entry)',
    () => cache.misses,
  );
  counter('felix_cache_puts_total', 'Cache puts', () => cache.puts);
  counter('felix_cache_deletes_total', 'Cache deletes that removed a live entry', () => cache.deletes);
  counter(
    'felix_cache_evictions_total',
    'Entries evicted (LRU) to stay within FELIX_CACHE_MAX_BYTES',
    () => cache.evictions,
  );
  counter(
    'felix_cache_expirations_total',
    'Entries removed because their TTL passed',
    () => cache.expirations,
  );
  gaugeFromValue(registry, 'felix_cache_entries', 'Entries held', () => cache.size);
  gaugeFromValue(
    registry,
    'felix_cache_bytes',
    'Bytes held: keys, values and per-entry overhead',
    () => cache.bytes,
  );
}

function registerHopMetrics(registry: Registry, timings: HopTimings): void {
  const summary = (): Record<BrokerHop, HopSummary> => timings.summary();
  new Gauge({
    name: 'felix_hop_latency_microseconds',
    help: 'Per-hop latency quantiles since start (HDR histogram), with FELIX_DISABLE_TIMINGS=0',
    labelNames: ['hop', 'quantile'],
    registers: [registry],
    collect() {
      const s = summary();
      for (const hop of BROKER_HOPS) {
        this.set({ hop, quantile: '0.5' }, s[hop].p50_us);
        this.set({ hop, quantile: '0.99' }, s[hop].p99_us);
        this.set({ hop, quantile: '0.999' }, s[hop].p999_us);
      }
    },
  });
  const reported: Partial<Record<BrokerHop, number>> = {};
  new Counter({
    name: 'felix_hop_samples_total',
    help: 'Measurements recorded per hop',
    labelNames: ['hop'],
    registers: [registry],
    collect() {
      const s = summary();
      for (const hop of BROKER_HOPS) {
        this.inc({ hop }, s[hop].count - (reported[hop] ?? 0));
        reported[hop] = s[hop].count;
      }
    },
  });
}
