import type { Logger } from 'pino';
import { isLoopbackHost, type Connection, type Stream } from '../transport/index.js';
import type { Message, MessageOf } from '../wire/index.js';
import { ClientStream, STREAM_CODE_SLOW_SUBSCRIBER } from './client-stream.js';
import type { BrokerConfig } from './config.js';
import type { HopTimings } from './hop-timings.js';
import { BudgetAccount, type PublishBudget } from './publish-budget.js';
import type { TopicRegistry } from './registry.js';
import type { BrokerStats } from './stats.js';
import { Subscription, type SubscriptionLimits } from './subscription.js';
import type { Topic } from './topic.js';

export type CacheRequest = MessageOf<'cache_put'> | MessageOf<'cache_get'> | MessageOf<'cache_delete'>;

/** Where a request's answer goes: the stream it came on. */
export interface ReplyTarget {
  send(message: Message): void;
  /** cache_value for `request` (its address and request_id) holding `value`, null for none. */
  sendCacheValue(request: CacheRequest, value: Uint8Array | null): void;
  /** The answer to a stored put: cache_ok, or Felix's plain ok to a put without request_id. */
  sendCacheOk(requestId: number | undefined): void;
}

/** Serves cache requests; answers through `target`, each as it completes, matched by request_id. */
export interface CacheService {
  handle(request: CacheRequest, tenant: string, target: ReplyTarget): void;
}

/** What the per-connection and per-stream handlers need from the broker node. */
export interface BrokerCore {
  readonly config: BrokerConfig;
  readonly registry: TopicRegistry;
  readonly stats: BrokerStats;
  readonly budget: PublishBudget;
  readonly log: Logger;
  readonly cache: CacheService;
  readonly subscriptionLimits: SubscriptionLimits;
  readonly timings: HopTimings | null;
  readonly draining: boolean;
  nextSubscriptionId(): number;
  subscriptionOpened(sub: Subscription): void;
  subscriptionClosed(sub: Subscription): void;
}

/** One client connection: its streams, subscriptions and share of the publish budget. */
export class ConnectionSession {
  readonly account = new BudgetAccount();
  /**
   * The client runs on this host, so its monotonic clock is ours and differences of its stamps and ours
   * are latencies. Across hosts they would be a difference of two clocks, which is reported nowhere.
   */
  readonly sameHost: boolean;
  private readonly streams = new Set<ClientStream>();
  private readonly subscriptions = new Map<number, { sub: Subscription; owner: ClientStream }>();

  constructor(
    private readonly core: BrokerCore,
    readonly connection: Connection,
  ) {
    connection.onStream = (stream) => this.onStream(stream);
    this.sameHost = isLoopbackHost(connection.remote.host);
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  get allSubscriptions(): IterableIterator<{ sub: Subscription }> {
    return this.subscriptions.values();
  }

  hasSubscription(id: number): boolean {
    return this.subscriptions.has(id);
  }

  addSubscription(
    id: number,
    topic: Topic,
    events: Stream,
    owner: ClientStream,
    timings: boolean,
  ): Subscription {
    const sub = new Subscription(
      id,
      topic,
      events,
      this.core.subscriptionLimits,
      this.core.stats,
      (s, reason) => this.evict(s, reason),
      timings ? this.core.timings : null,
    );
    this.subscriptions.set(id, { sub, owner });
    this.core.subscriptionOpened(sub);
    return sub;
  }

  /** Ends a subscription: gracefully (FIN after what is queued) or at once. */
  dropSubscription(sub: Subscription, graceful: boolean): void {
    if (!this.subscriptions.delete(sub.id)) return;
    if (graceful) sub.finish();
    else sub.abort(STREAM_CODE_SLOW_SUBSCRIBER);
    this.core.subscriptionClosed(sub);
  }

  /** A stream finished; forget it. */
  streamEnded(stream: ClientStream): void {
    this.streams.delete(stream);
  }

  /** The connection ended: release everything without writing. */
  dispose(): void {
    for (const s of this.streams) s.dispose();
    this.streams.clear();
    for (const { sub } of this.subscriptions.values()) {
      sub.abort(0);
      this.core.subscriptionClosed(sub);
    }
    this.subscriptions.clear();
  }

  private onStream(stream: Stream): void {
    if (!stream.bidirectional) {
      // Clients publish on bidirectional streams only; a unidirectional one has nowhere to send acks or
      // errors, so refuse it outright.
      stream.stop(0x101);
      return;
    }
    this.streams.add(new ClientStream(this.core, this, stream));
  }

  private evict(sub: Subscription, reason: string): void {
    const entry = this.subscriptions.get(sub.id);
    if (entry === undefined) return;
    this.core.stats.noteDisconnect('slow_subscriber');
    this.core.log.warn({ subscription: sub.id, stream: sub.topic.name, reason }, 'evicting slow subscriber');
    this.dropSubscription(sub, false);
    entry.owner.evicted(sub, reason);
  }
}
