import type { Stream } from '../transport/index.js';
import {
  FrameDecoder,
  KNOWN_FEATURES,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
  KNOWN_FLAGS,
  monotonicNs,
  FEATURE_ERROR_CODES,
  supportsFeature,
  PublishChunkAssembler,
  WireError,
  decodeBinaryPublishBatch,
  decodeMessage,
  encodeBinaryPublishAck,
  encodeMessage,
  negotiateFlags,
  payloadLayout,
  type AckMode,
  type ErrorCode,
  type Message,
  type MessageOf,
  type PublishErrorMessage,
  type PublishOkMessage,
} from '../wire/index.js';
import {
  cacheOkFrameBytes,
  cacheValueFrameBytes,
  measureAddress,
  newCacheRequestSlot,
  readCacheRequest,
  writeCacheOkFrame,
  writeCacheValueFrame,
  type AddressLengths,
} from '../wire/cache-frames.js';
import { AnswerWriter } from './answer-writer.js';
import type { BrokerCore, CacheRequest, ConnectionSession, ReplyTarget } from './session.js';
import type { BudgetAccount, BudgetHolder } from './publish-budget.js';
import { Subscription } from './subscription.js';
import { HOP } from './hop-timings.js';
import type { Pausable, Topic } from './topic.js';

/** Application codes on streams the broker aborts. */
export const STREAM_CODE_PROTOCOL_ERROR = 0x101;
export const STREAM_CODE_SLOW_SUBSCRIBER = 0x102;
export const STREAM_CODE_SHUTDOWN = 0x103;

type AckReply = 'binary' | 'message';

const REPLY_WRITE_AHEAD = 4 * 1024 * 1024;

/**
 * One client-opened bidirectional stream: `auth` first, then any mix of publishes, subscribes and cache
 * requests, each answered on this stream (pipelined, matched by request_id). Frames are decoded
 * synchronously as bytes arrive; nothing here awaits.
 */
export class ClientStream implements BudgetHolder, Pausable, ReplyTarget {
  private readonly decoder: FrameDecoder;
  private tenant: string | null = null;
  private msgpack = false;
  /** Both sides want TIMINGS: publishes carry send stamps, event batches get stamp blocks. */
  private timings = false;
  // Felix sends `code` on errors only to clients that offered FEATURE_ERROR_CODES.
  private errorCodes = false;
  private ended = false;
  private readonly subscriptions: Subscription[] = [];
  private chunks: PublishChunkAssembler | null = null;
  /** Send stamp of the publish frame being handled (0: none). */
  private sendNs = 0;
  private chunkBytes = 0;
  private readonly answers: AnswerWriter;
  /** Reused by every MessagePack cache request read on the fast path. */
  private readonly cacheRequest = newCacheRequestSlot();
  private readonly addressLengths: AddressLengths = { tenant: 0, namespace: 0, cache: 0, key: 0 };

  constructor(
    private readonly core: BrokerCore,
    private readonly session: ConnectionSession,
    private readonly stream: Stream,
  ) {
    this.decoder = new FrameDecoder(
      { onFrame: (flags, payload) => this.onFrame(flags, payload), onError: (e) => this.onWireError(e) },
      { maxFrameBytes: core.config.maxFrameBytes },
    );
    // Answers beyond this wait in the transport before the stream stops reading requests.
    stream.highWaterMark = REPLY_WRITE_AHEAD;
    this.answers = new AnswerWriter(stream, () => this.holdUntilDrained());
    stream.onData = (chunk, fin) => {
      this.answers.beginRead();
      try {
        this.decoder.push(chunk);
      } finally {
        this.answers.endRead();
      }
      if (fin) this.onEnd();
    };
    stream.onReset = () => this.onEnd();
    stream.onStopSending = () => this.onEnd();
  }

  get account(): BudgetAccount {
    return this.session.account;
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  /** The connection went away: drop everything this stream owned. */
  dispose(): void {
    this.ended = true;
    for (const sub of this.subscriptions) this.session.dropSubscription(sub, false);
    this.subscriptions.length = 0;
    this.releaseChunks();
    this.core.budget.forget(this);
  }

  /** Broker side of an eviction: tell the subscriber why on this (its control) stream. */
  evicted(sub: Subscription, reason: string): void {
    const i = this.subscriptions.indexOf(sub);
    if (i >= 0) this.subscriptions.splice(i, 1);
    if (!this.ended) this.sendError(`subscription ${sub.id} evicted: ${reason}`, 'limit_exceeded');
  }

  private onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    // Closing a control stream ends its subscriptions, after what was already queued for them.
    for (const sub of this.subscriptions) this.session.dropSubscription(sub, true);
    this.subscriptions.length = 0;
    this.releaseChunks();
    this.core.budget.forget(this);
    this.session.streamEnded(this);
    this.answers.flush();
    if (this.stream.writable) this.stream.end();
  }

  private onFrame(flags: number, payload: Uint8Array): void {
    if (this.ended) return;
    const layout = payloadLayout(flags);
    if (this.tenant === null) {
      this.onAuth(flags, payload);
      return;
    }
    if (layout === 'binary_publish_batch' || layout === 'binary_acked_publish_batch') {
      const batch = decodeBinaryPublishBatch(flags, payload);
      this.sendNs = batch.send_ns ?? 0;
      this.publish(
        batch.tenant_id,
        batch.namespace,
        batch.stream,
        batch.payloads,
        batch.request_id,
        batch.ack,
        'binary',
      );
      return;
    }
    if (layout === 'msgpack' && readCacheRequest(payload, this.cacheRequest)) {
      this.core.cache.handle(this.cacheRequest as CacheRequest, this.tenant, this);
      return;
    }
    if (layout !== 'json' && layout !== 'msgpack') {
      this.sendError(`frames with flags 0x${flags.toString(16)} are not requests`, 'invalid_request');
      return;
    }
    this.onMessage(decodeMessage(flags, payload));
  }

  private onAuth(flags: number, payload: Uint8Array): void {
    let message: Message;
    try {
      message = decodeMessage(flags, payload);
    } catch (err) {
      this.fail(`auth expected: ${(err as Error).message}`, 'unauthenticated');
      return;
    }
    if (message.type !== 'auth') {
      this.fail(`the first message on a stream must be auth, got ${message.type}`, 'unauthenticated');
      return;
    }
    this.tenant = message.tenant_id;
    if (message.client_flags === undefined) {
      // A client from before capability negotiation: Felix answers it with a plain ok.
      this.reply({ type: 'ok' });
      return;
    }
    const own = this.core.timings === null ? KNOWN_FLAGS & ~FLAG_TIMINGS : KNOWN_FLAGS;
    const flagsBoth = negotiateFlags(message.client_flags, own);
    this.timings = (flagsBoth & FLAG_TIMINGS) !== 0;
    this.reply({ type: 'auth_ok', server_flags: flagsBoth, server_features: KNOWN_FEATURES });
    this.msgpack = (flagsBoth & FLAG_MSGPACK) !== 0;
    this.errorCodes = supportsFeature(message.client_features ?? 0, FEATURE_ERROR_CODES);
  }

  private onMessage(m: Message): void {
    switch (m.type) {
      case 'publish':
        this.publish(m.tenant_id, m.namespace, m.stream, [m.payload], m.request_id, m.ack, 'message');
        return;
      case 'publish_batch':
        this.publish(m.tenant_id, m.namespace, m.stream, m.payloads, m.request_id, m.ack, 'message');
        return;
      case 'publish_chunk':
        this.publishChunk(m);
        return;
      case 'subscribe':
        this.subscribe(m);
        return;
      case 'cache_put':
      case 'cache_get':
      case 'cache_delete':
        this.core.cache.handle(m, this.tenant!, this);
        return;
      case 'auth':
        this.sendError('already authenticated on this stream', 'invalid_request');
        return;
      default:
        this.sendError(`unexpected message ${m.type}`, 'invalid_request');
    }
  }

  private publish(
    tenant: string,
    namespace: string,
    stream: string,
    payloads: readonly Uint8Array[],
    requestId: number | undefined,
    ack: AckMode | undefined,
    ackAs: AckReply,
  ): void {
    const acked = requestId !== undefined && ack !== undefined && ack !== 'none';
    const topic = this.resolveTopic(tenant, namespace, stream, acked ? requestId : undefined, ackAs);
    if (topic === undefined) return;
    if (this.core.draining) {
      this.refusePublish(requestId, acked, ackAs, 'broker is draining for shutdown', 'draining');
      return;
    }
    let bytes = 0;
    for (let i = 0; i < payloads.length; i++) bytes += payloads[i]!.length;
    const budget = this.core.budget;
    if (acked && !budget.fits(this.account, bytes)) {
      this.core.stats.publishRejectedBudget++;
      this.refusePublish(requestId, acked, ackAs, budget.refusal(this.account, bytes), 'overloaded');
      return;
    }
    const timings = this.core.timings;
    // An event batch is stamped by the publish frame that starts it: the clock is read for that one only.
    if (timings !== null && !topic.hasBatchStamp) {
      const decodeNs = monotonicNs();
      // A send stamp from another host's clock means nothing here, nor to subscribers: it is forwarded
      // only when the publisher shares this host's clock.
      const sendNs = this.timings && this.session.sameHost ? this.sendNs : 0;
      if (sendNs !== 0) timings.record(HOP.publish_to_broker, decodeNs - sendNs);
      topic.stamp(sendNs, decodeNs);
    }
    this.sendNs = 0;
    for (let i = 0; i < payloads.length; i++) topic.publish(payloads[i]!, this.account);
    topic.noteArrival();
    // Acks go out once the events are in the stream's log: they are then never lost while the broker runs,
    // and graceful shutdown delivers them to current subscribers.
    if (acked) this.ack(requestId!, ackAs);
    if (topic.blocked) topic.holdBack(this);
    if (!acked && budget.overLimit(this)) this.pause();
  }

  private publishChunk(m: MessageOf<'publish_chunk'>): void {
    const acked = m.request_id !== undefined && m.ack !== undefined && m.ack !== 'none';
    const budget = this.core.budget;
    this.chunks ??= new PublishChunkAssembler({ maxPayloadBytes: budget.connectionLimit });
    if (m.byte_offset === 0) {
      // A publish larger than the connection's whole budget can never be admitted, acked or not; an acked
      // one that does not fit now is refused now rather than after its last chunk.
      if (m.total_len > budget.connectionLimit || (acked && !budget.fits(this.account, m.total_len))) {
        this.core.stats.publishRejectedBudget++;
        this.refusePublish(
          m.request_id,
          acked,
          'message',
          budget.refusal(this.account, m.total_len),
          'overloaded',
        );
        return;
      }
    }
    let whole;
    try {
      whole = this.chunks.accept(m);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.refusePublish(m.request_id, acked, 'message', err.message, 'invalid_request');
      return;
    }
    // Reassembly holds the pieces: they count against the in-flight budget until the publish completes.
    // The stream is never paused mid-publish (its own last chunk is what frees the budget); unacked
    // publishes feel backpressure once complete, in publish().
    budget.charge(this.account, m.payload.length);
    this.chunkBytes += m.payload.length;
    if (whole === undefined) return;
    budget.release(this.account, whole.payload.length);
    this.chunkBytes -= whole.payload.length;
    this.publish(
      whole.tenant_id,
      whole.namespace,
      whole.stream,
      [whole.payload],
      whole.request_id,
      whole.ack,
      'message',
    );
  }

  private subscribe(m: MessageOf<'subscribe'>): void {
    const core = this.core;
    if (core.draining) {
      this.sendError('broker is draining for shutdown', 'draining');
      return;
    }
    if (this.session.subscriptionCount >= core.config.maxSubscriptionsPerConn) {
      this.sendError('max subscriptions per connection exceeded', 'limit_exceeded');
      return;
    }
    const topic = this.resolveTopic(m.tenant_id, m.namespace, m.stream, undefined, 'message');
    if (topic === undefined) return;
    const id = m.subscription_id ?? core.nextSubscriptionId();
    if (this.session.hasSubscription(id)) {
      this.sendError(`subscription_id ${id} is already in use on this connection`, 'invalid_request');
      return;
    }
    const start = m.start ?? 'latest';
    let replay = undefined;
    if (start === 'earliest' || typeof start === 'object') {
      const from = start === 'earliest' ? topic.log.oldest : start.offset;
      const r = topic.log.replayFrom(from);
      if (!r.ok) {
        this.reply({
          type: 'subscribe_cursor_error',
          reason: r.error,
          requested: from,
          available: r.error === 'too_old' ? r.oldest : r.next,
        });
        return;
      }
      replay = r.frames;
    }
    let events: Stream;
    try {
      events = this.session.connection.openStream(false);
    } catch (err) {
      this.sendError(`cannot open the event stream: ${(err as Error).message}`, 'limit_exceeded');
      return;
    }
    const sub = this.session.addSubscription(id, topic, events, this, this.timings);
    this.subscriptions.push(sub);
    // The hello binds the event stream to the subscription before any event; it may overtake `subscribed`.
    sub.writeRaw(
      encodeMessage({ type: 'event_stream_hello', subscription_id: id }, { msgpack: this.msgpack }),
    );
    this.reply({ type: 'subscribed', subscription_id: id });
    if (replay !== undefined) sub.replay(replay);
    topic.addSubscriber(sub);
  }

  private resolveTopic(
    tenant: string,
    namespace: string,
    stream: string,
    requestId: number | undefined,
    ackAs: AckReply,
  ): Topic | undefined {
    if (tenant !== this.tenant) {
      this.refusePublish(
        requestId,
        requestId !== undefined,
        ackAs,
        `stream authenticated for tenant ${this.tenant} may not use tenant ${tenant}`,
        'forbidden',
      );
      return undefined;
    }
    const found = this.core.registry.topic(tenant, namespace, stream);
    if (!found.ok) {
      this.refusePublish(requestId, requestId !== undefined, ackAs, found.message, 'not_found');
      return undefined;
    }
    return found.value;
  }

  private ack(requestId: number, ackAs: AckReply): void {
    const ok: PublishOkMessage = { type: 'publish_ok', request_id: requestId };
    this.answers.append(ackAs === 'binary' ? encodeBinaryPublishAck(ok) : this.encode(ok));
  }

  /** A refused publish: an acked one gets publish_error, anything else a plain error. */
  private refusePublish(
    requestId: number | undefined,
    acked: boolean,
    ackAs: AckReply,
    message: string,
    code: ErrorCode,
  ): void {
    this.core.stats.publishErrors++;
    if (!acked || requestId === undefined) {
      this.sendError(message, code);
      return;
    }
    const err: PublishErrorMessage = { type: 'publish_error', request_id: requestId, message };
    if (this.errorCodes) err.code = code;
    // The binary ack has no room for a code: a client that takes codes gets the message form instead.
    const binary = ackAs === 'binary' && !this.errorCodes;
    this.answers.append(binary ? encodeBinaryPublishAck(err) : this.encode(err));
  }

  private onWireError(e: WireError): void {
    this.core.stats.protocolErrors++;
    this.core.log.debug({ code: e.code, err: e.message }, 'bad frame from client');
    if (e.requestId !== undefined && (e.code === 'malformed' || e.code === 'field_too_long')) {
      this.refusePublish(e.requestId, true, 'message', e.message, 'invalid_request');
    } else {
      this.sendError(e.message, e.code === 'frame_too_large' ? 'limit_exceeded' : 'invalid_request');
    }
    if (e.fatal) this.abort(`${e.message}`);
  }

  private sendError(message: string, code: ErrorCode): void {
    this.reply(this.errorCodes ? { type: 'error', message, code } : { type: 'error', message });
  }

  /** Answers with an error and abandons the stream: the client broke the protocol. */
  private fail(message: string, code: ErrorCode): void {
    this.sendError(message, code);
    this.abort(message);
  }

  private abort(reason: string): void {
    this.core.log.debug({ reason }, 'closing client stream');
    this.onEnd();
    this.stream.stop(STREAM_CODE_PROTOCOL_ERROR);
  }

  /** Answers on this stream. When the client stops reading answers, stop reading its requests. */
  send(message: Message): void {
    if (this.stream.writable) this.answers.append(this.encode(message));
  }

  sendCacheValue(request: CacheRequest, value: Uint8Array | null): void {
    if (!this.msgpack) {
      const reply: Message = {
        type: 'cache_value',
        tenant_id: request.tenant_id,
        namespace: request.namespace,
        cache: request.cache,
        key: request.key,
        value,
      };
      if (request.request_id !== undefined) reply.request_id = request.request_id;
      this.send(reply);
      return;
    }
    if (!this.stream.writable) return;
    const lengths = this.addressLengths;
    measureAddress(request, lengths);
    const answers = this.answers;
    const at = answers.reserve(cacheValueFrameBytes(lengths, value, request.request_id));
    answers.commit(writeCacheValueFrame(answers.buffer, at, request, lengths, value));
  }

  sendCacheOk(requestId: number | undefined): void {
    if (requestId === undefined) this.send({ type: 'ok' });
    else if (!this.msgpack) this.send({ type: 'cache_ok', request_id: requestId });
    else if (this.stream.writable) {
      const answers = this.answers;
      const at = answers.reserve(cacheOkFrameBytes(requestId));
      answers.commit(writeCacheOkFrame(answers.buffer, at, requestId));
    }
  }

  private reply(message: Message): void {
    this.send(message);
  }

  private holdUntilDrained(): void {
    this.stream.pause();
    this.stream.onDrain = () => {
      this.stream.onDrain = null;
      this.stream.resume();
    };
  }

  private encode(message: Message): Buffer {
    return encodeMessage(message, { msgpack: this.msgpack });
  }

  private releaseChunks(): void {
    if (this.chunkBytes > 0) this.core.budget.release(this.account, this.chunkBytes);
    this.chunkBytes = 0;
    this.chunks?.clear();
    this.chunks = null;
  }
}
