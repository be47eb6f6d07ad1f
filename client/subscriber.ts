/**
 * The subscribe flow: pick an event connection (round robin over FELIX_EVENT_CONN_POOL), register a fresh
 * subscription id with its router, open the control stream, send `auth` and `subscribe` together, and wait for the
 * broker's answer. Events may start flowing before `subscribed` arrives; they are kept.
 *
 * Each subscription stays on its pool slot. When the slot's connection is lost and the pool reconnects,
 * the subscriptions on it are suspended and, once the new connection is up, subscribe again there from
 * where their events left off (Subscription.subscribeRequest); when the pool gives up, they end.
 */
import type { TokenSource } from './options.js';
import { TransportError, isLoopbackHost, type Connection, type Stream } from '../transport/index.js';
import { HopStats } from './hop-stats.js';
import type { QueuePolicy } from './async-queue.js';
import { shownPath } from '../config/shown-name.js';
import { callbackOf, queuePolicyOf, startPositionOf } from './arguments.js';
import { BrokerStream } from './broker-stream.js';
import type { ConnectionPool, PooledConnection } from './connection-pool.js';
import { settledWithin, withDeadline } from './deadline.js';
import { FelixError, toFelixError, unsentError } from './errors.js';
import type { EventRouter } from './event-router.js';
import type { StatusEvent } from './status.js';
import { Subscription, type SubscribeOptions } from './subscription.js';

export interface SubscriberOptions {
  readonly tenant: string;
  readonly token: TokenSource;
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
  /** Receives `error` when a subscription could not be resumed after a reconnect. */
  readonly onStatus?: (event: StatusEvent) => void;
}

/** The part of the event pool the subscriber uses (listen and markDraining: when it reconnects). */
export type EventConnections = Pick<ConnectionPool<EventRouter>, 'nextIndex' | 'get'> &
  Partial<
    Pick<
      ConnectionPool<EventRouter>,
      'listen' | 'markDraining' | 'name' | 'confirmed' | 'refused' | 'givenUpWith'
    >
  >;

export class Subscriber {
  private readonly live = new Set<Subscription>();

  constructor(
    private readonly pool: EventConnections,
    private readonly options: SubscriberOptions,
  ) {
    pool.listen?.({
      lost: (index, error, resuming) => {
        // Without a reconnect the router ends them, with the error.
        if (resuming) for (const sub of this.on(index)) sub.suspend(error);
      },
      restored: (entry) => {
        for (const sub of this.on(entry.index)) if (sub.isSuspended) void this.resume(sub, entry);
      },
      gaveUp: (index, error) => {
        for (const sub of this.on(index)) sub.end(error);
      },
      // A slot whose subscriptions have all ended is not reconnected until a new one needs it.
      holds: (index) => this.on(index).length > 0,
    });
  }

  /** Subscriptions not yet ended. */
  get active(): number {
    return this.live.size;
  }

  /**
   * Resolves from inside the read of the broker's `subscribed`, not once the set-up below has unwound its
   * awaits: the caller's continuation then runs before the transport's send phase of that read, so what it
   * writes next leaves in the packet that acknowledges the answer (docs/benchmarks.md, "Subscriber set-up
   * vs NATS": one subscription's p50 0.85× what it was).
   */
  subscribe(stream: string, options: SubscribeOptions = {}): Promise<Subscription> {
    return new Promise((resolve, reject) => {
      this.establish(stream, options, resolve).then(resolve, reject);
    });
  }

  private async establish(
    stream: string,
    options: SubscribeOptions,
    confirmed: (subscription: Subscription) => void,
  ): Promise<Subscription> {
    const o = this.options;
    const namespace = options.namespace ?? o.namespace;
    if (typeof stream !== 'string' || stream === '' || typeof namespace !== 'string' || namespace === '') {
      throw new FelixError('invalid_argument', 'stream and namespace must be non-empty strings');
    }
    const capacity = options.queueCapacity ?? o.queueCapacity;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new FelixError('invalid_argument', `queueCapacity must be a positive integer, got ${capacity}`);
    }
    // Checked before anything is sent: a wrong option fails here, not as the broker's refusal.
    const start = startPositionOf(options.start);
    const queuePolicy = queuePolicyOf(options.queuePolicy, o.queuePolicy);
    const onEvent = callbackOf<NonNullable<SubscribeOptions['onEvent']>>('onEvent', options.onEvent);
    const onGap = callbackOf<NonNullable<SubscribeOptions['onGap']>>('onGap', options.onGap);
    const slot = this.pool.nextIndex();
    // Through an outage the pool hands out the connection to come: bounded like any request.
    // A connection that never comes (the client gave up or closed) fails a subscribe that was never sent.
    const pooled = this.pool.get(slot).catch((error: unknown) => {
      throw error instanceof FelixError ? unsentError(error) : error;
    });
    const { connection, tenant: router } = await withDeadline(pooled, o.requestTimeoutMs, () => {
      return new FelixError(
        'timeout',
        `subscribe to ${shownPath(o.tenant, namespace, stream)}: no connection to the broker within ${o.requestTimeoutMs} ms`,
        // Nothing was sent.
        { retry: 'retry' },
      );
    });
    const subscription = new Subscription({
      slot,
      tenant: o.tenant,
      namespace,
      stream,
      start,
      onEvent,
      onGap,
      queueCapacity: capacity,
      queuePolicy,
      closeTimeoutMs: o.closeTimeoutMs,
      onWarning: o.onWarning,
      onEnded: (ended) => this.live.delete(ended),
      hops: o.timings === false ? null : new HopStats(isLoopbackHost(connection.remote.host)),
      onDraining: (on) => this.pool.markDraining?.(slot, on),
      onSubscribed: confirmed,
      onResumeFailed: (failed, error) =>
        o.onStatus?.({ type: 'error', pool: this.pool.name ?? 'event', connection: failed.slot, error }),
    });
    this.live.add(subscription);
    const label = `subscription to ${shownPath(o.tenant, namespace, stream)}`;
    try {
      try {
        await this.open(subscription, connection, router);
      } catch (error) {
        // Lost with its connection while subscribing, or refused on a reconnect's new connection (which the
        // pool then closes): it subscribes on the next one (within the timeout).
        if (!subscription.isSuspended && !this.refusedOnReconnect(error, slot, connection)) throw error;
      }
      await withDeadline(subscription.subscribed, o.requestTimeoutMs, () =>
        this.timeout(
          subscription,
          `${label} (subscription ${subscription.id}): no answer to subscribe within ${o.requestTimeoutMs} ms`,
        ),
      );
      return subscription;
    } catch (error) {
      const felixError = toFelixError(error, 'broker_error', label);
      subscription.end(felixError);
      throw felixError;
    }
  }

  /**
   * Unsubscribes everything, bounded by closeTimeoutMs; with `reason` (the client gave up reconnecting)
   * every subscription ends instead, with its connection's error for that reason (givenUpWith).
   */
  async close(reason?: FelixError): Promise<void> {
    if (reason !== undefined) {
      for (const subscription of [...this.live]) {
        subscription.end(this.pool.givenUpWith?.(subscription.slot, reason) ?? reason);
      }
      return;
    }
    const all = [...this.live].map((subscription) => subscription.unsubscribe());
    await settledWithin(Promise.all(all), this.options.closeTimeoutMs);
  }

  /**
   * Registers `sub` with `router` (before `subscribe` is sent, so the event stream's hello finds it in
   * either order), opens its control stream and sends `auth` with `subscribe` right behind it.
   */
  private async open(sub: Subscription, connection: Connection, router: EventRouter): Promise<void> {
    const o = this.options;
    sub.bind(router, connection);
    const label = `subscription ${sub.id} to ${shownPath(o.tenant, sub.namespace, sub.stream)}`;
    const stream = await this.openControlStream(sub, connection, label);
    if (stream === null) return;
    const control = new BrokerStream(stream, sub.controlHandler, {
      maxFrameBytes: o.maxFrameBytes,
      onWarning: o.onWarning,
      label: `${label} (control stream)`,
      timings: o.timings,
    });
    sub.attachControl(control);
    // `subscribe` goes right behind `auth`: one round trip to `subscribed`, not two.
    await withDeadline(
      control.authenticate(o.tenant, o.token, sub.subscribeRequest()),
      o.connectTimeoutMs,
      () => this.timeout(sub, `${label}: no answer to auth within ${o.connectTimeoutMs} ms`),
    );
    this.pool.confirmed?.(sub.slot, connection);
  }

  /**
   * A new stream for `sub`'s control, or null when `sub` ended meanwhile. Each subscription holds a stream
   * for its life, so past the broker's FELIX_MAX_STREAMS_PER_CONN this waits, within requestTimeoutMs, for
   * one to end (the broker's MAX_STREAMS), as that setting documents, rather than failing at once.
   */
  private async openControlStream(
    sub: Subscription,
    connection: Connection,
    label: string,
  ): Promise<Stream | null> {
    const o = this.options;
    const giveUpAt = performance.now() + o.requestTimeoutMs;
    const tooLong = (): FelixError =>
      this.timeout(
        sub,
        `${label}: the broker allowed no more streams on this connection (FELIX_MAX_STREAMS_PER_CONN) ` +
          `within ${o.requestTimeoutMs} ms`,
      );
    for (;;) {
      if (sub.isClosed) return null;
      try {
        return connection.openStream(true);
      } catch (error) {
        // At the limit, or another opener took the stream it allowed: wait for the next.
        if (!(error instanceof TransportError && error.code === 'stream_limit')) throw error;
      }
      const left = giveUpAt - performance.now();
      if (left <= 0 || !(await connection.whenStreamCredit(true, left))) throw tooLong();
    }
  }

  /** Subscribes `sub` again on the slot's new connection; a failure other than another loss ends it. */
  private async resume(sub: Subscription, entry: PooledConnection<EventRouter>): Promise<void> {
    try {
      await this.open(sub, entry.connection, entry.tenant);
    } catch (error) {
      // Lost again: the next reconnect resumes it.
      if (sub.isSuspended) return;
      if (this.refusedOnReconnect(error, entry.index, entry.connection)) return;
      const felixError = toFelixError(
        error,
        'broker_error',
        `resubscribing to ${shownPath(this.options.tenant, sub.namespace, sub.stream)}`,
      );
      this.options.onStatus?.({
        type: 'error',
        pool: this.pool.name ?? 'event',
        connection: entry.index,
        error: felixError,
      });
      sub.end(felixError);
    }
  }

  /**
   * Whether `error` is the broker refusing auth on a reconnect's new connection, which the pool then takes
   * as a failed attempt: it closes the connection, the subscription is suspended with it and resumed on
   * the next one.
   */
  private refusedOnReconnect(error: unknown, slot: number, connection: Connection): boolean {
    return (
      error instanceof FelixError &&
      error.code === 'auth_failed' &&
      this.pool.refused?.(slot, connection, error) === true
    );
  }

  private on(index: number): Subscription[] {
    return [...this.live].filter((sub) => sub.slot === index);
  }

  private timeout(subscription: Subscription, message: string): FelixError {
    const error = new FelixError('timeout', message);
    subscription.end(error);
    return error;
  }
}
