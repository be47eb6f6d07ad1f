/**
 * The broker's state and logic, with no transport: streams and their fanout, subscriptions, the publish
 * budget, the cache, hop timings and counters. The protocol port (broker/quic/) drives it; BrokerNode
 * (broker/node.ts) puts it behind a QUIC endpoint and an HTTP server; tests drive it with in-memory streams.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import { FrameBufferPool } from '../../wire/index.js';
import { openDurableStore, type DurableStore } from '../storage/index.js';
import type { BrokerCore } from './broker-core.js';
import type { TokenAuthority } from './ports.js';
import { CacheStore } from './cache-store.js';
import { HopTimings } from './hop-timings.js';
import { ProducerDedup } from './producer-dedup.js';
import { PublishBudget } from './publish-budget.js';
import { TenantShares, tenantShareLimit } from './tenant-shares.js';
import { TopicRegistry } from './registry.js';
import { BrokerStats } from './stats.js';
import type { Subscription, SubscriptionLimits } from './subscription.js';
import type { Topic } from './topic.js';

const STALL_SWEEP_MS = 250;
// Large partial-frame buffers kept for the next large frames (cache values above 64 KiB): a few
// clients' worth; beyond it, buffers are left to the garbage collector.
const FRAME_BUFFER_POOL_BYTES = 8 * 1024 * 1024;

/** What waits for subscribers, summed at scrape time. */
export interface SubscriberBacklog {
  /** Events in the subscribers' queues, and the deepest queue. */
  readonly total: number;
  readonly max: number;
  /** Events and bytes already written to their event streams that the transport still queues. */
  readonly transportEvents: number;
  readonly transportBytes: number;
}

export class Broker implements BrokerCore {
  readonly stats = new BrokerStats();
  readonly registry: TopicRegistry;
  readonly budget: PublishBudget;
  readonly cache: CacheStore;
  /** Durable streams' logs (FELIX_DURABLE_STORAGE_DIR); null when no directory is configured. */
  readonly storage: DurableStore | null;
  readonly subscriptionLimits: SubscriptionLimits;
  /** Per-hop histograms; null with FELIX_DISABLE_TIMINGS=1, which removes all stamp work. */
  readonly timings: HopTimings | null;
  readonly subscriptions = new Set<Subscription>();
  /** Retried acked publishes already accepted (IDEMPOTENT_PUBLISH); null with FELIX_DEDUP_WINDOW_MS=0. */
  readonly dedup: ProducerDedup | null;
  draining = false;
  /** When (performance.now()) a publish or subscribe was last refused as `draining`; 0: none yet. */
  lastDrainRefusalMs = 0;
  partialFrameBytes = 0;
  readonly tenantShares = new TenantShares();
  readonly tenantPartialFrameLimit: number;
  readonly frameBuffers = new FrameBufferPool(FRAME_BUFFER_POOL_BYTES);
  private readonly drainListeners = new Set<() => void>();

  private sweeps = 0;
  private pendingTopics: Topic[] = [];
  private spareTopics: Topic[] = [];
  private flushQueued = false;
  private readonly flushTopicsBound = (): void => this.flushTopics();
  /** Streams whose batch waits past its turn (Topic.endOfTurn), and the one timer for the earliest deadline. */
  private heldTopics: Topic[] = [];
  private heldTimer: NodeJS.Timeout | null = null;
  private heldDeadline = Infinity;
  private readonly heldTimerBound = (): void => {
    this.heldTimer = null;
    this.heldDeadline = Infinity;
    this.flushHeld(performance.now(), false);
  };
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly config: BrokerConfig,
    readonly log: Logger,
    /** Verifies stream tokens (FELIX_AUTH jwt); null: no authentication. */
    readonly tokens: TokenAuthority | null = null,
  ) {
    this.budget = new PublishBudget(
      config.brokerPublishInflightBytes,
      config.brokerPublishConnInflightBytes,
      tenantShareLimit(
        config.brokerPublishTenantInflightBytes,
        config.brokerPublishConnInflightBytes,
        config.brokerPublishInflightBytes,
      ),
      this.tenantShares,
    );
    this.tenantPartialFrameLimit = tenantShareLimit(
      config.tenantPartialFrameBytes,
      config.connPartialFrameBytes,
      config.partialFrameBytes,
    );
    this.timings = config.disableTimings ? null : new HopTimings();
    // Recovers every durable stream on disk before anything can publish to it.
    this.storage = openDurableStore(config, log);
    this.registry = new TopicRegistry(
      {
        autoCreate: config.autoCreateStreams,
        tenants: config.tenants,
        replayCapacity: config.streamReplayCapacity,
        replayMaxBytes:
          config.streamReplayMaxBytes === 0 ? Number.POSITIVE_INFINITY : config.streamReplayMaxBytes,
        storage: this.storage,
        maxAutoStreamsPerTenant: config.maxAutoStreamsPerTenant,
        idleTimeoutMs: config.streamIdleTimeoutMs,
        batching: {
          // Felix: FELIX_FANOUT_BATCH <= 1 means one frame per event; otherwise it caps the batch too.
          maxEvents: config.fanoutBatch <= 1 ? 1 : Math.min(config.eventBatchMaxEvents, config.fanoutBatch),
          maxBytes: config.eventBatchMaxBytes,
          maxDelayMs: config.fanoutBatch <= 1 ? 0 : config.eventBatchMaxDelayUs / 1000,
        },
      },
      this.stats,
      (t) => this.scheduleTopic(t),
      this.budget,
      this.timings,
    );
    this.cache = new CacheStore(config, this.registry);
    this.dedup =
      config.dedupWindowMs === 0
        ? null
        : new ProducerDedup(
            { windowMs: config.dedupWindowMs, maxProducers: config.dedupMaxProducers },
            performance.now(),
          );
    // The duplicate window outlives a restart: what the durable logs hold of each producer is in it again.
    const recovered = this.storage?.takeRecoveredProducers() ?? [];
    if (this.dedup !== null)
      for (const c of recovered) this.dedup.restore(c.tenant, c.producerId, c.first, c.last);
    this.subscriptionLimits = {
      queueCapacity: config.subQueueCapacity,
      policy: config.subQueuePolicy,
      maxDrops: config.slowSubMaxDrops,
      maxFullMs: config.slowSubMaxFullMs,
      // FELIX_EVENT_SEND_WINDOW: what the transport may hold for one subscriber beyond what quiche accepted;
      // the rest waits in the subscriber's queue, where the queue policy applies.
      writeAheadBytes: config.eventSendWindow,
    };
  }

  /** Starts the background work: slow-subscriber sweeps and cache expiry. */
  start(): void {
    this.sweepTimer = setInterval(() => this.sweep(), STALL_SWEEP_MS);
    this.sweepTimer.unref();
    this.cache.start();
    this.storage?.start();
    // Recovered durable streams exist from the start, with their offsets and epochs.
    if (this.storage !== null) {
      for (const s of this.storage.all) {
        const [tenant, namespace, stream] = s.name.split('/') as [string, string, string];
        this.registry.topic(tenant, namespace, stream);
      }
    }
  }

  stop(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    if (this.heldTimer !== null) clearTimeout(this.heldTimer);
    this.heldTimer = null;
    this.cache.stop();
    this.storage?.stop();
  }

  /**
   * Lame duck: from now on publishes and subscribes are refused with `draining`, and every listener (one
   * per connection: it tells its clients `draining`) is told once.
   */
  beginDraining(): void {
    if (this.draining) return;
    this.draining = true;
    for (const listener of [...this.drainListeners]) listener();
  }

  /** A request was refused as `draining`: shutdown waits until such late requests stop coming. */
  noteDrainRefusal(): void {
    this.lastDrainRefusalMs = performance.now();
  }

  /** Calls `listener` when draining begins; returns what stops it. */
  onDraining(listener: () => void): () => void {
    this.drainListeners.add(listener);
    return () => this.drainListeners.delete(listener);
  }

  subscriptionOpened(sub: Subscription): void {
    this.subscriptions.add(sub);
    this.stats.subscriptionsOpened++;
  }

  subscriptionClosed(sub: Subscription): void {
    if (this.subscriptions.delete(sub)) this.stats.subscriptionsClosed++;
  }

  /** Whether every subscriber's queue and output are empty, and the durable logs hold everything accepted. */
  get delivered(): boolean {
    for (const sub of this.subscriptions) if (!sub.idle) return false;
    return this.storage?.idle ?? true;
  }

  /** Events queued for subscribers, summed, and the deepest single queue. */
  queueDepth(): SubscriberBacklog {
    let total = 0;
    let max = 0;
    let transportEvents = 0;
    let transportBytes = 0;
    for (const sub of this.subscriptions) {
      total += sub.queue.depth;
      if (sub.queue.depth > max) max = sub.queue.depth;
      transportEvents += sub.eventsInTransport;
      transportBytes += sub.bytesInTransport;
    }
    return { total, max, transportEvents, transportBytes };
  }

  /** Cuts every batch being built now, whatever its coalescing delay (shutdown). */
  flushAll(): void {
    this.flushTopics(true);
  }

  private scheduleTopic(topic: Topic): void {
    if (topic.scheduled) return;
    topic.scheduled = true;
    this.pendingTopics.push(topic);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // After the transport's flush that delivered these publishes returns: everything read in one poll
      // batch lands in one frame per stream.
      process.nextTick(this.flushTopicsBound);
    }
  }

  /**
   * The end of an I/O turn for every stream that took events in it: each cuts its batch or, while all its
   * subscribers are backlogged, holds it until its deadline (Topic.endOfTurn). Nothing polls while a batch
   * is held: it is looked at again when its stream takes more events, when any stream's turn ends past
   * the earliest deadline, or by one timer for that deadline.
   */
  private flushTopics(force = false): void {
    this.flushQueued = false;
    const topics = this.pendingTopics;
    this.pendingTopics = this.spareTopics;
    const now = performance.now();
    for (let i = 0; i < topics.length; i++) {
      const t = topics[i]!;
      t.scheduled = false;
      const wasHeld = t.held;
      const deadline = this.endTurn(t, now, force);
      if (deadline < 0) continue;
      if (!wasHeld) this.heldTopics.push(t);
      this.armHeldTimer(deadline, now);
    }
    if (this.heldTopics.length !== 0 && (force || now >= this.heldDeadline)) this.flushHeld(now, force);
    // Every stream's turn has ended: what they delivered goes on the wire now (Topic.pushSubscribers).
    for (let i = 0; i < topics.length; i++) topics[i]!.pushSubscribers();
    topics.length = 0;
    this.spareTopics = topics;
  }

  /**
   * Topic.endOfTurn, guarded: it runs after the transport's turn (a tick) or on a timer, outside every
   * connection's handlers, so a defect in cutting one stream's batch costs that stream's subscribers their
   * connections (they resume from their offsets on reconnecting), never the process. -1: nothing held.
   */
  private endTurn(t: Topic, now: number, force: boolean): number {
    try {
      return t.endOfTurn(now, force);
    } catch (err) {
      this.log.error(
        { err, stream: t.name },
        "internal error ending a stream's turn; closing its subscribers",
      );
      // Counted once per connection closed for it (each subscriber's failure), or once when none.
      if (t.hasSubscribers) t.failSubscribers(err);
      else this.stats.internalErrors++;
      return -1;
    }
  }

  /** Held batches past their deadline (or all, when forced) are cut; the timer is armed for the rest. */
  private flushHeld(now: number, force: boolean): void {
    const held = this.heldTopics;
    this.heldTopics = [];
    let earliest = Infinity;
    for (let i = 0; i < held.length; i++) {
      const t = held[i]!;
      // Cut since it was held (a full batch, or a later turn that found a subscriber idle).
      if (!t.held) continue;
      const deadline = this.endTurn(t, now, force);
      t.pushSubscribers();
      if (deadline < 0) continue;
      this.heldTopics.push(t);
      if (deadline < earliest) earliest = deadline;
    }
    if (this.heldTimer !== null) clearTimeout(this.heldTimer);
    this.heldTimer = null;
    this.heldDeadline = Infinity;
    if (earliest !== Infinity) this.armHeldTimer(earliest, now);
  }

  private armHeldTimer(deadline: number, now: number): void {
    if (deadline >= this.heldDeadline) return;
    if (this.heldTimer !== null) clearTimeout(this.heldTimer);
    this.heldDeadline = deadline;
    // Node's timers fire 1 ms after at the soonest: a held batch that nothing else looks at again waits
    // that long even under a shorter delay (the backlog ahead of it is usually longer).
    this.heldTimer = setTimeout(this.heldTimerBound, Math.max(1, deadline - now));
    this.heldTimer.unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const sub of this.subscriptions) {
      // Outside the transport's per-connection guard (a timer): a throw here costs its connection only.
      try {
        sub.checkStall(now);
      } catch (err) {
        sub.failed(err);
      }
    }
    // Idle streams are looked for every idleLookPeriodMs (a multiple of this sweep's period): a pass over
    // every auto-created stream.
    const lookEvery = this.registry.idleLookPeriodMs / STALL_SWEEP_MS;
    if (lookEvery !== 0 && ++this.sweeps % lookEvery === 0)
      this.stats.streamsRemovedIdle += this.registry.sweepIdle();
    this.dedup?.sweep(now);
  }
}
