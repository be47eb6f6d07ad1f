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
  FEATURE_DRAINING,
  FEATURE_DROP_NOTICE,
  FEATURE_ERROR_CODES,
  FEATURE_IDEMPOTENT_PUBLISH,
  CLIENT_REQUEST_TYPES,
  FEATURE_TOPOLOGY,
  MAX_BATCH_PAYLOADS,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
  FrameDecoder,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  STREAM_CODE_PROTOCOL_ERROR,
  WireError,
  copyBytes,
  decodeBinaryPublishBatch,
  decodeMessage,
  encodeJsonMessage,
  negotiateFlags,
  payloadLayout,
  supportsFeature,
  type AuthMessage,
  type ErrorCode,
  type RetryClass,
  type Message,
} from '../../wire/index.js';
import { shownName } from '../../config/shown-name.js';
import { newCacheRequestSlot, readCacheRequest } from '../../wire/cache-frames.js';
import type { BrokerCore } from '../core/broker-core.js';
import { permissionFor, type DataAction, type Grant, type VerifyResult } from '../auth/index.js';
import type { CacheRequest, TokenAuthority } from '../core/ports.js';
import { BudgetAccount } from '../core/publish-budget.js';
import { UNAUTHENTICATED_TENANT, type TenantShare } from '../core/tenant-shares.js';
import { AnswerWriter } from './answer-writer.js';
import type { ConnectionSession } from './connection-session.js';
import { eventEncoding, type EventEncoding } from './event-encoding.js';
import { PublishHandler, type PublishingStream } from './publish-handler.js';
import { Replies, refusalCodeOf } from './replies.js';
import { SubscribeHandler } from './subscribe-handler.js';
import type { ByteStream } from './stream-port.js';

/**
 * Largest frame a stream may send before it has authenticated: an `auth` is a few KiB (a JWT with its
 * permissions), and a peer that has shown no token must not make the broker buffer more. Room for the
 * longest token the SDK takes (FELIX_AUTH_TOKEN: 64 KiB) and the message around it.
 */
export const AUTH_FRAME_MAX_BYTES = 72 * 1024;

// Every feature the broker serves. Not TOPOLOGY: a single node has no topology to report, and a client
// must not send `topology` to a broker that does not advertise it.
const BROKER_FEATURES = (KNOWN_FEATURES & ~FEATURE_TOPOLOGY) >>> 0;
// With FELIX_DEDUP_WINDOW_MS=0 retries are appended again, so a client must not count on suppression.
const BROKER_FEATURES_WITHOUT_DEDUP = (BROKER_FEATURES & ~FEATURE_IDEMPOTENT_PUBLISH) >>> 0;

// Answers beyond this wait in the transport before the stream stops reading requests.
const REPLY_WRITE_AHEAD = 4 * 1024 * 1024;

export class StreamSession implements PublishingStream {
  private readonly decoder: FrameDecoder;
  private authenticated: string | null = null;
  /** Flags both sides use (the client's offer & the broker's set), fixed by auth. */
  private negotiated = 0;
  private events: EventEncoding | null = null;
  private ended = false;
  /** The client offered DRAINING: it is told `draining` (once) when the broker starts draining. */
  private drainingNotice = false;
  private readonly answers: AnswerWriter;
  private readonly replies: Replies;
  private readonly publishes: PublishHandler;
  private readonly subscriptions: SubscribeHandler;
  /** Reused by every MessagePack cache request read on the fast path. */
  private readonly cacheRequest = newCacheRequestSlot();
  /** Bytes of a partial frame counted against the connection's, the tenant's and the broker's bounds. */
  private partialBytes = 0;
  /** Its tenant's share of the broker-wide bounds (before auth, the unauthenticated streams'); null once released. */
  private share: TenantShare | null;
  /** Where its publishes are charged (from auth on). */
  private budgetAccount: BudgetAccount | null = null;
  /** The transport holds more unread answers than REPLY_WRITE_AHEAD: requests wait in `held`. */
  private answersBackedUp = false;
  /** Publishes are held back (pause()). */
  private publishHeld = false;
  private readonly held: (WireError | { flags: number; payload: Uint8Array })[] = [];
  /** The client finished its side while requests were held: end once they are handled. */
  private finHeld = false;
  /** What the stream's token allows (FELIX_AUTH jwt); null when the broker authenticates nobody. */
  private grant: Grant | null = null;
  /** The token is being verified: requests wait in `held` meanwhile. */
  private verifying = false;
  /** Closes the connection when the token expires. */
  private expiry: NodeJS.Timeout | null = null;
  /** When the stream last delivered input (performance.now()), for FELIX_STREAM_STALL_TIMEOUT_MS. */
  private lastInputAt = 0;
  /** Armed while the stream holds an unfinished frame or chunked publish (see checkStall). */
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly checkStallBound = (): void => this.checkStall();

  constructor(
    private readonly core: BrokerCore,
    private readonly session: ConnectionSession,
    private readonly stream: ByteStream,
  ) {
    this.decoder = new FrameDecoder(
      {
        onFrame: (flags, payload) =>
          this.holding ? this.hold(flags, payload) : this.onFrame(flags, payload),
        onError: (e) => (this.holding ? this.held.push(e) : this.onWireError(e)),
      },
      // Every handler copies what it keeps of a frame, so large frames are built in pooled buffers. Until
      // the stream's auth has arrived, frames are small (AUTH_FRAME_MAX_BYTES).
      { maxFrameBytes: Math.min(core.config.maxFrameBytes, AUTH_FRAME_MAX_BYTES), pool: core.frameBuffers },
    );
    this.share = core.tenantShares.acquire(UNAUTHENTICATED_TENANT);
    stream.highWaterMark = REPLY_WRITE_AHEAD;
    this.answers = new AnswerWriter(stream, () => this.holdUntilDrained());
    this.replies = new Replies(stream, this.answers);
    this.publishes = new PublishHandler(core, this, this.replies, (err) => session.internalError(err));
    this.subscriptions = new SubscribeHandler(core, session, this.replies, this);
    stream.onData = (chunk, fin) => {
      this.answers.beginRead();
      try {
        this.decoder.push(chunk);
        this.answers.endRead();
        if (!this.ended && this.decoder.bufferedBytes !== this.partialBytes) this.accountPartial();
        // The stall deadline's clock is read only by a read that leaves the stream holding input: the
        // common read, whole frames and nothing left over, costs no clock read.
        if (!this.ended && this.holdsInput) {
          this.lastInputAt = performance.now();
          if (this.stallTimer === null) this.armStall(this.stallMs);
        }
        // An ended stream lets go of its partial-frame buffer at once (not from inside the decoder's push).
        if (this.ended) {
          this.decoder.reset();
          return;
        }
      } catch (err) {
        // Not a peer's input (every frame is answered inside onFrame): a broker bug. Only this connection pays.
        session.internalError(err);
        return;
      }
      if (fin) {
        if (this.held.length === 0 && !this.verifying) this.onEnd();
        else this.finHeld = true;
      }
    };
    stream.onReset = () => this.onEnd();
    stream.onStopSending = () => this.onEnd();
  }

  get tenant(): string {
    return this.authenticated!;
  }

  /** Where its publishes are charged: set at auth, before which the stream publishes nothing. */
  get account(): BudgetAccount {
    return this.budgetAccount!;
  }

  get stampsComparable(): boolean {
    return (this.negotiated & FLAG_TIMINGS) !== 0 && this.session.sameHost;
  }

  /**
   * Lame duck: tells a client that offered DRAINING, once, that the broker is draining, so it sends no new
   * work here and reconnects once the broker closed the connection.
   */
  announceDraining(): void {
    if (!this.drainingNotice || this.ended || this.authenticated === null) return;
    this.drainingNotice = false;
    this.replies.send({ type: 'draining' });
  }

  denied(action: DataAction, tenant: string, namespace: string, name: string): string | undefined {
    const grant = this.grant;
    if (grant === null || grant.allows(action, tenant, namespace, name)) return undefined;
    return `permission denied: the token does not grant ${permissionFor(action, tenant, namespace, name)}`;
  }

  /** Requests wait in `held`: answers are backed up, or the token is being verified. */
  private get holding(): boolean {
    return this.answersBackedUp || this.verifying;
  }

  /** Holds the client's publishes back (budget, a `block` subscriber). */
  pause(): void {
    this.publishHeld = true;
    this.stream.pause();
  }

  resume(): void {
    this.publishHeld = false;
    // The stall deadline counts from here: the peer could send nothing while the broker held it back.
    this.lastInputAt = performance.now();
    if (!this.holding) this.stream.resume();
  }

  /** The connection went away: drop everything this stream owned, writing nothing. */
  dispose(): void {
    this.ended = true;
    // The transport may keep its stream a while after the connection closed: it must not keep this session
    // (and its partial-frame buffer) with it.
    const stream = this.stream;
    stream.onData = null;
    stream.onReset = null;
    stream.onStopSending = null;
    stream.onDrain = null;
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

  /**
   * Counts the bytes of the frame this stream is still receiving against its connection's and the broker's
   * bounds; past either, the stream is refused (limit_exceeded) and ended.
   */
  private accountPartial(): void {
    const now = this.ended ? 0 : this.decoder.bufferedBytes;
    const change = now - this.partialBytes;
    this.partialBytes = now;
    this.session.partialFrameBytes += change;
    this.core.partialFrameBytes += change;
    const share = this.share!;
    share.partialBytes += change;
    if (change <= 0) return;
    const config = this.core.config;
    let over: string | undefined;
    if (this.session.partialFrameBytes > config.connPartialFrameBytes) {
      over = `this connection's frames still being received hold ${this.session.partialFrameBytes} bytes, over FELIX_CONN_PARTIAL_FRAME_BYTES (${config.connPartialFrameBytes})`;
    } else if (share.tenant === UNAUTHENTICATED_TENANT) {
      const limit = unauthenticatedPartialFrameLimit(this.core);
      if (share.partialBytes > limit) {
        over = `the frames still being received of streams not yet authenticated hold ${share.partialBytes} bytes, over ${limit} (a sixteenth of FELIX_PARTIAL_FRAME_BYTES)`;
      }
    } else if (share.partialBytes > this.core.tenantPartialFrameLimit) {
      over = `the frames still being received of tenant ${shownName(share.tenant)} hold ${share.partialBytes} bytes, over FELIX_TENANT_PARTIAL_FRAME_BYTES (${this.core.tenantPartialFrameLimit})`;
    }
    if (over === undefined && this.core.partialFrameBytes > config.partialFrameBytes) {
      over = `the broker's frames still being received hold ${this.core.partialFrameBytes} bytes, over FELIX_PARTIAL_FRAME_BYTES (${config.partialFrameBytes})`;
    }
    if (over === undefined) return;
    this.core.stats.protocolErrors++;
    // Bounds of what is in flight, not of the frame: once the other frames are in, it fits.
    this.fail(this.beforeAuth(over), 'limit_exceeded', 'retry_after');
  }

  private releaseHeld(): void {
    // A partial frame is dropped with its stream: its bytes no longer count (`ended` is set by now).
    if (this.partialBytes !== 0) this.accountPartial();
    this.publishes.release();
    if (this.share !== null) this.core.tenantShares.release(this.share);
    this.share = null;
    this.core.budget.forget(this);
    this.held.length = 0;
    if (this.expiry !== null) clearTimeout(this.expiry);
    this.expiry = null;
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  /** The stream waits for more input to finish something it holds: a frame, or a chunked publish. */
  /**
   * Whether the stream is mid-frame or mid-publish: holding bytes of them, or discarding an oversized
   * frame's payload (which holds nothing, but keeps a stream that announced gigabytes and went quiet).
   */
  private get holdsInput(): boolean {
    return this.partialBytes > 0 || this.decoder.skipping || this.publishes.holdsChunks;
  }

  private get stallMs(): number {
    return this.core.config.streamStallTimeoutMs;
  }

  private armStall(ms: number): void {
    if (this.stallMs === 0) return;
    this.stallTimer = setTimeout(this.checkStallBound, ms);
    this.stallTimer.unref();
  }

  /**
   * FELIX_STREAM_STALL_TIMEOUT_MS: a stream that holds an unfinished frame or chunked publish (bytes that
   * count against the partial-frame and publish budgets, for every tenant) and then sends nothing more is
   * ended, and what it held released — a peer cannot park budget by going quiet mid-frame. Time the
   * broker itself holds the stream back (its budget, a token being verified) does not count.
   */
  private checkStall(): void {
    this.stallTimer = null;
    try {
      if (this.ended || !this.holdsInput) return;
      const now = performance.now();
      if (this.publishHeld || this.verifying) this.lastInputAt = now;
      const idle = now - this.lastInputAt;
      if (idle < this.stallMs) {
        this.armStall(this.stallMs - idle);
        return;
      }
      this.core.stats.stalledStreams++;
      const what =
        this.partialBytes > 0 || this.decoder.skipping
          ? 'the rest of a frame'
          : 'the next piece of a chunked publish';
      this.fail(
        this.beforeAuth(
          `stream stalled: no input for ${this.stallMs} ms while waiting for ${what} (FELIX_STREAM_STALL_TIMEOUT_MS)`,
        ),
        'limit_exceeded',
        // What the stream held was dropped unapplied: sent again, whole, it is taken.
        'retry',
      );
    } catch (err) {
      // A timer outside every handler: a defect here costs this connection, not the process.
      this.session.internalError(err);
    }
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
        this.publishes.refuse(err.requestId, 'binary', err.message, refusalCodeOf(err));
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
        batch.producer_id ?? 0,
        batch.sequence ?? 0,
      );
      return;
    }
    if (layout === 'msgpack' && readCacheRequest(payload, this.cacheRequest)) {
      this.cache(this.cacheRequest as CacheRequest);
      return;
    }
    if (layout !== 'json' && layout !== 'msgpack') {
      throw new WireError('invalid_flags', `frames with flags 0x${flags.toString(16)} are not requests`, {
        flags,
      });
    }
    this.onMessage(decodeMessage(flags, payload, MAX_BATCH_PAYLOADS));
  }

  private onAuth(flags: number, payload: Uint8Array): void {
    if (flags !== 0) {
      // Nothing is negotiated before auth: it is JSON (flags 0), whatever the client hopes to use later.
      this.fail(
        `unauthenticated: auth expected as a JSON frame (flags 0), got flags 0x${flags.toString(16)}`,
        'unauthenticated',
      );
      return;
    }
    let message: Message;
    try {
      message = decodeMessage(flags, payload);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.fail(`unauthenticated: auth expected: ${err.message}`, 'unauthenticated');
      return;
    }
    if (message.type !== 'auth') {
      this.fail(
        `unauthenticated: the first message on a stream must be auth, got ${message.type}`,
        'unauthenticated',
      );
      return;
    }
    // An auth (verified next, refused or let in within this read or the verifier's turn): what follows it
    // may use the broker's whole frame size.
    this.decoder.setMaxFrameBytes(this.core.config.maxFrameBytes);
    // Errors from here on carry codes when the client asked for them.
    this.replies.errorCodes = supportsFeature(message.client_features ?? 0, FEATURE_ERROR_CODES);
    const tokens = this.core.tokens;
    if (tokens !== null) {
      const known = tokens.lookup(message.token);
      if (known === undefined) {
        this.verifyThenAccept(tokens, message);
        return;
      }
      if (!this.admit(known, message)) return;
    }
    this.accept(message);
  }

  /**
   * A token the verifier's cache does not know: the stream reads nothing more until its signature is
   * checked; what already arrived waits in `held`, in order.
   */
  private verifyThenAccept(tokens: TokenAuthority, message: AuthMessage): void {
    this.verifying = true;
    this.stream.pause();
    void tokens.verify(message.token).then(
      (result) => {
        this.verifying = false;
        this.lastInputAt = performance.now();
        if (this.ended) return;
        try {
          this.answers.beginRead();
          if (this.admit(result, message)) this.accept(message);
          this.answers.endRead();
          this.handleHeld();
        } catch (err) {
          this.session.internalError(err);
        }
      },
      (err: unknown) => {
        // The verifier is documented never to reject; if it ever does, only this connection pays — an
        // unhandled rejection would end the process.
        this.verifying = false;
        this.session.internalError(err);
      },
    );
  }

  /** Whether the verified token lets this auth in; a refusal ends the stream. */
  private admit(result: VerifyResult, message: AuthMessage): boolean {
    if (!result.ok) {
      this.core.stats.authFailures++;
      this.fail(`authentication failed (${result.reason}): ${result.message}`, 'unauthenticated');
      return false;
    }
    const grant = result.grant;
    if (grant.tenant !== message.tenant_id) {
      this.core.stats.authFailures++;
      this.fail(
        `authentication failed (tenant_mismatch): the token is for tenant ${shownName(grant.tenant)}, not ${shownName(message.tenant_id)}`,
        'unauthenticated',
      );
      return false;
    }
    this.grant = grant;
    this.scheduleExpiry(grant.expiresAtMs);
    return true;
  }

  /** Whether this stream signed in with a token of a key not among `kids` (one removed from the JWKS). */
  signedInWithKeyOutside(kids: ReadonlySet<string>): boolean {
    return this.grant !== null && !kids.has(this.grant.kid);
  }

  /** The connection closes with `token_expired` when the stream's token does. */
  private scheduleExpiry(atMs: number): void {
    const left = Math.max(0, atMs - Date.now());
    this.expiry = setTimeout(
      () => (left > MAX_TIMER_MS ? this.scheduleExpiry(atMs) : this.session.tokenExpired()),
      Math.min(left, MAX_TIMER_MS),
    );
    this.expiry.unref();
  }

  /** From auth on, the stream's bytes count against its tenant's share, no longer the unauthenticated one's. */
  private joinTenant(tenant: string): void {
    const shares = this.core.tenantShares;
    const before = this.share!;
    const share = shares.acquire(tenant);
    before.partialBytes -= this.partialBytes;
    share.partialBytes += this.partialBytes;
    shares.release(before);
    this.share = share;
    this.budgetAccount = new BudgetAccount(this.session.publishBytes, share);
  }

  /** The stream is authenticated: negotiate and answer. */
  private accept(message: AuthMessage): void {
    this.authenticated = message.tenant_id;
    this.session.authenticated(message.tenant_id);
    this.joinTenant(message.tenant_id);
    const own = this.core.timings === null ? KNOWN_FLAGS & ~FLAG_TIMINGS : KNOWN_FLAGS;
    this.negotiated = negotiateFlags(message.client_flags, own);
    const features = message.client_features ?? 0;
    this.events = eventEncoding(this.negotiated, supportsFeature(features, FEATURE_DROP_NOTICE));
    this.drainingNotice = supportsFeature(features, FEATURE_DRAINING);
    // auth_ok is JSON whatever was offered: the client learns only from it whether MessagePack is on.
    if (message.client_flags === undefined) {
      // A client from before capability negotiation: Felix answers it with a plain ok.
      this.answers.append(encodeJsonMessage({ type: 'ok' }));
    } else {
      // The broker's whole set, not the intersection: each side then uses what both advertised.
      this.answers.append(
        encodeJsonMessage({
          type: 'auth_ok',
          server_flags: own,
          server_features: this.core.dedup === null ? BROKER_FEATURES_WITHOUT_DEDUP : BROKER_FEATURES,
          max_frame_bytes: this.core.config.maxFrameBytes,
        }),
      );
    }
    this.replies.msgpack = (this.negotiated & FLAG_MSGPACK) !== 0;
    // A stream opened while the broker already drains learns it at once.
    if (this.core.draining) this.announceDraining();
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
          m.producer_id ?? 0,
          m.sequence ?? 0,
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
          m.producer_id ?? 0,
          m.sequence ?? 0,
        );
        return;
      case 'publish_chunk':
        this.publishes.publishChunk(m);
        return;
      case 'subscribe':
        this.subscriptions.subscribe(m, this.tenant, this.events!);
        // A stream with subscriptions may have nothing to write for long: its stop (STOP_SENDING) must end
        // them when it is read, as its FIN or reset does, not at its next answer or keep-alive tick.
        if (this.subscriptions.holdsAny) this.stream.watchStopSending();
        return;
      case 'cache_put':
      case 'cache_get':
      case 'cache_delete':
        this.cache(m);
        return;
      case 'auth':
        this.replies.sendError('already authenticated on this stream', 'invalid_request');
        return;
      case 'topology':
        // A client request of Felix's, which a broker of one node does not serve (it does not advertise
        // TOPOLOGY): not a message the client had no business sending.
        this.replies.sendError(
          'topology is not served by this broker: it is a single node and does not advertise TOPOLOGY',
          'invalid_request',
        );
        return;
      default:
        this.replies.sendError(
          `${m.type} is not a request a client may send`,
          'invalid_request',
          requestIdOf(m),
        );
    }
  }

  /** A cache request, once the token allows it (another tenant's is refused by the cache itself). */
  private cache(m: CacheRequest): void {
    if (this.grant !== null && m.tenant_id === this.tenant) {
      const action = m.type === 'cache_get' ? 'cache.read' : 'cache.write';
      const denied = this.denied(action, m.tenant_id, m.namespace, m.cache);
      if (denied !== undefined) {
        this.replies.sendError(denied, 'forbidden', m.request_id);
        return;
      }
    }
    this.core.cache.handle(m, this.tenant, this.replies);
  }

  /** A frame the wire unit refused: answered, and the stream ends only when framing is lost. */
  private onWireError(e: WireError): void {
    const core = this.core;
    core.stats.protocolErrors++;
    core.log.debug({ code: e.code, err: e.message }, 'bad frame from client');
    if (this.authenticated === null) {
      this.fail(`unauthenticated: auth expected: ${e.message}`, 'unauthenticated');
      return;
    }
    const code = refusalCodeOf(e);
    if (e.requestId !== undefined && e.ackRequested && isPublish(e.messageType)) {
      this.publishes.refuse(e.requestId, 'message', e.message, code);
    } else if (
      e.code !== 'unknown_type' &&
      e.messageType !== undefined &&
      !CLIENT_REQUESTS.has(e.messageType)
    ) {
      // A message only the broker sends, whose fields did not decode: what is wrong is that it was sent.
      this.replies.sendError(`${e.messageType} is not a request a client may send`, code, e.requestId);
    } else {
      this.replies.sendError(e.message, code, e.requestId);
    }
    if (e.fatal) this.abort(e.message);
  }

  /**
   * A refusal's message as the client reads it: on a stream whose `auth` is not accepted yet it starts
   * `unauthenticated: `, as every refusal before `auth` does (docs/protocol.md, "Errors a peer can cause"),
   * so a client knows it was refused before it was let in, whatever the limit that refused it.
   */
  private beforeAuth(message: string): string {
    return this.authenticated === null ? `unauthenticated: ${message}` : message;
  }

  /** Answers with an error and abandons the stream: the client broke the protocol. */
  private fail(message: string, code: ErrorCode, retry?: RetryClass): void {
    this.replies.sendError(message, code, undefined, { retry });
    this.abort(message);
  }

  private abort(reason: string): void {
    this.core.log.debug({ reason }, 'closing client stream');
    // The answer already written goes out before the FIN (a RESET_STREAM would discard it); the client's
    // sending side is stopped with the code.
    this.onEnd();
    this.stream.stop(STREAM_CODE_PROTOCOL_ERROR);
  }

  /**
   * The client stopped reading answers (more than REPLY_WRITE_AHEAD wait in the transport): read no more of
   * its requests, and keep the rest of the read that is being handled — at most one read's worth of request
   * frames, however large their answers — until the answers drain.
   */
  private holdUntilDrained(): void {
    this.answersBackedUp = true;
    this.stream.pause();
    this.stream.onDrain = () => {
      this.stream.onDrain = null;
      this.answersBackedUp = false;
      this.handleHeld();
    };
  }

  private hold(flags: number, payload: Uint8Array): void {
    this.held.push({ flags, payload: copyBytes(payload) });
  }

  private handleHeld(): void {
    const held = this.held;
    this.answers.beginRead();
    let i = 0;
    for (; i < held.length && !this.holding; i++) {
      const input = held[i]!;
      if (input instanceof WireError) this.onWireError(input);
      else this.onFrame(input.flags, input.payload);
    }
    held.splice(0, i);
    this.answers.endRead();
    if (this.holding) return;
    if (this.finHeld) this.onEnd();
    else if (!this.publishHeld) this.stream.resume();
  }
}

// setTimeout waits at most this long (about 24.8 days); a later token expiry is approached in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The message types a client may send on a stream (every other known type is the broker's). */
const CLIENT_REQUESTS: ReadonlySet<string> = new Set(CLIENT_REQUEST_TYPES);

/** Whether a refused message was a publish, so its answer is a publish_error. */
function isPublish(type: string | undefined): boolean {
  return type === 'publish' || type === 'publish_batch' || type === 'publish_chunk';
}

function requestIdOf(m: Message): number | undefined {
  return 'request_id' in m && typeof m.request_id === 'number' ? m.request_id : undefined;
}

/**
 * What all streams not yet authenticated may hold together of FELIX_PARTIAL_FRAME_BYTES: a sixteenth (at
 * least one auth frame, at most a tenant's share). Not half, as a tenant's share: they need no credentials,
 * so with half one tenant's streams plus some that never authenticate — one attacker — held the whole bound.
 * An auth frame is small and arrives in a packet or two: legitimate clients barely touch it.
 */
function unauthenticatedPartialFrameLimit(core: BrokerCore): number {
  const sixteenth = Math.floor(core.config.partialFrameBytes / 16);
  return Math.min(core.tenantPartialFrameLimit, Math.max(AUTH_FRAME_MAX_BYTES, sixteenth));
}
