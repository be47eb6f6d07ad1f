/**
 * The subscriptions made on one client stream (its control stream): checks, replay, the broker-opened event
 * stream in the encoding the client negotiated, and the end of each subscription with its control stream.
 */
import type { MessageOf } from '../../wire/index.js';
import type { BrokerCore } from '../core/broker-core.js';
import { DiskCatchUp } from '../core/disk-catch-up.js';
import type { EventFrame } from '../core/event-frame.js';
import { tenantRefusal } from '../core/registry.js';
import { SLOW_CONSUMER_REASON, transportShare, type Subscription } from '../core/subscription.js';
import type { ConnectionSession } from './connection-session.js';
import type { EventEncoding } from './event-encoding.js';
import { EventStreamWriter } from './event-writer.js';
import type { Access } from './access.js';
import type { Replies } from './replies.js';
import type { ByteStream } from './stream-port.js';

export class SubscribeHandler {
  private readonly subscriptions: Subscription[] = [];
  /** Subscribers still reading a durable stream's history from disk. */
  private readonly catchUps = new Map<Subscription, DiskCatchUp>();

  constructor(
    private readonly core: BrokerCore,
    private readonly session: ConnectionSession,
    private readonly replies: Replies,
    private readonly access: Access,
  ) {}

  /** Whether a subscription made on this stream is still live. */
  get holdsAny(): boolean {
    return this.subscriptions.length !== 0;
  }

  subscribe(m: MessageOf<'subscribe'>, tenant: string, encoding: EventEncoding): void {
    const core = this.core;
    const replies = this.replies;
    if (core.draining) {
      core.noteDrainRefusal();
      replies.sendError('broker is draining for shutdown', 'draining');
      return;
    }
    if (m.tenant_id !== tenant) {
      replies.sendError(tenantRefusal(tenant, m.tenant_id), 'forbidden');
      return;
    }
    // Replay is a subscription too: the same permission covers history and live events.
    const denied = this.access.denied('stream.subscribe', m.tenant_id, m.namespace, m.stream);
    if (denied !== undefined) {
      replies.sendError(denied, 'forbidden');
      return;
    }
    if (this.session.subscriptionCount >= core.config.maxSubscriptionsPerConn) {
      // Room comes back when one of this connection's subscriptions ends: `retry_after`, not the code's
      // `fatal` (another connection has room now).
      replies.sendError(
        `max subscriptions per connection exceeded (FELIX_MAX_SUBSCRIPTIONS_PER_CONN ` +
          `${core.config.maxSubscriptionsPerConn}): subscribe on another connection, or once one ends`,
        'limit_exceeded',
        undefined,
        { retry: 'retry_after' },
      );
      return;
    }
    const found = core.registry.topic(m.tenant_id, m.namespace, m.stream);
    if (!found.ok) {
      replies.sendError(found.message, found.code, undefined, found.site);
      return;
    }
    const topic = found.value;
    const id = m.subscription_id ?? this.session.freeSubscriptionId();
    if (this.session.hasSubscription(id)) {
      replies.sendError(`subscription_id ${id} is already in use on this connection`, 'invalid_request');
      return;
    }
    const start = m.start ?? 'latest';
    if (m.epoch !== undefined && m.epoch !== topic.epoch) {
      // The offsets the client holds count another incarnation of the stream (the broker restarted):
      // never serve them as if they meant the same events.
      const log = topic.log;
      replies.send({
        type: 'subscribe_cursor_error',
        reason: 'epoch_changed',
        requested:
          typeof start === 'object' ? start.offset : start === 'earliest' ? topic.oldestOffset : log.next,
        available: topic.oldestOffset,
        epoch: topic.epoch,
      });
      return;
    }
    let replay: readonly EventFrame[] | undefined;
    /** Where a durable stream's subscriber starts reading its log, when the ring does not hold `from`. */
    let fromDisk: number | undefined;
    /** The offset it starts at (`latest`: the tail now; it joins the topic in this same turn). */
    let startOffset = topic.log.next;
    if (start === 'earliest' || typeof start === 'object') {
      const from = start === 'earliest' ? topic.oldestOffset : start.offset;
      startOffset = from;
      const r = topic.replayFrom(from);
      const onDisk = topic.storage !== null && from >= topic.storage.oldestOffset;
      if (!r.ok && r.error === 'too_old' && onDisk) fromDisk = from;
      else if (!r.ok) {
        replies.send({
          type: 'subscribe_cursor_error',
          reason: r.error,
          requested: from,
          available: r.error === 'too_old' ? topic.oldestOffset : r.next,
          epoch: topic.epoch,
        });
        return;
      } else replay = r.frames;
    }
    let events: ByteStream;
    try {
      events = this.session.openEventStream();
    } catch (err) {
      this.refuseEventStream(err);
      return;
    }
    const maxBytes = core.config.subQueueMaxBytes;
    const writer = new EventStreamWriter(
      events,
      id,
      topic,
      encoding,
      encoding.timings ? core.timings : null,
      transportShare(core.subscriptionLimits.writeAheadBytes, maxBytes),
      core.config.maxFrameBytes,
      () => core.stats.eventsTooLargeForEncoding++,
    );
    const sub = this.session.addSubscription(id, topic, writer, this);
    sub.limitBytes(maxBytes);
    this.subscriptions.push(sub);
    // Heard when a write to the stream finds it stopped; ended after that write, outside the fan-out. A
    // microtask is outside the transport's per-connection guard, so it brings its own.
    events.onStopSending = () =>
      queueMicrotask(() => {
        try {
          this.abandoned(sub);
        } catch (err) {
          this.session.internalError(err);
        }
      });
    replies.send({ type: 'subscribed', subscription_id: id, epoch: topic.epoch, start_offset: startOffset });
    if (fromDisk !== undefined) {
      this.catchUp(sub, writer, fromDisk);
      return;
    }
    if (replay !== undefined) sub.replay(replay);
    topic.addSubscriber(sub);
  }

  /**
   * The subscription's event stream could not be opened: the client's limit on the streams the broker may
   * open. A client that granted event streams gets one back when one of this connection's subscriptions
   * ends (`retry_after`, as at FELIX_MAX_SUBSCRIPTIONS_PER_CONN); one that granted none at all
   * (initial_max_streams_uni 0) gets none by waiting, so sending the subscribe again fails the same way
   * (limit_exceeded's `fatal`).
   */
  private refuseEventStream(err: unknown): void {
    if (!this.session.grantsEventStreams) {
      this.replies.sendError(
        'cannot open the event stream: this connection allows the broker no unidirectional streams ' +
          '(initial_max_streams_uni 0), so it cannot receive events: subscribe on one that does',
        'limit_exceeded',
      );
      return;
    }
    this.replies.sendError(
      `cannot open the event stream: ${(err as Error).message}: subscribe again once one of its ` +
        'subscriptions ends',
      'limit_exceeded',
      undefined,
      { retry: 'retry_after' },
    );
  }

  /** Serves the subscriber's history from the stream's log, then joins it to the live stream. */
  private catchUp(sub: Subscription, writer: EventStreamWriter, from: number): void {
    const catchUp = new DiskCatchUp(sub.topic, sub, from, (err) => {
      this.catchUps.delete(sub);
      this.core.log.error(
        { subscription: sub.id, stream: sub.topic.name, err },
        'reading the stream log failed',
      );
      this.replies.sendError(`subscription ${sub.id} ended: reading the stream log failed`, 'storage_error');
      // Ended with a FIN after what it was given (the events read before the failure), not reset: a reset
      // would discard them, and its code says slow subscriber.
      this.session.dropSubscription(sub, true);
    });
    this.catchUps.set(sub, catchUp);
    // The subscription pumps its queue on drain; after that, the catch-up reads on.
    const pump = writer.onDrain;
    writer.onDrain = () => {
      pump?.();
      if (!catchUp.done) catchUp.step();
      else this.catchUps.delete(sub);
    };
    catchUp.step();
  }

  /** Broker side of an eviction: tell the subscriber why on its control stream. */
  evicted(sub: Subscription, reason: string): void {
    const i = this.subscriptions.indexOf(sub);
    if (i >= 0) this.subscriptions.splice(i, 1);
    this.catchUps.get(sub)?.close();
    this.catchUps.delete(sub);
    // Every eviction is of a slow consumer: its reason travels in `detail` (with ERROR_CODES) so the SDK
    // reports it without parsing the message. Subscribing again is safe once the consumer keeps up, so
    // `retry_after` rather than limit_exceeded's `fatal`. Written only while the control stream is open.
    this.replies.sendError(`subscription ${sub.id} evicted: ${reason}`, 'limit_exceeded', undefined, {
      retry: 'retry_after',
      detail: { reason: SLOW_CONSUMER_REASON },
    });
  }

  /**
   * The client stopped the subscription's event stream (STOP_SENDING, any code): the subscription ends as
   * if unsubscribed — no error notice, its id free again; the control stream and its other subscriptions
   * go on.
   */
  private abandoned(sub: Subscription): void {
    const i = this.subscriptions.indexOf(sub);
    if (i < 0) return;
    this.subscriptions.splice(i, 1);
    this.catchUps.get(sub)?.close();
    this.catchUps.delete(sub);
    this.session.dropSubscription(sub, false);
  }

  /**
   * The control stream ended: its subscriptions end too — `graceful`ly (after what was queued for them)
   * when the client closed it, at once when the connection is gone.
   */
  endAll(graceful: boolean): void {
    for (const sub of this.subscriptions) this.session.dropSubscription(sub, graceful);
    this.subscriptions.length = 0;
    for (const catchUp of this.catchUps.values()) catchUp.close();
    this.catchUps.clear();
  }
}
