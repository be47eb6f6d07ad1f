/**
 * One subscription: its control stream (auth, `subscribe`, the broker's answer, a later eviction notice)
 * and the event stream the broker opened for it. Events reach the application either through an async
 * iterator with a bounded local queue, or synchronously through an `onEvent` callback (no promise, no
 * queue: the fast mode). Every event carries its offset; gaps the broker left are counted and reported.
 *
 * Resuming. When its connection is lost and the pool reconnects, the subscription is suspended (its
 * iterator keeps what it had queued) and then subscribes again on the new connection from `nextOffset`,
 * naming the stream epoch it knows. Offsets never silently change meaning: when the broker lost the
 * stream's history (it restarted: `epoch_changed`), the subscription starts again from the oldest event of
 * the new epoch and reports a gap of unknown size (`missed` undefined, `epochChanged`); when retention
 * moved past `nextOffset` (`too_old`) it continues from the oldest retained event and the gap names the
 * events missed.
 */
import {
  FLAG_TIMINGS,
  STREAM_CODE_CLIENT_GONE,
  STREAM_CODE_SLOW_SUBSCRIBER,
  monotonicNs,
} from '../wire/index.js';
import type { ClientHop, HopSummary } from './hop-stats.js';
import type { Stream } from '../transport/index.js';
import {
  copyBytes,
  decodeFramePayload,
  decodeMessage,
  type DecodedFrame,
  type Message,
  type MessageOf,
  type StartPosition,
} from '../wire/index.js';
import { AsyncQueue } from './async-queue.js';
import type { Connection } from '../transport/index.js';
import type { BrokerStream, BrokerStreamHandler } from './broker-stream.js';
import { noop, settledWithin } from './deadline.js';
import { shownPath } from '../config/shown-name.js';
import { FelixError, SLOW_CONSUMER, brokerError } from './errors.js';
import type { EventRouter, EventStreamSink } from './event-router.js';
import { SubscriptionCursor } from './subscription-cursor.js';
import { SubscriptionEvent, type FelixEvent } from './subscription-event.js';
import type { SubscriptionParams } from './subscription-options.js';

export type { FelixEvent, GapInfo } from './subscription-event.js';
export type { SubscribeOptions } from './subscription-options.js';

// After a reset, how long to wait for the control stream's error, which says why.
const RESET_REASON_GRACE_MS = 1000;
// Cursor errors one resume may meet before it gives up (each sends a corrected subscribe; only a stream
// whose retention races ahead of the cursor, or a broker restarting again and again, needs more than one).
const MAX_RESUME_CURSOR_ERRORS = 8;

/**
 * subscribing: `subscribe` sent (first or again), not yet confirmed; active; suspended: the connection was
 * lost, a new one is awaited; unsubscribing; ended.
 */
type State = 'subscribing' | 'active' | 'suspended' | 'unsubscribing' | 'ended';

export class Subscription implements AsyncIterable<FelixEvent> {
  readonly tenant: string;
  readonly namespace: string;
  readonly stream: string;
  /** Resolves when the subscription has ended: with the reason, or undefined after unsubscribe(). Never rejects. */
  readonly closed: Promise<FelixError | undefined>;
  /** Events accepted from the broker (after skipping those below the cursor). */
  received = 0;

  /** @internal resolves on `subscribed`, rejects when the subscribe fails */
  readonly subscribed: Promise<void>;
  /** @internal handlers of the control stream */
  readonly controlHandler: BrokerStreamHandler;
  /** @internal the router's view of this subscription */
  readonly eventSink: EventStreamSink;

  private state: State = 'subscribing';
  /** `subscribed` arrived once: the subscribe() call has resolved, later answers belong to resumes. */
  private confirmed = false;
  private currentId = 0;
  private router: EventRouter | null = null;
  private connection: Connection | null = null;
  /** Cursor errors met since this resume's `subscribe` (MAX_RESUME_CURSOR_ERRORS). */
  private cursorErrors = 0;
  private control: BrokerStream | null = null;
  private events: Stream | null = null;
  private eventsEnded = false;
  private controlEnded = false;
  private resetTimer: NodeJS.Timeout | null = null;
  /** What the subscription has received and handed over, for gaps and for resuming across reconnects. */
  private readonly cursor: SubscriptionCursor;
  private readonly queue: AsyncQueue<FelixEvent>;
  private readonly onEvent: ((event: FelixEvent) => void) | undefined;
  /** An iterator was handed out: another is refused while the queue still has something for it. */
  private iterated = false;
  private resolveClosed!: (error: FelixError | undefined) => void;
  private resolveSubscribed!: () => void;
  private rejectSubscribed!: (error: FelixError) => void;

  /** @internal the Subscriber makes them (FelixClient.subscribe). */
  constructor(private readonly params: SubscriptionParams) {
    this.tenant = params.tenant;
    this.namespace = params.namespace;
    this.stream = params.stream;
    this.onEvent = params.onEvent;
    const cursor = new SubscriptionCursor(params.start, params.onGap, (message) =>
      params.onWarning(`${this.label()}: ${message}`),
    );
    this.cursor = cursor;
    this.queue = new AsyncQueue<FelixEvent>({
      capacity: params.queueCapacity,
      policy: params.queuePolicy,
      onFull: () => this.events?.pause(),
      onRoom: () => this.events?.resume(),
      onTake: (event) => cursor.handedOver(event.offset),
    });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.subscribed = new Promise<void>((resolve, reject) => {
      this.resolveSubscribed = resolve;
      this.rejectSubscribed = reject;
    });
    this.subscribed.catch(noop);
    this.controlHandler = {
      onFrame: (flags, payload) => this.onControlFrame(flags, payload),
      onEnd: (error) => this.onControlEnd(error),
      onDrain: noop,
    };
    this.eventSink = {
      attachEventStream: (stream) => this.attachEventStream(stream),
      onEventFrame: (flags, payload, owned) => this.onEventFrame(flags, payload, owned),
      onEventStreamEnd: (ending) => this.onEventStreamEnd(ending),
      onConnectionClosed: (error) => this.end(error),
    };
  }

  /** The subscription id on its current connection (a resume on a new connection may change it). */
  get id(): number {
    return this.currentId;
  }

  /**
   * The stream's epoch (its incarnation on the broker) as of the last `subscribed`; offsets mean
   * something only together with it. Undefined from a broker that sends none.
   */
  get epoch(): number | undefined {
    return this.cursor.epoch;
  }

  /** @internal the event pool slot it lives on */
  get slot(): number {
    return this.params.slot;
  }

  /** @internal waiting for a new connection */
  get isSuspended(): boolean {
    return this.state === 'suspended';
  }

  /**
   * Per-hop latency of this subscription's events (publisher → broker, broker decode → enqueue, queueing,
   * broker → here, end to end), from the TIMINGS stamps; null when timings are off. Hops between
   * processes are measured only when the broker runs on this host (one clock).
   */
  hopStats(): Record<ClientHop, HopSummary> | null {
    return this.params.hops?.summary() ?? null;
  }

  /** Runs of offsets the broker skipped. */
  get gaps(): number {
    return this.cursor.gaps;
  }

  /**
   * Events the broker dropped for this subscriber (the sum over all gaps' offsets). After an unclean stop
   * of a durable stream it also counts offsets reserved and never used: an upper bound of events lost.
   * Not the drops that got it evicted (subscription_evicted ends it first): subscribe again from
   * nextOffset, and a `cursor_too_old` refusal's `available` says where the retained events begin.
   */
  get missed(): number {
    return this.cursor.missed;
  }

  /** Events received below the cursor (a replay overlapping the start) and skipped. */
  get skipped(): number {
    return this.cursor.skipped;
  }

  /** Events the local queue discarded (drop_new/drop_old), counted apart from the broker's gaps. */
  get localDropped(): number {
    return this.queue.dropped;
  }

  /** Events waiting in the local queue. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * The offset to resume from ({ offset: sub.nextOffset }) after this subscription ended: the one after the
   * last event the application was given (by the iterator or onEvent) — not after events still queued, nor
   * after those a loop left early discarded. Before the first event, where the subscription started
   * (`subscribed.start_offset`: a 'latest' subscription's tail then); -1 only when the broker did not say.
   */
  get nextOffset(): number {
    return this.cursor.nextToHandOver;
  }

  get isClosed(): boolean {
    return this.state === 'ended';
  }

  /**
   * Ends the subscription: closes its control stream, after which the broker ends the event stream. The
   * iterator finishes after the events already queued; events arriving later are discarded. Resolves once
   * the broker has ended the event stream, or after closeTimeoutMs.
   */
  async unsubscribe(): Promise<void> {
    if (this.state === 'ended') return;
    if (this.state !== 'unsubscribing') {
      this.state = 'unsubscribing';
      this.queue.end();
      // Whatever the broker still sends is discarded; reading it lets the broker finish the stream.
      this.events?.resume();
      if (this.control !== null && !this.controlEnded) this.control.end();
      else this.end(undefined);
    }
    if (!(await settledWithin(this.closed, this.params.closeTimeoutMs))) this.end(undefined);
  }

  /** The same as unsubscribe(). */
  close(): Promise<void> {
    return this.unsubscribe();
  }

  /**
   * Events in order. Leaving a for-await loop early unsubscribes, as in nats.js. One reader at a time:
   * iterators share the one queue, so a second would take every other event from the first; it fails at
   * once instead (invalid_argument) until the first is done (left, or read to the end).
   */
  [Symbol.asyncIterator](): AsyncIterator<FelixEvent> {
    if (this.onEvent !== undefined) {
      throw new FelixError(
        'invalid_argument',
        'a subscription with onEvent delivers to the callback, not an iterator',
      );
    }
    const queue = this.queue;
    if (this.iterated && !queue.exhausted) {
      throw new FelixError(
        'invalid_argument',
        'a subscription is iterated by one reader at a time: another iterator is reading it ' +
          '(subscribe again for a second reader of the stream)',
      );
    }
    this.iterated = true;
    return {
      next: () => queue.next(),
      return: async () => {
        await this.unsubscribe();
        return queue.return();
      },
    };
  }

  /** @internal registers with `router` under a fresh id, before `subscribe` is sent. Throws beyond its bound. */
  bind(router: EventRouter, connection: Connection): number {
    const id = router.nextSubscriptionId();
    router.register(id, this.eventSink);
    this.router = router;
    this.connection = connection;
    this.currentId = id;
    return id;
  }

  /** @internal the control stream is open (auth not yet answered) */
  attachControl(control: BrokerStream): void {
    this.control = control;
    this.controlEnded = false;
    this.events = null;
    this.eventsEnded = false;
    if (this.state === 'suspended') this.state = 'subscribing';
  }

  /**
   * @internal the `subscribe` to send: the caller's start the first time; after a lost connection, where
   * the events left off (`nextOffset`) in the epoch they belong to.
   */
  subscribeRequest(): MessageOf<'subscribe'> {
    if (!this.confirmed) return this.request(this.params.start, undefined);
    this.cursorErrors = 0;
    return this.request(this.cursor.resumeStart(), this.cursor.epoch);
  }

  /**
   * @internal the connection was lost and the pool seeks a new one: keep the queue and the cursor, drop the
   * streams (they are gone with the connection), and wait to be resumed.
   */
  suspend(error: FelixError): void {
    if (this.state === 'ended' || this.state === 'suspended') return;
    if (this.state === 'unsubscribing') {
      // The broker ended the subscription with the connection: the unsubscribe is complete.
      this.end(undefined);
      return;
    }
    this.state = 'suspended';
    if (this.resetTimer !== null) clearTimeout(this.resetTimer);
    this.resetTimer = null;
    this.control?.abandon(error);
    this.control = null;
    this.events = null;
    this.unbind();
  }

  /** @internal ends with `error` (undefined: normally). Idempotent. */
  end(error: FelixError | undefined): void {
    if (this.state === 'ended') return;
    const wasSubscribing = !this.confirmed;
    this.state = 'ended';
    if (this.resetTimer !== null) clearTimeout(this.resetTimer);
    this.resetTimer = null;
    const events = this.events;
    if (events !== null && !this.eventsEnded) {
      events.resume();
      events.stop(STREAM_CODE_CLIENT_GONE);
    }
    const control = this.control;
    if (control !== null && !this.controlEnded) {
      if (error === undefined) control.end();
      else control.abort(error);
    }
    this.queue.end(error);
    if (wasSubscribing) {
      this.rejectSubscribed(
        error ?? new FelixError('connection_closed', `${this.label()}: closed while subscribing`),
      );
    }
    this.unbind();
    this.params.onEnded(this);
    this.resolveClosed(error);
  }

  private unbind(): void {
    this.router?.unregister(this.currentId);
    this.router = null;
    this.connection = null;
  }

  private request(start: StartPosition, epoch: number | undefined): MessageOf<'subscribe'> {
    const request: MessageOf<'subscribe'> = {
      type: 'subscribe',
      tenant_id: this.tenant,
      namespace: this.namespace,
      stream: this.stream,
      subscription_id: this.currentId,
      start,
    };
    if (epoch !== undefined) request.epoch = epoch;
    return request;
  }

  /** Asks again on the same control stream (the refused id is free again), after a cursor error. */
  private resubscribe(start: StartPosition, epoch: number | undefined): void {
    const control = this.control;
    if (control === null || !control.writable) return;
    if (++this.cursorErrors > MAX_RESUME_CURSOR_ERRORS) {
      this.failResume(
        new FelixError(
          'connection_closed',
          `${this.label()}: could not resume: ${MAX_RESUME_CURSOR_ERRORS} cursor errors in a row`,
        ),
      );
      return;
    }
    control.write(control.encode(this.request(start, epoch)));
  }

  /** A subscription confirmed before could not be resumed: the client's status hears it, then it ends. */
  private failResume(error: FelixError): void {
    this.params.onResumeFailed?.(this, error);
    this.end(error);
  }

  /** A cursor error answering a resume: continue where the broker can, with the gap reported. */
  private onResumeCursorError(message: MessageOf<'subscribe_cursor_error'>): void {
    const again = this.cursor.afterResumeCursorError(message);
    this.resubscribe(again.start, again.epoch);
  }

  private onControlFrame(flags: number, payload: Uint8Array): void {
    let message: Message;
    try {
      message = decodeMessage(flags, payload);
    } catch (error) {
      this.params.onWarning(`${this.label()}: undecodable control frame: ${(error as Error).message}`);
      return;
    }
    switch (message.type) {
      case 'subscribed':
        if (this.state !== 'subscribing') return;
        if (message.subscription_id !== this.currentId) {
          this.end(
            new FelixError(
              'protocol_error',
              `${this.label()}: the broker confirmed subscription ${message.subscription_id} instead`,
            ),
          );
          return;
        }
        this.cursor.subscribed(message.start_offset, message.epoch);
        this.state = 'active';
        if (!this.confirmed) {
          this.confirmed = true;
          this.resolveSubscribed();
          this.params.onSubscribed?.(this);
        }
        return;
      case 'subscribe_cursor_error':
        if (this.state !== 'subscribing') return;
        if (this.confirmed) {
          this.onResumeCursorError(message);
          return;
        }
        this.end(
          new FelixError(
            message.reason === 'too_old' ? 'cursor_too_old' : 'cursor_in_future',
            `${this.label()}: cannot start at offset ${message.requested}: ` +
              (message.reason === 'too_old'
                ? `the oldest retained offset is ${message.available}`
                : `the stream's tail is ${message.available}`),
            { requested: message.requested, available: message.available },
          ),
        );
        return;
      case 'error':
        if (this.state === 'subscribing' && this.confirmed && message.code === 'draining') {
          // A resume that reached a broker going away: the next connection will take it.
          return;
        }
        // Before `subscribed` it refuses the subscribe; after, it is why the broker ended it: an eviction
        // (a slow consumer), or another failure such as its log that could not be read (storage_error).
        if (this.state !== 'subscribing') {
          const evicted = message.code === undefined || message.code === 'limit_exceeded';
          this.end(
            brokerError(
              evicted ? 'subscription_evicted' : 'broker_error',
              `${this.label()}: ended by the broker`,
              message,
            ),
          );
          return;
        }
        if (this.confirmed) {
          this.failResume(brokerError('broker_error', `${this.label()}: resubscribe refused`, message));
          return;
        }
        this.end(brokerError('broker_error', `${this.label()}: subscribe refused`, message));
        return;
      case 'draining':
        if (this.connection !== null) this.params.onDraining?.(this.connection);
        return;
      default:
        this.params.onWarning(`${this.label()}: unexpected ${message.type} on the control stream`);
    }
  }

  private onControlEnd(error: FelixError | null): void {
    this.controlEnded = true;
    if (error !== null) {
      this.end(error);
    } else if (this.state === 'unsubscribing') {
      if (this.events === null || this.eventsEnded) this.end(undefined);
    } else if (this.eventsEnded || this.events === null) {
      this.end(new FelixError('connection_closed', `${this.label()}: the broker ended the subscription`));
    }
    // Otherwise the event stream's end (after its last events) ends the subscription.
  }

  private attachEventStream(stream: Stream): void {
    this.events = stream;
    if (this.queue.isFull) stream.pause();
  }

  private onEventStreamEnd(ending: number | FelixError | null): void {
    this.eventsEnded = true;
    if (this.state === 'unsubscribing' || this.state === 'ended') {
      this.end(undefined);
    } else if (ending === null) {
      this.end(new FelixError('connection_closed', `${this.label()}: the broker ended the event stream`));
    } else if (ending instanceof FelixError) {
      this.end(ending);
    } else if (this.resetTimer === null) {
      // The broker says why on the control stream; give that message a moment to arrive.
      const code = ending;
      this.resetTimer = setTimeout(() => this.end(this.resetError(code)), RESET_REASON_GRACE_MS);
      this.resetTimer.unref();
    }
  }

  private resetError(code: number): FelixError {
    return code === STREAM_CODE_SLOW_SUBSCRIBER
      ? new FelixError(
          'subscription_evicted',
          `${this.label()}: evicted by the broker as a slow subscriber (${SLOW_CONSUMER})`,
          { detail: { reason: SLOW_CONSUMER } },
        )
      : new FelixError(
          'connection_closed',
          `${this.label()}: the broker reset the event stream (code ${code})`,
        );
  }

  private onEventFrame(flags: number, payload: Uint8Array, owned: boolean): void {
    if (this.state === 'unsubscribing' || this.state === 'ended') return;
    // The subscriber's hop ends when the batch is here, before any decoding.
    const stamped = (flags & FLAG_TIMINGS) !== 0;
    const receivedNs = stamped ? monotonicNs() : 0;
    let frame: DecodedFrame;
    try {
      // At most one copy per frame, out of the transport's scratch (none when the decoder handed over a
      // buffer of its own); every event of the frame is a view of it. JSON decoding copies each payload
      // already (base64).
      // The stamps are read from the payload below, not into an object of their own.
      frame = decodeFramePayload(flags, flags === 0 || owned ? payload : copyBytes(payload), false);
    } catch (error) {
      this.params.onWarning(
        `${this.label()}: skipped an undecodable event frame: ${(error as Error).message}`,
      );
      return;
    }
    switch (frame.type) {
      case 'binary_event_batch':
        if (stamped) this.params.hops?.recordBlock(payload, receivedNs);
        this.deliverAll(frame.payloads, frame.base_offset);
        return;
      case 'event_batch':
        this.deliverAll(frame.payloads, frame.base_offset);
        return;
      case 'event':
        this.deliver(frame.payload, frame.offset ?? -1);
        return;
      case 'events_dropped':
        this.cursor.droppedThrough(frame.through_offset, frame.events);
        return;
      default:
        this.params.onWarning(`${this.label()}: unexpected ${frame.type} on the event stream`);
    }
  }

  private deliverAll(payloads: Uint8Array[], baseOffset: number | undefined): void {
    for (let i = 0; i < payloads.length; i++) {
      this.deliver(payloads[i]!, baseOffset === undefined ? -1 : baseOffset + i);
      if (this.state !== 'active' && this.state !== 'subscribing') return;
    }
  }

  private deliver(payload: Uint8Array, offset: number): void {
    const cursor = this.cursor;
    let gap = 0;
    let epochChanged = false;
    if (offset >= 0) {
      gap = cursor.accept(offset);
      if (gap < 0) return;
      if (cursor.historyGap !== null) {
        epochChanged = cursor.historyGap.epochChanged;
        gap = cursor.reportHistoryGap(offset);
      } else if (gap > 0) cursor.reportGap(offset, gap);
    }
    this.received++;
    const event = new SubscriptionEvent(
      this.tenant,
      this.namespace,
      this.stream,
      payload,
      offset,
      gap,
      epochChanged,
    );
    const onEvent = this.onEvent;
    if (onEvent === undefined) {
      this.queue.push(event);
      return;
    }
    cursor.handedOver(offset);
    try {
      onEvent(event);
    } catch (error) {
      this.params.onWarning(`${this.label()}: onEvent threw: ${(error as Error).message}`);
    }
  }

  private label(): string {
    return `subscription ${this.id} to ${shownPath(this.tenant, this.namespace, this.stream)}`;
  }
}
