/**
 * One client-opened bidirectional stream: `auth` first, then any mix of publishes, subscribes and cache
 * requests, each answered on this stream (pipelined, matched by request_id). Frames are decoded
 * synchronously as bytes arrive; nothing here awaits.
 *
 * Containment: every frame is handled inside one guard. Whatever a frame's bytes make the decoders throw
 * (WireError) ends as a documented answer — an `error` or `publish_error` with a code, naming the request
 * when its id could be read — and the stream goes on; only framing that is lost for good (bad magic or
 * version) or a stream that never authenticated ends the stream, with STREAM_CODE_PROTOCOL_ERROR. Anything
 * else thrown is a broker bug: it propagates to the connection's guard (ConnectionSession), which closes
 * that connection alone.
 */
import {
  FEATURE_ERROR_CODES,
  FEATURE_TOPOLOGY,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
  FrameDecoder,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  STREAM_CODE_PROTOCOL_ERROR,
  WireError,
  decodeBinaryPublishBatch,
  decodeMessage,
  encodeJsonMessage,
  negotiateFlags,
  payloadLayout,
  supportsFeature,
  type ErrorCode,
  type Message,
} from '../../wire/index.js';
import { newCacheRequestSlot, readCacheRequest } from '../../wire/cache-frames.js';
import type { BrokerCore } from '../core/broker-core.js';
import type { CacheRequest } from '../core/ports.js';
import type { BudgetAccount } from '../core/publish-budget.js';
import { AnswerWriter } from './answer-writer.js';
import type { ConnectionSession } from './connection-session.js';
import { eventEncoding, type EventEncoding } from './event-encoding.js';
import { PublishHandler, type PublishingStream } from './publish-handler.js';
import { Replies } from './replies.js';
import { SubscribeHandler } from './subscribe-handler.js';
import type { ByteStream } from './stream-port.js';

// Every feature the broker serves. Not TOPOLOGY: a single node has no topology to report, and a client
// must not send `topology` to a broker that does not advertise it.
const BROKER_FEATURES = (KNOWN_FEATURES & ~FEATURE_TOPOLOGY) >>> 0;

// Answers beyond this wait in the transport before the stream stops reading requests.
const REPLY_WRITE_AHEAD = 4 * 1024 * 1024;

export class StreamSession implements PublishingStream {
  private readonly decoder: FrameDecoder;
  private authenticated: string | null = null;
  /** Flags both sides use (the client's offer & the broker's set), fixed by auth. */
  private negotiated = 0;
  private events: EventEncoding | null = null;
  private ended = false;
  private readonly answers: AnswerWriter;
  private readonly replies: Replies;
  private readonly publishes: PublishHandler;
  private readonly subscriptions: SubscribeHandler;
  /** Reused by every MessagePack cache request read on the fast path. */
  private readonly cacheRequest = newCacheRequestSlot();

  constructor(
    private readonly core: BrokerCore,
    private readonly session: ConnectionSession,
    private readonly stream: ByteStream,
  ) {
    this.decoder = new FrameDecoder(
      { onFrame: (flags, payload) => this.onFrame(flags, payload), onError: (e) => this.onWireError(e) },
      { maxFrameBytes: core.config.maxFrameBytes },
    );
    stream.highWaterMark = REPLY_WRITE_AHEAD;
    this.answers = new AnswerWriter(stream, () => this.holdUntilDrained());
    this.replies = new Replies(stream, this.answers);
    this.publishes = new PublishHandler(core, this, this.replies);
    this.subscriptions = new SubscribeHandler(core, session, this.replies);
    stream.onData = (chunk, fin) => {
      this.answers.beginRead();
      try {
        this.decoder.push(chunk);
        this.answers.endRead();
      } catch (err) {
        // Not a peer's input (every frame is answered inside onFrame): a broker bug. Only this connection pays.
        session.internalError(err);
        return;
      }
      if (fin) this.onEnd();
    };
    stream.onReset = () => this.onEnd();
    stream.onStopSending = () => this.onEnd();
  }

  get tenant(): string {
    return this.authenticated!;
  }

  get account(): BudgetAccount {
    return this.session.account;
  }

  get stampsComparable(): boolean {
    return (this.negotiated & FLAG_TIMINGS) !== 0 && this.session.sameHost;
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  /** The connection went away: drop everything this stream owned, writing nothing. */
  dispose(): void {
    this.ended = true;
    this.subscriptions.endAll(false);
    this.releaseHeld();
  }

  private onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    // Closing a control stream ends its subscriptions, after what was already queued for them.
    this.subscriptions.endAll(true);
    this.releaseHeld();
    this.session.streamEnded(this);
    this.answers.flush();
    if (this.stream.writable) this.stream.end();
  }

  private releaseHeld(): void {
    this.publishes.release();
    this.core.budget.forget(this);
  }

  private onFrame(flags: number, payload: Uint8Array): void {
    if (this.ended) return;
    try {
      if (this.authenticated === null) this.onAuth(flags, payload);
      else this.route(flags, payload);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.onWireError(err);
    }
  }

  private route(flags: number, payload: Uint8Array): void {
    const layout = payloadLayout(flags);
    if (layout === 'binary_publish_batch' || layout === 'binary_acked_publish_batch') {
      let batch;
      try {
        batch = decodeBinaryPublishBatch(flags, payload);
      } catch (err) {
        // An acked batch whose body is bad still names its request: answered with its publish_error.
        if (!(err instanceof WireError) || err.requestId === undefined) throw err;
        this.core.stats.protocolErrors++;
        this.publishes.refuse(err.requestId, 'binary', err.message, 'invalid_request');
        return;
      }
      this.publishes.publish(
        batch.tenant_id,
        batch.namespace,
        batch.stream,
        batch.payloads,
        batch.request_id,
        batch.ack,
        'binary',
        batch.send_ns ?? 0,
      );
      return;
    }
    if (layout === 'msgpack' && readCacheRequest(payload, this.cacheRequest)) {
      this.core.cache.handle(this.cacheRequest as CacheRequest, this.tenant, this.replies);
      return;
    }
    if (layout !== 'json' && layout !== 'msgpack') {
      throw new WireError('invalid_flags', `frames with flags 0x${flags.toString(16)} are not requests`, {
        flags,
      });
    }
    this.onMessage(decodeMessage(flags, payload));
  }

  private onAuth(flags: number, payload: Uint8Array): void {
    if (flags !== 0) {
      // Nothing is negotiated before auth: it is JSON (flags 0), whatever the client hopes to use later.
      this.fail(
        `auth expected as a JSON frame (flags 0), got flags 0x${flags.toString(16)}`,
        'unauthenticated',
      );
      return;
    }
    let message: Message;
    try {
      message = decodeMessage(flags, payload);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.fail(`auth expected: ${err.message}`, 'unauthenticated');
      return;
    }
    if (message.type !== 'auth') {
      this.fail(`the first message on a stream must be auth, got ${message.type}`, 'unauthenticated');
      return;
    }
    this.authenticated = message.tenant_id;
    const own = this.core.timings === null ? KNOWN_FLAGS & ~FLAG_TIMINGS : KNOWN_FLAGS;
    this.negotiated = negotiateFlags(message.client_flags, own);
    this.events = eventEncoding(this.negotiated);
    this.replies.errorCodes = supportsFeature(message.client_features ?? 0, FEATURE_ERROR_CODES);
    // auth_ok is JSON whatever was offered: the client learns only from it whether MessagePack is on.
    if (message.client_flags === undefined) {
      // A client from before capability negotiation: Felix answers it with a plain ok.
      this.answers.append(encodeJsonMessage({ type: 'ok' }));
    } else {
      // The broker's whole set, not the intersection: each side then uses what both advertised.
      this.answers.append(
        encodeJsonMessage({ type: 'auth_ok', server_flags: own, server_features: BROKER_FEATURES }),
      );
    }
    this.replies.msgpack = (this.negotiated & FLAG_MSGPACK) !== 0;
  }

  private onMessage(m: Message): void {
    switch (m.type) {
      case 'publish':
        this.publishes.publish(
          m.tenant_id,
          m.namespace,
          m.stream,
          [m.payload],
          m.request_id,
          m.ack,
          'message',
          0,
        );
        return;
      case 'publish_batch':
        this.publishes.publish(
          m.tenant_id,
          m.namespace,
          m.stream,
          m.payloads,
          m.request_id,
          m.ack,
          'message',
          0,
        );
        return;
      case 'publish_chunk':
        this.publishes.publishChunk(m);
        return;
      case 'subscribe':
        this.subscriptions.subscribe(m, this.tenant, this.events!);
        return;
      case 'cache_put':
      case 'cache_get':
      case 'cache_delete':
        this.core.cache.handle(m, this.tenant, this.replies);
        return;
      case 'auth':
        this.replies.sendError('already authenticated on this stream', 'invalid_request');
        return;
      default:
        this.replies.sendError(
          `${m.type} is not a request a client may send`,
          'invalid_request',
          requestIdOf(m),
        );
    }
  }

  /** A frame the wire unit refused: answered, and the stream ends only when framing is lost. */
  private onWireError(e: WireError): void {
    const core = this.core;
    core.stats.protocolErrors++;
    core.log.debug({ code: e.code, err: e.message }, 'bad frame from client');
    if (this.authenticated === null) {
      this.fail(`auth expected: ${e.message}`, 'unauthenticated');
      return;
    }
    const code: ErrorCode = e.code === 'frame_too_large' ? 'limit_exceeded' : 'invalid_request';
    if (e.requestId !== undefined && isPublish(e.messageType)) {
      this.publishes.refuse(e.requestId, 'message', e.message, code);
    } else {
      this.replies.sendError(e.message, code, e.requestId);
    }
    if (e.fatal) this.abort(e.message);
  }

  /** Answers with an error and abandons the stream: the client broke the protocol. */
  private fail(message: string, code: ErrorCode): void {
    this.replies.sendError(message, code);
    this.abort(message);
  }

  private abort(reason: string): void {
    this.core.log.debug({ reason }, 'closing client stream');
    // The answer already written goes out before the FIN (a RESET_STREAM would discard it); the client's
    // sending side is stopped with the code.
    this.onEnd();
    this.stream.stop(STREAM_CODE_PROTOCOL_ERROR);
  }

  private holdUntilDrained(): void {
    this.stream.pause();
    this.stream.onDrain = () => {
      this.stream.onDrain = null;
      this.stream.resume();
    };
  }
}

/** Whether a refused message was a publish, so its answer is a publish_error. */
function isPublish(type: string | undefined): boolean {
  return type === 'publish' || type === 'publish_batch' || type === 'publish_chunk';
}

function requestIdOf(m: Message): number | undefined {
  return 'request_id' in m && typeof m.request_id === 'number' ? m.request_id : undefined;
}
