/**
 * The subscribe flow: pick an event connection (round robin over FELIX_EVENT_CONN_POOL), register a fresh
 * subscription id with its router, open the control stream, auth, send `subscribe`, and wait for the
 * broker's answer. Events may start flowing before `subscribed` arrives; they are kept.
 */
import { isLoopbackHost } from '../transport/index.js';
import { HopStats } from './hop-stats.js';
import type { QueuePolicy } from './async-queue.js';
import { BrokerStream } from './broker-stream.js';
import type { ConnectionPool } from './connection-pool.js';
import { settledWithin, withDeadline } from './deadline.js';
import { FelixError, toFelixError } from './errors.js';
import type { EventRouter } from './event-router.js';
import { Subscription, type SubscribeOptions } from './subscription.js';

export interface SubscriberOptions {
  readonly tenant: string;
  readonly token: string;
  readonly namespace: string;
  readonly maxFrameBytes: number;
  readonly queueCapacity: number;
  readonly queuePolicy: QueuePolicy;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly onWarning: (message: string) => void;
  /** Offer TIMINGS and keep per-subscription hop statistics (false with FELIX_DISABLE_TIMINGS=1). */
  readonly timings?: boolean;
}

/** The part of the event pool the subscriber uses. */
export type EventConnections = Pick<ConnectionPool<EventRouter>, 'nextIndex' | 'get'>;

export class Subscriber {
  private readonly live = new Set<Subscription>();

  constructor(
    private readonly pool: EventConnections,
    private readonly options: SubscriberOptions,
  ) {}

  /** Subscriptions not yet ended. */
  get active(): number {
    return this.live.size;
  }

  async subscribe(stream: string, options: SubscribeOptions = {}): Promise<Subscription> {
    const o = this.options;
    const namespace = options.namespace ?? o.namespace;
    if (typeof stream !== 'string' || stream === '' || namespace === '') {
      throw new FelixError('invalid_argument', 'stream and namespace must be non-empty strings');
    }
    const capacity = options.queueCapacity ?? o.queueCapacity;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new FelixError('invalid_argument', `queueCapacity must be a positive integer, got ${capacity}`);
    }
    const { connection, tenant: router } = await this.pool.get(this.pool.nextIndex());
    const id = router.nextSubscriptionId();
    const start = options.start ?? 'latest';
    const subscription = new Subscription({
      id,
      tenant: o.tenant,
      namespace,
      stream,
      start,
      onEvent: options.onEvent,
      onGap: options.onGap,
      queueCapacity: capacity,
      queuePolicy: options.queuePolicy ?? o.queuePolicy,
      closeTimeoutMs: o.closeTimeoutMs,
      onWarning: o.onWarning,
      onEnded: (ended) => {
        router.unregister(ended.id);
        this.live.delete(ended);
      },
      hops: o.timings === false ? null : new HopStats(isLoopbackHost(connection.remote.host)),
    });
    // Registered before `subscribe` is sent, so the event stream's hello finds it in either order.
    router.register(id, subscription.eventSink);
    this.live.add(subscription);
    const label = `subscription ${id} to ${o.tenant}/${namespace}/${stream}`;
    try {
      const control = new BrokerStream(connection.openStream(true), subscription.controlHandler, {
        maxFrameBytes: o.maxFrameBytes,
        onWarning: o.onWarning,
        label: `${label} (control stream)`,
        timings: o.timings,
      });
      subscription.attachControl(control);
      await withDeadline(control.authenticate(o.tenant, o.token), o.connectTimeoutMs, () =>
        this.timeout(subscription, `${label}: no answer to auth within ${o.connectTimeoutMs} ms`),
      );
      control.write(
        control.encode({
          type: 'subscribe',
          tenant_id: o.tenant,
          namespace,
          stream,
          subscription_id: id,
          start,
        }),
      );
      await withDeadline(subscription.subscribed, o.requestTimeoutMs, () =>
        this.timeout(subscription, `${label}: no answer to subscribe within ${o.requestTimeoutMs} ms`),
      );
      return subscription;
    } catch (error) {
      const felixError = toFelixError(error, 'broker_error', label);
      subscription.end(felixError);
      throw felixError;
    }
  }

  /** Unsubscribes everything, bounded by closeTimeoutMs. */
  async close(): Promise<void> {
    const all = [...this.live].map((subscription) => subscription.unsubscribe());
    await settledWithin(Promise.all(all), this.options.closeTimeoutMs);
  }

  private timeout(subscription: Subscription, message: string): FelixError {
    const error = new FelixError('timeout', message);
    subscription.end(error);
    return error;
  }
}
