/**
 * A long-lived request stream (a publish worker; the cache client's workers later): many requests in
 * flight at once (pipelined), answers matched by request_id in whatever order they come, the send side
 * bounded and interleaved by an OutboundQueue. Everything on the hot path is synchronous: a request is a
 * Map insert and a write, an answer a Map lookup.
 */
import type { Connection } from '../transport/index.js';
import {
  FLAG_BINARY_PUBLISH_ACK,
  FLAG_MSGPACK,
  WireError,
  copyBytes,
  decodeBinaryPublishAck,
  decodeFramePayload,
  type DecodedFrame,
} from '../wire/index.js';
import { newCacheAnswerSlot, readCacheAnswer } from '../wire/cache-frames.js';
import { BrokerStream, type BrokerStreamHandler } from './broker-stream.js';
import { noop, settledWithin, withDeadline } from './deadline.js';
import { FelixError, brokerError, toFelixError } from './errors.js';
import type { Negotiated } from './negotiation.js';
import { OutboundQueue, type TurnScheduler } from './outbound-queue.js';
import { PendingRequests, type Settleable } from './pending-requests.js';

export interface RequestStreamOptions {
  /** Names the stream in errors and warnings ("publish stream 3"). */
  readonly label: string;
  readonly tenant: string;
  readonly token: string;
  readonly maxFrameBytes: number;
  readonly requestTimeoutMs: number;
  /** Bound on waiting for the connection and the auth answer. */
  readonly connectTimeoutMs: number;
  /** Bound of the OutboundQueue (see there). */
  readonly maxQueuedBytes: number;
  readonly onWarning: (message: string) => void;
  readonly scheduleTurn?: TurnScheduler;
  /** Offer TIMINGS at auth (false with FELIX_DISABLE_TIMINGS=1). */
  readonly timings?: boolean;
}

type State = 'opening' | 'open' | 'ended';

export class RequestStream implements BrokerStreamHandler {
  /** Resolves once authenticated; rejects if the stream could not be opened. */
  readonly ready: Promise<Negotiated>;
  negotiated: Negotiated | null = null;
  /** Told once when the stream has ended, so its pool can replace it. */
  onEnded: ((stream: RequestStream) => void) | null = null;

  private state: State = 'opening';
  private endError: FelixError | null = null;
  private broker: BrokerStream | null = null;
  private readonly queue: OutboundQueue;
  private readonly pending: PendingRequests;
  private requestIds = 0;
  private idleWaiters: (() => void)[] | null = null;
  /** Reused by every MessagePack cache answer read on the fast path. */
  private readonly cacheAnswer = newCacheAnswerSlot();
  private endWaiters: (() => void)[] | null = null;

  constructor(
    connection: Promise<Connection>,
    private readonly options: RequestStreamOptions,
  ) {
    this.queue = new OutboundQueue({
      maxQueuedBytes: options.maxQueuedBytes,
      scheduleTurn: options.scheduleTurn,
    });
    this.queue.onIdle = () => this.checkIdle();
    this.pending = new PendingRequests(options.requestTimeoutMs, options.label);
    this.ready = this.open(connection);
    // Failures reach callers through their own requests; an unobserved `ready` must not crash the process.
    this.ready.catch(noop);
  }

  /** False once the stream has ended: its pool opens a new one for the next request. */
  get usable(): boolean {
    return this.state !== 'ended';
  }

  /** Requests awaiting an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  nextRequestId(): number {
    return ++this.requestIds;
  }

  /** Registers `reply` for `requestId`, then sends the frame; the answer settles it. */
  request(frame: Buffer, requestId: number, reply: Settleable, order?: object): void {
    if (this.endError !== null) return reply.fail(this.endError);
    this.pending.add(requestId, reply);
    this.queue.send(frame, order, false);
  }

  /** The same for a chunked publish: the answer follows its last chunk. */
  requestChunked(chunks: readonly Buffer[], requestId: number, reply: Settleable, order?: object): void {
    if (this.endError !== null) return reply.fail(this.endError);
    this.pending.add(requestId, reply);
    this.queue.sendChunked(chunks, order, false);
  }

  /** Sends a frame no answer comes for; a promise only when it must wait for room in the queue. */
  send(frame: Buffer, order?: object): Promise<void> | undefined {
    return this.queue.send(frame, order);
  }

  sendChunked(chunks: readonly Buffer[], order?: object): Promise<void> | undefined {
    return this.queue.sendChunked(chunks, order);
  }

  /** Resolves once everything accepted so far has been written and answered (or the stream ended). */
  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  /**
   * Flushes, then finishes the stream and waits for the broker to finish its side, which it does after
   * handling everything before our FIN: so even unacknowledged publishes have reached it. Bounded by
   * `timeoutMs` overall; what is still outstanding then fails with `timeout`.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.state === 'ended') return;
    const started = Date.now();
    await settledWithin(this.flush(), timeoutMs);
    if (this.state === 'open') {
      this.broker!.end();
      await settledWithin(this.ended(), timeoutMs - (Date.now() - started));
    }
    if (this.usable) {
      const error = new FelixError(
        'timeout',
        `${this.options.label}: not flushed within the close timeout of ${timeoutMs} ms`,
      );
      if (this.broker !== null) this.broker.abort(error);
      else this.end(error);
    }
  }

  /** Ends the stream at once (its connection closed); whatever is outstanding fails with `error`. */
  fail(error: FelixError): void {
    if (this.broker !== null) this.broker.fail(error);
    else this.end(error);
  }

  onFrame(flags: number, payload: Uint8Array): void {
    if (flags === FLAG_MSGPACK && readCacheAnswer(payload, this.cacheAnswer)) {
      this.onCacheAnswer();
      return;
    }
    let message: DecodedFrame;
    try {
      message =
        flags === FLAG_BINARY_PUBLISH_ACK
          ? decodeBinaryPublishAck(payload)
          : decodeFramePayload(flags, payload);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.onUndecodable(error);
      return;
    }
    const requestId = (message as { request_id?: number }).request_id;
    if (requestId === undefined) {
      this.onUnmatched(message);
      return;
    }
    const reply = this.pending.take(requestId);
    // Unknown ids are answers to requests that already timed out.
    if (reply === undefined) return;
    if (message.type === 'publish_error') {
      reply.fail(brokerError('publish_rejected', `${reply.what} refused`, message));
    } else {
      // MessagePack byte fields are views into the frame, which is gone once this call returns.
      if (message.type === 'cache_value' && message.value !== null && flags !== 0) {
        message.value = copyBytes(message.value);
      }
      reply.partDone(message.type === 'publish_ok' ? undefined : message);
    }
    if (this.idleWaiters !== null) this.checkIdle();
  }

  private onCacheAnswer(): void {
    const answer = this.cacheAnswer;
    const reply = this.pending.take(answer.request_id);
    if (reply !== undefined) {
      // The value is a view into the frame, which is gone once this call returns.
      if (answer.value !== null) answer.value = copyBytes(answer.value);
      reply.partDone(answer);
      answer.value = null;
    }
    if (this.idleWaiters !== null) this.checkIdle();
  }

  onEnd(error: FelixError | null): void {
    this.end(
      error ??
        new FelixError(
          'connection_closed',
          `${this.options.label}: the broker ended the stream with requests outstanding`,
        ),
    );
  }

  onDrain(): void {
    this.queue.drained();
  }

  private async open(connection: Promise<Connection>): Promise<Negotiated> {
    const { label, connectTimeoutMs } = this.options;
    try {
      const conn = await connection;
      if (!this.usable) throw new FelixError('connection_closed', `${label}: closed while opening`);
      const broker = new BrokerStream(conn.openStream(true), this, {
        maxFrameBytes: this.options.maxFrameBytes,
        onWarning: this.options.onWarning,
        label,
        timings: this.options.timings,
      });
      this.broker = broker;
      const negotiated = await withDeadline(
        broker.authenticate(this.options.tenant, this.options.token),
        connectTimeoutMs,
        () => {
          const error = new FelixError(
            'timeout',
            `${label}: no answer to auth within ${connectTimeoutMs} ms`,
          );
          broker.abort(error);
          return error;
        },
      );
      if (!this.usable) throw new FelixError('connection_closed', `${label}: closed while opening`);
      this.negotiated = negotiated;
      this.state = 'open';
      this.queue.attach(broker);
      return negotiated;
    } catch (error) {
      const felixError = toFelixError(error, 'connect_failed', label);
      this.end(felixError);
      throw felixError;
    }
  }

  private end(error: FelixError): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endError = error;
    this.queue.fail(error);
    this.pending.failAll(error);
    this.pending.dispose();
    this.onEnded?.(this);
    this.checkIdle();
    const waiters = this.endWaiters;
    this.endWaiters = null;
    if (waiters !== null) for (const resolve of waiters) resolve();
  }

  private ended(): Promise<void> {
    if (this.state === 'ended') return Promise.resolve();
    return new Promise<void>((resolve) => (this.endWaiters ??= []).push(resolve));
  }

  private isIdle(): boolean {
    return this.state === 'ended' || (this.queue.idle && this.pending.size === 0);
  }

  private checkIdle(): void {
    if (this.idleWaiters === null || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = null;
    for (const resolve of waiters) resolve();
  }

  private onUndecodable(error: WireError): void {
    const reply = error.requestId === undefined ? undefined : this.pending.take(error.requestId);
    const felixError = new FelixError(
      'protocol_error',
      `${this.options.label}: undecodable answer: ${error.message}`,
    );
    if (reply !== undefined) reply.fail(felixError);
    else this.options.onWarning(felixError.message);
  }

  private onUnmatched(message: DecodedFrame): void {
    // The broker answers a refused unacknowledged publish with a plain error: there is no caller to tell.
    const what =
      message.type === 'error'
        ? `the broker reported: ${message.message}${message.code === undefined ? '' : ` (${message.code})`}`
        : `unexpected ${message.type} from the broker`;
    this.options.onWarning(`${this.options.label}: ${what}`);
  }
}
