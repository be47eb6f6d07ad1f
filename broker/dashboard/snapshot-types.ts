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
  readonly id: number;
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
}
