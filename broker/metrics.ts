import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchReceiveStats, DatagramStats, SegmentedSendStats } from '../transport/index.js';
import type { CacheStore } from './core/cache-store.js';
import { BROKER_HOPS, type BrokerHop, type HopSummary, type HopTimings } from './core/hop-timings.js';
import type { SubscriberBacklog } from './core/broker.js';
import type { BrokerStats } from './core/stats.js';
import type { DurableStore } from './storage/index.js';
import type { IdleMemoryStats } from './idle-memory.js';

/** Live values only the broker can compute at scrape time (sums over subscriptions, open connections). */
export interface BrokerGauges {
  connections(): number;
  subscriptions(): number;
  /** Events queued for subscribers, summed, and the deepest single queue. */
  queueDepth(): SubscriberBacklog;
  publishInflightBytes(): number;
  /** Bytes of frames still being received, over all streams (FELIX_PARTIAL_FRAME_BYTES bounds it). */
  partialFrameBytes(): number;
  draining(): boolean;
  /** What the QUIC endpoint dropped before any connection saw it (garbage, floods), once it listens. */
  datagrams(): DatagramStats | null;
  /** How the endpoint's socket sends and reads (segmentation offload, recvmmsg), once it listens. */
  udpBatching(): { readonly send: SegmentedSendStats; readonly receive: BatchReceiveStats } | null;
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
  /** The broker's durable streams (broker.storage), when it has any. */
  storage: DurableStore | null = null,
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
  gauge(
    'felix_partial_frame_bytes',
    'Bytes of frames still being received, over all client streams (bounded by FELIX_PARTIAL_FRAME_BYTES)',
    gauges.partialFrameBytes,
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
  monotonic(
    'felix_subscriber_skipped_too_large_events_total',
    'Events skipped for a subscriber because its encoding (JSON: payloads in base64) made them larger ' +
      'than FELIX_MAX_FRAME_BYTES',
    () => stats.eventsTooLargeForEncoding,
  );
  labelled(
    'felix_subscriber_disconnects_total',
    'Subscribers disconnected by the broker, by reason',
    'reason',
    () => stats.disconnects,
  );
  labelled(
    'felix_slow_consumer_disconnects_total',
    'Subscribers disconnected as slow consumers (reason slow_consumer), by the limit reached: max_drops ' +
      '(FELIX_SLOW_SUB_MAX_DROPS) or max_full_ms (FELIX_SLOW_SUB_MAX_FULL_MS)',
    'limit',
    () => stats.slowConsumerDisconnects,
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
  gauge(
    'felix_subscriber_transport_backlog_events',
    "Events written to subscribers' event streams that the transport still queues (not in the queue depth)",
    () => gauges.queueDepth().transportEvents,
  );
  gauge(
    'felix_subscriber_transport_backlog_bytes',
    "Bytes written to subscribers' event streams that the transport still queues, at most " +
      'min(FELIX_EVENT_SEND_WINDOW, FELIX_SUB_QUEUE_MAX_BYTES / 4) per subscription, and about ' +
      'FELIX_BROKER_SEND_WINDOW per connection',
    () => gauges.queueDepth().transportBytes,
  );
  monotonic(
    'felix_protocol_errors_total',
    'Malformed, oversized or unknown frames received',
    () => stats.protocolErrors,
  );
  labelled(
    'felix_dropped_datagrams_total',
    'UDP datagrams the QUIC endpoint dropped before any connection saw them, by reason',
    'reason',
    () => gauges.datagrams()?.dropped ?? {},
  );
  gauge(
    'felix_udp_segmentation_offload',
    '1 while datagrams leave through UDP segmentation offload (FELIX_UDP_GSO), 0 when off or unavailable',
    () => (gauges.udpBatching()?.send.active === true ? 1 : 0),
  );
  monotonic(
    'felix_udp_segmented_sends_total',
    'sendmsg calls that carried several datagrams (segmentation offload)',
    () => gauges.udpBatching()?.send.segmentedSends ?? 0,
  );
  monotonic(
    'felix_udp_segmented_datagrams_total',
    'Datagrams sent in segmented sendmsg calls',
    () => gauges.udpBatching()?.send.segmentedDatagrams ?? 0,
  );
  gauge(
    'felix_udp_batched_receive',
    '1 while the socket is read with recvmmsg (FELIX_UDP_RECVMMSG), 0 when off, unavailable or handed back to Node',
    () => (gauges.udpBatching()?.receive.active === true ? 1 : 0),
  );
  monotonic(
    'felix_udp_batched_reads_total',
    'recvmmsg calls that returned datagrams',
    () => gauges.udpBatching()?.receive.calls ?? 0,
  );
  monotonic(
    'felix_udp_batched_read_datagrams_total',
    'Datagrams read by recvmmsg',
    () => gauges.udpBatching()?.receive.datagrams ?? 0,
  );
  monotonic(
    'felix_handshakes_timed_out_total',
    'Handshakes dropped for not completing within FELIX_HANDSHAKE_TIMEOUT_MS (their slots freed)',
    () => gauges.datagrams()?.handshakesTimedOut ?? 0,
  );
  monotonic(
    'felix_handshakes_refused_total',
    'Handshakes refused at the first flight (wrong ALPN, TLS errors), without keeping any state',
    () => gauges.datagrams()?.handshakesRefused ?? 0,
  );
  monotonic(
    'felix_retries_sent_total',
    'QUIC Retry packets sent: new clients asked to prove their address before the broker kept any state',
    () => gauges.datagrams()?.retriesSent ?? 0,
  );
  monotonic(
    'felix_initial_refusals_sent_total',
    'New clients refused by FELIX_MAX_CONNECTIONS or _PER_ADDRESS and told so (CONNECTION_REFUSED in an Initial)',
    () => gauges.datagrams()?.refusalsSent ?? 0,
  );
  monotonic(
    'felix_retries_validated_total',
    'New connections whose source address a Retry token proved',
    () => gauges.datagrams()?.retriesValidated ?? 0,
  );
  monotonic(
    'felix_stateless_resets_sent_total',
    'QUIC stateless resets sent to packets of connections the broker does not have (it forgot them, or restarted)',
    () => gauges.datagrams()?.statelessResetsSent ?? 0,
  );
  monotonic(
    'felix_publish_duplicates_total',
    'Retried acked publishes recognised by producer id and sequence: acked again, not appended',
    () => stats.duplicatePublishes,
  );
  monotonic(
    'felix_auth_failures_total',
    'Stream auths refused (bad, expired or foreign tokens)',
    () => stats.authFailures,
  );
  monotonic(
    'felix_auth_timeout_closes_total',
    'Connections closed (code 0x5) because none of their streams authenticated within FELIX_AUTH_TIMEOUT_MS',
    () => stats.authTimeouts,
  );
  monotonic(
    'felix_stalled_streams_total',
    'Client streams ended (limit_exceeded) because they sent nothing for FELIX_STREAM_STALL_TIMEOUT_MS while holding an unfinished frame or chunked publish',
    () => stats.stalledStreams,
  );
  labelled(
    'felix_connections_refused_total',
    'Connections closed right after their handshake, by reason (protected_mode: no authentication configured ' +
      'and not a loopback client); a connection limit refuses before it, in felix_initial_refusals_sent_total',
    'reason',
    () => stats.refusedConnections,
  );
  monotonic(
    'felix_write_deadline_closes_total',
    'Client connections closed by FELIX_BROKER_WRITE_DEADLINE_MS: silent while bytes waited for them',
    () => gauges.datagrams()?.writeDeadlineCloses ?? 0,
  );
  monotonic(
    'felix_credit_stranded_closes_total',
    'Client connections closed with code 0x6: streams the client reset while the broker held their bytes ' +
      'unread may have taken half the connection receive window for good (the QUIC stack cannot give it back)',
    () => stats.creditStrandedCloses,
  );
  monotonic(
    'felix_internal_errors_total',
    "Unexpected exceptions in the broker, each closing the connection it served with code 0x1 (or, when cutting a stream's batch failed, its subscribers' connections)",
    () => stats.internalErrors,
  );
  gauge('felix_draining', '1 while the broker drains for shutdown', () => (gauges.draining() ? 1 : 0));
  registerCacheMetrics(registry, cache);
  if (timings !== null) registerHopMetrics(registry, timings);
  if (storage !== null) registerStorageMetrics(registry, storage);
  return registry;
}

/** Durable streams: log size, segments, writes, fsync latency and errors (docs/durability.md). */
export function registerStorageMetrics(registry: Registry, storage: DurableStore): void {
  const stats = storage.stats;
  const counter = (name: string, help: string, read: () => number): void =>
    counterFromTotal(registry, name, help, read);
  const gauge = (name: string, help: string, read: () => number): void =>
    gaugeFromValue(registry, name, help, read);
  gauge(
    'felix_storage_log_bytes',
    "Bytes of the durable streams' logs on disk",
    () => storage.totals().bytes,
  );
  gauge('felix_storage_segments', 'Segment files of the durable streams', () => storage.totals().segments);
  gauge('felix_storage_streams', 'Durable streams open', () => storage.totals().streams);
  gauge(
    'felix_storage_streams_refusing',
    'Durable streams refusing publishes after a storage error (storage_full / storage_error), or found damaged at start',
    () => storage.totals().refusing,
  );
  gauge(
    'felix_storage_streams_files_open',
    'Durable streams with their write files open (at most FELIX_DURABLE_MAX_OPEN_STREAMS; idle ones close theirs)',
    () => storage.openFiles.size,
  );
  gauge(
    'felix_storage_streams_waiting_for_files',
    'Durable streams whose writes wait for another stream to close its files (FELIX_DURABLE_MAX_OPEN_STREAMS reached)',
    () => storage.openFiles.waiters,
  );
  gauge(
    'felix_storage_max_open_streams',
    'The bound on durable streams with open files now (lowered when the process ran out of file descriptors)',
    () => storage.openFiles.limit,
  );
  counter(
    'felix_storage_writes_total',
    'Writes to durable logs (each carries every frame waiting)',
    () => stats.writes,
  );
  counter(
    'felix_storage_loop_writes_total',
    'Writes to durable logs made from the event loop (at most 16 KiB; larger ones, and all under ' +
      'FELIX_DURABLE_FSYNC=on_commit, go through the thread pool)',
    () => stats.loopWrites,
  );
  counter(
    'felix_storage_slow_loop_writes_total',
    'Event-loop writes that took over 1 ms: the log writes through the thread pool for the next second ' +
      '(a slow disk shows here before it shows in latency)',
    () => stats.slowLoopWrites,
  );
  counter(
    'felix_storage_records_written_total',
    'Records (event-batch frames) written',
    () => stats.recordsWritten,
  );
  counter(
    'felix_storage_bytes_written_total',
    'Frame bytes written to durable logs',
    () => stats.bytesWritten,
  );
  counter('felix_storage_fsyncs_total', 'fdatasync calls on durable logs', () => stats.fsyncs);
  counter('felix_storage_fsync_seconds_total', 'Time spent in fdatasync, summed', () => stats.fsyncSeconds);
  gauge('felix_storage_fsync_max_seconds', 'Longest fdatasync since the previous scrape', () =>
    stats.takeFsyncMax(),
  );
  counter(
    'felix_storage_write_errors_total',
    'Failed writes (the stream refuses publishes until a retry succeeds)',
    () => stats.writeErrors,
  );
  counter(
    'felix_storage_fsync_errors_total',
    'Failed fsyncs (the stream refuses publishes until restart)',
    () => stats.fsyncErrors,
  );
  counter(
    'felix_storage_read_shortages_total',
    'Replay reads that found no file descriptor and waited to read again',
    () => stats.readShortages,
  );
  counter(
    'felix_storage_corrupt_records_total',
    'Damaged records found on read (never served)',
    () => stats.corruptRecords,
  );
  counter('felix_storage_torn_tails_total', 'Torn tails cut at recovery', () => stats.tornTails);
  counter(
    'felix_storage_truncated_bytes_total',
    'Bytes cut from torn tails at recovery',
    () => stats.truncatedBytes,
  );
  counter(
    'felix_storage_offsets_skipped_total',
    'Offsets skipped at start after an unclean stop: perhaps given out before it, never given again',
    () => stats.offsetsSkipped,
  );
  counter(
    'felix_storage_offsets_missing_total',
    'Offsets found missing at start between the segments of a durable stream (a segment file lost), or at ' +
      'its end short of where a clean stop left it',
    () => stats.offsetsMissing,
  );
  counter(
    'felix_storage_damaged_segments_total',
    'Sealed segments found at start not ending with a whole record (cut short or damaged at their end)',
    () => stats.damagedSegments,
  );
  counter(
    'felix_storage_unreadable_segments_total',
    'Segments a replay found gone or cut short under the running broker and crossed (a gap to subscribers)',
    () => stats.unreadableSegments,
  );
  counter(
    'felix_storage_reservation_errors_total',
    'Offset reservation marks that could not be written',
    () => stats.reservationErrors,
  );
  counter(
    'felix_storage_segments_removed_total',
    'Segments removed by retention',
    () => stats.segmentsRemoved,
  );
  counter('felix_storage_bytes_removed_total', 'Bytes removed by retention', () => stats.bytesRemoved);
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

/** What the broker process gave back to the operating system when idle (FELIX_IDLE_MEMORY_RETURN_MS). */
export function registerIdleMemoryMetrics(registry: Registry, idle: { stats(): IdleMemoryStats }): void {
  counterFromTotal(
    registry,
    'felix_idle_memory_returns_total',
    'Times the idle broker ran a full garbage collection and malloc_trim to give memory back',
    () => idle.stats().returns,
  );
  counterFromTotal(
    registry,
    'felix_idle_memory_returned_bytes_total',
    'Resident bytes those returns gave back (resident set before minus after each)',
    () => idle.stats().returnedBytes,
  );
  gaugeFromValue(
    registry,
    'felix_idle_memory_last_pause_seconds',
    'How long the last return paused the event loop: its garbage collection (the trim runs on a worker thread; 0: none yet)',
    () => (idle.stats().last?.collectMs ?? 0) / 1000,
  );
}
