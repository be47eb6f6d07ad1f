// The JSON the broker sends the dashboard page once a second. Shared by the broker (node) and the page
// script (browser), so it imports nothing: the page's own tsconfig type-checks it without node types.

/** A monotonic counter: its value now, and how fast it grew over the last interval. */
export interface CounterReading {
  readonly total: number;
  readonly perSecond: number;
}

export interface StreamRates {
  /** tenant/namespace/stream */
  readonly stream: string;
  readonly subscribers: number;
  readonly published: CounterReading;
  /** Events handed to this stream's subscribers (one per subscriber per event), before queue policies. */
  readonly fannedOut: CounterReading;
}

/** One hop's latency over the last interval, in microseconds (HDR histogram). */
export interface HopInterval {
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

export interface SlowSubscriber {
  /** Its subscription id, counted per connection: with `connection`, it names one subscription. */
  readonly id: number;
  /** The number of its connection, as in `connectionList` and the broker's log lines. */
  readonly connection: number;
  readonly stream: string;
  readonly depth: number;
  readonly capacity: number;
  readonly dropped: number;
  readonly policy: string;
}

export interface CacheReading {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: CounterReading;
  readonly misses: CounterReading;
  /** Hits over gets in the last interval; null when there were no gets. */
  readonly hitRatio: number | null;
  readonly evictions: CounterReading;
}

/** A sampled event batch with its per-hop microseconds; a hop is absent when it was not measurable. */
export interface RecentBatch {
  readonly at: number;
  readonly stream: string;
  readonly offset: number;
  readonly events: number;
  readonly hops: Readonly<Partial<Record<string, number>>>;
}

/** Who the broker is: fixed from start-up. */
export interface BrokerIdentity {
  readonly version: string;
  /** Wall-clock start (ms since the epoch). */
  readonly startedAt: number;
  /** The bound addresses (real ports, even where 0 was asked for). */
  readonly quicBind: string;
  readonly httpBind: string;
  /** FELIX_PROFILE the settings were loaded with; null when the broker was started without one (embedded). */
  readonly profile: string | null;
  /** jwt, protected (loopback only) or none. */
  readonly auth: string;
  readonly pid: number;
}

/** The broker process's health over the last interval. */
export interface ProcessHealth {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** CPU time (user + system) over wall time, percent of one core; null before the first interval. */
  readonly cpuPercent: number | null;
  /** Event-loop delay over the interval (ms); null before the first interval. */
  readonly eventLoopLagMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
}

/** One open connection. */
export interface ConnectionRow {
  readonly id: number;
  readonly remote: string;
  /** The tenant its first stream authenticated for; null before any stream authenticated. */
  readonly tenant: string | null;
  readonly ageMs: number;
  readonly subscriptions: number;
}

/** Cache requests answered, by kind. */
export interface CacheRequestRates {
  /** Hits and misses. */
  readonly gets: CounterReading;
  readonly puts: CounterReading;
  /** Deletes that removed a live entry. */
  readonly deletes: CounterReading;
}

/** Durable streams' storage (issue 13): what /metrics has as felix_storage_*. */
export interface StorageReading {
  readonly streams: number;
  readonly logBytes: number;
  readonly segments: number;
  /** Streams refusing publishes after a storage error. */
  readonly refusing: number;
  readonly bytesWritten: CounterReading;
  readonly fsyncs: CounterReading;
  /** Mean fdatasync time over the interval (ms); null when there was none. */
  readonly fsyncMeanMs: number | null;
  readonly writeErrors: number;
  readonly fsyncErrors: number;
  readonly corruptRecords: number;
  /** Found at start (docs/durability.md, "Recovery at start"): damage to alert on, as /metrics counts it. */
  readonly damagedSegments: number;
  readonly tornTails: number;
  /** Offsets lost with a segment (missing) or skipped after an unclean stop. */
  readonly offsetsMissing: number;
  readonly offsetsSkipped: number;
}

export interface DashboardSnapshot {
  /** 1 for the first snapshot since the first dashboard connected, then one more per second. */
  readonly tick: number;
  /** Wall-clock time the counters were read (ms since the epoch). */
  readonly at: number;
  /** Length of the interval the rates cover. */
  readonly intervalMs: number;
  readonly connections: number;
  readonly subscriptions: number;
  readonly published: CounterReading;
  readonly delivered: CounterReading;
  readonly streamCount: number;
  /** The busiest streams, by publish rate then total. */
  readonly streams: readonly StreamRates[];
  /** Per hop, in the broker's hop order; null while timings are off (FELIX_DISABLE_TIMINGS=1). */
  readonly hops: Readonly<Record<string, HopInterval>> | null;
  /** Events dropped by subscriber queues, by policy. */
  readonly drops: Readonly<Record<string, CounterReading>>;
  /** Subscribers the broker disconnected, by reason. */
  readonly disconnects: Readonly<Record<string, number>>;
  /** The deepest subscriber queues. */
  readonly slowSubscribers: readonly SlowSubscriber[];
  readonly cache: CacheReading;
  /** The last sampled publishes, oldest first (empty while timings are off). */
  readonly recent: readonly RecentBatch[];
  /** FELIX_DASHBOARD_LATENCY_BANDS_US: ascending thresholds in microseconds. */
  readonly latencyBandsUs: readonly number[];
  /** Version, binds, profile; null for a broker that did not say (tests' sources). */
  readonly broker: BrokerIdentity | null;
  /** How long the broker has run at `at` (ms); null with `broker`. */
  readonly uptimeMs: number | null;
  readonly process: ProcessHealth;
  /** The oldest open connections (at most MAX_CONNECTIONS_SHOWN; `connections` is the count). */
  readonly connectionList: readonly ConnectionRow[];
  readonly cacheRequests: CacheRequestRates;
  /** Payload bytes accepted from publishers. */
  readonly publishedBytes: CounterReading;
  /** Frame bytes handed to subscriber streams. */
  readonly deliveredBytes: CounterReading;
  /** Publishes answered with an error (budget, size, names, permissions, draining, storage). */
  readonly publishRejects: CounterReading;
  /** Malformed, oversized or unknown frames received. */
  readonly protocolErrors: CounterReading;
  /** null when the broker has no durable storage (FELIX_DURABLE_STORAGE_DIR unset). */
  readonly storage: StorageReading | null;
}
