/**
 * A long-lived request stream (a publish worker; the cache client's workers later): many requests in
 * flight at once (pipelined), answers matched by request_id in whatever order they come, the send side
 * bounded and interleaved by an OutboundQueue. Everything on the hot path is synchronous: a request is a
 * Map insert and a write, an answer a Map lookup.
 *
 * Outliving the connection. When its connection is lost and the pool seeks a new one, the stream is
 * `disconnected`, not ended: requests stay registered, new ones queue (publishes without ack up to the
 * queue's bound, then they wait). Once reattach()ed to the new connection it opens a new broker stream,
 * authenticates, sends again — byte for byte, so with the same request id, producer id and sequence — each
 * request that was in flight and may be retried, then whatever waited in the queue. A request that may not
 * be retried fails with `connection_closed` (it may or may not have reached the broker). When the broker
 * announces `draining`, nothing new is written to it; what is in flight is still answered there, and a
 * publish it refuses as draining goes again on the next connection — an acked one matched by its request
 * id, one without ack found by the order of the broker's answers (UnansweredTail).
 *
 * Frame limit. Each auth_ok may announce the broker's FELIX_MAX_FRAME_BYTES (a restarted broker may have
 * another): from then on a frame above it is not written — its request fails with `payload_too_large`
 * (a publish without ack is reported to onWarning) — instead of being refused by the broker with an
 * error naming no request, which would leave the request waiting for its timeout.
 */
import type { TokenSource } from './options.js';
import { randomBytes } from 'node:crypto';
import type { Connection } from '../transport/index.js';
import {
  FLAG_BINARY_PUBLISH_ACK,
  HEADER_BYTES,
  FLAG_MSGPACK,
  WireError,
  copyBytes,
  decodeBinaryPublishAck,
  decodeFramePayload,
  type DecodedFrame,
  type ErrorCode,
} from '../wire/index.js';
import { newCacheAnswerSlot, readCacheAnswer } from '../wire/cache-frames.js';
import { BrokerStream, type BrokerStreamHandler } from './broker-stream.js';
import { noop, settledWithin, withDeadline } from './deadline.js';
import { FelixError, brokerError, toFelixError, unsentError } from './errors.js';
import type { Negotiated } from './negotiation.js';
import { OutboundQueue, type FrameSink, type TurnScheduler } from './outbound-queue.js';
import { PendingRequests, type Settleable } from './pending-requests.js';
import { UnansweredTail, type UnansweredPublish } from './unanswered-tail.js';

export interface RequestStreamOptions {
  /** Names the stream in errors and warnings ("publish stream 3"). */
  readonly label: string;
  readonly tenant: string;
  readonly token: TokenSource;
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
  /** Takes back the frames of requests that succeeded (the client's FrameRecycler). */
  readonly recycle?: (frame: Buffer) => void;
  /** Chunk bytes of chunked publishes written per event-loop turn (OutboundQueueOptions). */
  readonly chunkBytesPerTurn?: number;
  /**
   * Bytes of the latest publishes without ack kept after they were written, so that those a draining
   * broker refuses can be sent again (UnansweredTail); 0: none kept.
   */
  readonly retainUnansweredBytes?: number;
}

/**
 * opening: connecting or authenticating (first or again); open: writing; draining: the broker drains, no
 * new writes; disconnected: the connection was lost, a new one is awaited; ended: for good.
 */
type State = 'opening' | 'open' | 'draining' | 'disconnected' | 'ended';

/** A random producer id: non-zero, below 2^53. */
function newProducerId(): number {
  const bytes = randomBytes(8);
  const id = (bytes.readUInt32BE(0) & 0x1f_ffff) * 0x1_0000_0000 + bytes.readUInt32BE(4);
  return id === 0 ? 1 : id;
}

export class RequestStream implements BrokerStreamHandler {
  /** Resolves once authenticated; rejects if the stream could not be opened. */
  readonly ready: Promise<Negotiated>;
  negotiated: Negotiated | null = null;
  /** Told once when the stream has ended, so its pool can replace it. */
  onEnded: ((stream: RequestStream) => void) | null = null;
  /** Told when the broker announces `draining` on this stream, with the connection it came on. */
  onBrokerDraining: ((connection: Connection) => void) | null = null;
  /** Told after every auth (first and after a reconnect) with what the broker confirmed, and where. */
  onAuthenticated: ((negotiated: Negotiated, connection: Connection) => void) | null = null;
  /**
   * Asked when the broker refuses this stream's auth on `connection`: true when the connection's pool takes
   * it as a failed reconnect attempt (ConnectionPool.refused) — the stream then waits for the next
   * connection, keeping what it holds, as after any loss; false (or unset): the stream ends with `error`.
   */
  onAuthRefused: ((connection: Connection, error: FelixError) => boolean) | null = null;
  /** Told of each request sent that waits for an answer (the pool's AnswerWatch of its connection). */
  onRequest: (() => void) | null = null;
  /**
   * The largest frame payload this stream writes: the client's FELIX_MAX_FRAME_BYTES or, when smaller, the
   * one the broker announced at the latest auth (before the first: what the caller set, e.g. what another
   * stream to the broker heard).
   */
  frameLimit: number;
  /** Counts open() attempts: only the latest may settle the stream. */
  private openAttempts = 0;
  /** The last error the broker sent naming no request: why, if it then ends the stream. */
  private lastUnmatchedError: { message: string; code: ErrorCode | undefined } | null = null;
  /**
   * This worker as a producer (IDEMPOTENT_PUBLISH): kept across reconnects, so a publish sent again is
   * recognised by the broker as the same one.
   */
  readonly producerId = newProducerId();

  private state: State = 'opening';
  private endError: FelixError | null = null;
  private broker: BrokerStream | null = null;
  private connection: Connection | null = null;
  private sequences = 0;
  /** The broker of the current connection announced `draining` (possibly before auth was through). */
  private drainNoticed = false;
  private resolveReady!: (negotiated: Negotiated) => void;
  private rejectReady!: (error: FelixError) => void;
  private readonly queue: OutboundQueue;
  private readonly pending: PendingRequests;
  private requestIds = 0;
  private idleWaiters: (() => void)[] | null = null;
  /** Reused by every MessagePack cache answer read on the fast path. */
  private readonly cacheAnswer = newCacheAnswerSlot();
  private endWaiters: (() => void)[] | null = null;
  /** pushUnanswered is queued. */
  private pushQueued = false;
  /** The latest publishes without ack written on the current broker stream. */
  private readonly unansweredTail: UnansweredTail;
  /** The codes of the errors naming no request since the broker said `draining` on this stream; null before. */
  private refusalsAfterDrain: (ErrorCode | undefined)[] | null = null;
  /** Publishes without ack a draining broker refused: sent again first on the next stream. */
  private drainResends: UnansweredPublish[] = [];
  /** What the send queue writes to: the broker stream, through the frame limit. */
  private readonly sink: FrameSink = {
    write: (frame, requestId) => this.writeFrame(frame, requestId),
    wroteUnanswered: (frame, chunks) => this.noteUnanswered(frame, chunks),
  };
  private readonly pushUnansweredBound = (): void => this.pushUnanswered();

  constructor(
    connection: Promise<Connection>,
    private readonly options: RequestStreamOptions,
  ) {
    this.queue = new OutboundQueue({
      maxQueuedBytes: options.maxQueuedBytes,
      scheduleTurn: options.scheduleTurn,
      chunkBytesPerTurn: options.chunkBytesPerTurn,
    });
    this.queue.onIdle = () => this.checkIdle();
    this.pending = new PendingRequests(
      options.requestTimeoutMs,
      options.label,
      Date.now,
      options.recycle ?? null,
    );
    this.pending.unwritten = () => this.queue.unwrittenRequests();
    this.pending.withdraw = (requestId) => this.queue.withdraw(requestId);
    this.unansweredTail = new UnansweredTail(options.retainUnansweredBytes ?? 0);
    this.frameLimit = options.maxFrameBytes;
    this.ready = new Promise<Negotiated>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Failures reach callers through their own requests; an unobserved `ready` must not crash the process.
    this.ready.catch(noop);
    void this.open(connection);
  }

  /** False once the stream has ended: its pool opens a new one for the next request. */
  get usable(): boolean {
    return this.state !== 'ended';
  }

  /** Waiting for a new connection after the last one was lost. */
  get disconnected(): boolean {
    return this.state === 'disconnected';
  }

  /** Requests awaiting an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  nextRequestId(): number {
    return ++this.requestIds;
  }

  /** The next sequence of this producer: one per acked publish frame, from 1. */
  nextSequence(): number {
    return ++this.sequences;
  }

  /** The last sequence taken, to rewind to when the frames about to take the next ones are not sent. */
  get sequenceMark(): number {
    return this.sequences;
  }

  rewindSequences(mark: number): void {
    if (mark < this.sequences) this.sequences = mark;
  }

  /**
   * Registers `reply` for `requestId`, then sends the frame; the answer settles it. `retries`: how often it
   * is sent again after a lost connection (0: it fails instead, its outcome unknown).
   */
  request(frame: Buffer, requestId: number, reply: Settleable, order?: object, retries = 0): void {
    if (this.endError !== null) return reply.fail(this.endError);
    this.pending.add(requestId, reply, frame, null, retries);
    this.queue.send(frame, order, false, requestId);
    this.onRequest?.();
  }

  /** The same for a chunked publish: the answer follows its last chunk. */
  requestChunked(
    chunks: readonly Buffer[],
    requestId: number,
    reply: Settleable,
    order?: object,
    retries = 0,
  ): void {
    if (this.endError !== null) return reply.fail(this.endError);
    this.pending.add(requestId, reply, null, chunks, retries);
    this.queue.sendChunked(chunks, order, false, requestId);
    this.onRequest?.();
  }

  /**
   * Sends a frame no answer comes for; a promise only when it must wait for room in the queue. What such
   * frames a piece of code writes leaves when it is done (pushUnanswered), not a loop turn later.
   */
  send(frame: Buffer, order?: object): Promise<void> | undefined {
    const admitted = this.queue.send(frame, order);
    if (!this.pushQueued && this.broker !== null) {
      this.pushQueued = true;
      process.nextTick(this.pushUnansweredBound);
    }
    return admitted;
  }

  /**
   * The end of the code that sent unanswered frames (a nextTick: after its synchronous run and the promise
   * jobs it queued, before any I/O). Nothing comes back that would carry them, as an answer carries the
   * next request of a caller awaiting it; left to the transport they would wait for its next flush, one
   * loop turn later, behind everything that turn reads first (at fanout 10 the deliveries of the message
   * before). A burst of sends in one run still leaves together.
   */
  private pushUnanswered(): void {
    this.pushQueued = false;
    this.broker?.sendNow();
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
    if ((this.state === 'open' || this.state === 'draining') && this.broker !== null) {
      this.broker.end();
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

  /** Ends the stream at once (its connection closed for good); whatever is outstanding fails with `error`. */
  fail(error: FelixError): void {
    if (this.broker !== null) this.broker.fail(error);
    else this.end(error);
  }

  /**
   * The connection was lost and a new one is being sought: keep what is outstanding for reattach(). What
   * was written and may be retried is marked to go again; what may not fails with `error`.
   */
  disconnect(error: FelixError): void {
    if (this.state === 'ended' || this.state === 'disconnected') return;
    this.state = 'disconnected';
    this.drainNoticed = false;
    const broker = this.broker;
    this.broker = null;
    this.connection = null;
    broker?.abandon(error);
    this.takeDrainRefusals();
    this.queue.detach();
    this.pending.lost(this.queue.unwrittenRequests(), error);
    this.checkIdle();
  }

  /** The new connection: reopen, send again what was in flight, then what waited. */
  reattach(connection: Connection): void {
    if (this.state !== 'disconnected') return;
    this.state = 'opening';
    void this.open(Promise.resolve(connection));
  }

  /** The broker drains: nothing new is written to it (it goes to the next connection instead). */
  pauseForDrain(): void {
    if (this.state !== 'open') return;
    this.state = 'draining';
    this.queue.detach();
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
      if (message.type === 'draining') this.onDrainingNotice();
      else this.onUnmatched(message);
      return;
    }
    if (
      message.type === 'publish_error' &&
      message.code === 'draining' &&
      this.pending.resendLater(requestId)
    ) {
      // Refused only because the broker is going away: it goes again, as it was, on the next connection.
      return;
    }
    const succeeded =
      message.type === 'publish_ok' || message.type === 'cache_ok' || message.type === 'cache_value';
    const reply = this.pending.take(requestId, succeeded);
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
    // Only cache_ok and cache_value are read here: the request succeeded.
    const reply = this.pending.take(answer.request_id, true);
    if (reply !== undefined) {
      // The value is a view into the frame, which is gone once this call returns.
      if (answer.value !== null) answer.value = copyBytes(answer.value);
      reply.partDone(answer);
      answer.value = null;
    }
    if (this.idleWaiters !== null) this.checkIdle();
  }

  onEnd(error: FelixError | null): void {
    // A broker that ends a stream says why first (an error naming no request, e.g. a stalled stream's
    // limit_exceeded): the requests it takes down carry that reason.
    const why = this.lastUnmatchedError;
    if (error !== null && why === null) {
      this.end(error);
      return;
    }
    // Ended by a FIN or by STOP_SENDING (the broker stops the client's side when it abandons a stream):
    // either way, what the broker reported first is the reason.
    const how = error === null ? 'ended the stream' : `ended the stream (${error.message})`;
    this.end(
      new FelixError(
        error?.code ?? 'connection_closed',
        `${this.options.label}: the broker ${how} with requests outstanding` +
          (why === null ? '' : ` after reporting: ${why.message}`),
        // Whatever the report's class says of the request it names, these had no answer.
        why === null ? {} : { brokerCode: why.code, retry: 'outcome_unknown', cause: error ?? undefined },
      ),
    );
  }

  onDrain(): void {
    this.queue.drained();
  }

  /**
   * Opens a broker stream on `connection` and authenticates; then sends again what was in flight on a lost
   * predecessor and starts the queue. Superseded quietly when the connection is lost meanwhile (the stream
   * is then disconnected and waits for the next one); any other failure ends the stream.
   */
  private async open(connection: Promise<Connection>): Promise<void> {
    const { label, connectTimeoutMs } = this.options;
    // A slow token provider can outlast the connection: by the time this attempt's auth fails, the pool may
    // have reconnected and started the next one, which this one must leave alone.
    const attempt = ++this.openAttempts;
    let conn: Connection | null = null;
    try {
      conn = await connection;
      if (this.state !== 'opening' || attempt !== this.openAttempts) return;
      const broker = new BrokerStream(conn.openStream(true), this, {
        maxFrameBytes: this.options.maxFrameBytes,
        onWarning: this.options.onWarning,
        label,
        timings: this.options.timings,
      });
      this.broker = broker;
      this.connection = conn;
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
      if (this.state !== 'opening' || this.broker !== broker || attempt !== this.openAttempts) return;
      this.negotiated = negotiated;
      this.frameLimit = Math.min(this.options.maxFrameBytes, negotiated.maxFrameBytes ?? Infinity);
      this.onAuthenticated?.(negotiated, conn);
      if (this.drainNoticed) {
        // `draining` came right behind auth_ok: this broker takes nothing more; wait for the next one.
        this.state = 'draining';
        this.resolveReady(negotiated);
        return;
      }
      this.state = 'open';
      this.queue.attach(this.sink, this.writeResends(broker));
      this.resolveReady(negotiated);
    } catch (error) {
      // The connection was lost meanwhile (disconnect() took over, perhaps reattach() already started the
      // next attempt) or the stream ended already.
      if (this.state !== 'opening' || attempt !== this.openAttempts) return;
      const failure = toFelixError(error, 'connect_failed', label);
      if (failure.code === 'auth_failed' && conn !== null && this.onAuthRefused?.(conn, failure) === true) {
        this.disconnect(failure);
        return;
      }
      this.end(failure);
    }
  }

  /**
   * Writes, first on a new stream, what was in flight on the lost one exactly as it was sent, then the
   * publishes without ack a draining broker refused, in their order; the send queue follows. Returns
   * whether the transport pushes back already.
   */
  private writeResends(broker: BrokerStream): boolean {
    let blocked = false;
    for (const resend of this.pending.takeResends()) {
      if (resend.frame !== null) blocked = !this.writeFrame(resend.frame, resend.requestId) || blocked;
      else for (const chunk of resend.chunks!) blocked = !broker.write(chunk) || blocked;
    }
    const refused = this.drainResends;
    this.drainResends = [];
    for (const publish of refused) {
      if (publish.frame !== null) blocked = !this.writeFrame(publish.frame, -1) || blocked;
      else for (const chunk of publish.chunks!) blocked = !broker.write(chunk) || blocked;
      this.noteUnanswered(publish.frame, publish.chunks);
    }
    return blocked;
  }

  /** The send queue's sink: the broker stream, refusing a frame above the frame limit. */
  private writeFrame(frame: Uint8Array, requestId?: number): boolean {
    const broker = this.broker;
    if (broker === null) return false;
    if (requestId !== undefined && frame.byteLength - HEADER_BYTES > this.frameLimit) {
      this.refuseOversized(frame.byteLength - HEADER_BYTES, requestId);
      return true;
    }
    return broker.write(frame);
  }

  /** A frame the broker would refuse without naming its request fails here instead, unsent. */
  private refuseOversized(bytes: number, requestId: number): void {
    const error = new FelixError(
      'payload_too_large',
      `${this.options.label}: a frame of ${bytes} bytes exceeds the broker's frame limit of ` +
        `${this.frameLimit} bytes (FELIX_MAX_FRAME_BYTES, announced at this connection's auth); not sent`,
    );
    if (requestId < 0) {
      this.options.onWarning(`${error.message} (a publish without ack, dropped)`);
      return;
    }
    this.pending.take(requestId)?.fail(error);
  }

  /** A publish without ack was written: kept a while, in case a draining broker refuses it. */
  private noteUnanswered(frame: Buffer | null, chunks: readonly Buffer[] | null): void {
    if (!this.unansweredTail.enabled || this.state !== 'open') return;
    if (frame !== null && frame.byteLength - HEADER_BYTES > this.frameLimit) return;
    this.unansweredTail.note(frame, chunks);
  }

  /**
   * The stream is gone: of the publishes without ack that the broker refused after saying `draining`,
   * those refused as draining are kept to be sent again (UnansweredTail explains how they are found).
   */
  private takeDrainRefusals(): void {
    const codes = this.refusalsAfterDrain;
    this.refusalsAfterDrain = null;
    if (codes === null || codes.length === 0) {
      this.unansweredTail.clear();
      return;
    }
    const { resend, lost } = this.unansweredTail.refusals(codes);
    for (const publish of resend) this.drainResends.push(publish);
    if (lost > 0) {
      this.options.onWarning(
        `${this.options.label}: ${lost} publish${lost === 1 ? '' : 'es'} without ack refused by the draining ` +
          `broker could not be sent again: written more than publishQueueBytes before the broker's last ` +
          `read before draining`,
      );
    }
  }

  /** The broker said `draining` on this stream: stop writing, and let the pool tell the connection's others. */
  private onDrainingNotice(): void {
    const connection = this.connection;
    this.drainNoticed = true;
    this.refusalsAfterDrain ??= [];
    this.pauseForDrain();
    if (connection !== null) this.onBrokerDraining?.(connection);
  }

  private end(error: FelixError): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endError = error;
    this.broker = null;
    this.connection = null;
    // Before the queue lets go of what it holds: what is still in it was never sent.
    this.pending.failAll(error);
    this.queue.fail(unsentError(error));
    this.pending.dispose();
    this.unansweredTail.clear();
    this.refusalsAfterDrain = null;
    this.drainResends = [];
    this.rejectReady(error);
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
    if (message.type === 'error' && this.refusalsAfterDrain !== null) {
      // An unacknowledged publish refused after the broker started draining (see UnansweredTail).
      this.refusalsAfterDrain.push(message.code);
      // Sent again once the stream is gone (takeDrainRefusals), or reported there as lost.
      if (message.code === 'draining' && this.unansweredTail.enabled) return;
    }
    if (message.type === 'error' && message.code !== 'draining') {
      this.lastUnmatchedError = { message: message.message, code: message.code };
    }
    // The broker answers a refused unacknowledged publish with a plain error: there is no caller to tell.
    const what =
      message.type === 'error'
        ? `the broker reported: ${message.message}${message.code === undefined ? '' : ` (${message.code})`}`
        : `unexpected ${message.type} from the broker`;
    this.options.onWarning(`${this.options.label}: ${what}`);
  }
}
