/**
 * One client connection: its streams, subscriptions and share of the publish budget, and the guard that
 * keeps a broker bug met on this connection from reaching any other.
 */
import {
  CONNECTION_CODE_AUTH_TIMEOUT,
  CONNECTION_CODE_CREDIT_STRANDED,
  CONNECTION_CODE_INTERNAL_ERROR,
  CONNECTION_CODE_TOKEN_EXPIRED,
  STREAM_CODE_PROTOCOL_ERROR,
  STREAM_CODE_SLOW_SUBSCRIBER,
} from '../../wire/index.js';
import type { BrokerCore } from '../core/broker-core.js';
import type { EventOutput } from '../core/ports.js';
import { ConnectionBudget } from '../core/publish-budget.js';
import { Subscription } from '../core/subscription.js';
import type { Topic } from '../core/topic.js';
import type { SubscribeHandler } from './subscribe-handler.js';
import { StreamSession } from './stream-session.js';
import type { ByteStream, PeerConnection } from './stream-port.js';

export class ConnectionSession {
  /** In-flight publish bytes of its streams (bounded by FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES). */
  readonly publishBytes = new ConnectionBudget();
  /** Bytes of frames its streams are still receiving (bounded by FELIX_CONN_PARTIAL_FRAME_BYTES). */
  partialFrameBytes = 0;
  private readonly streams = new Set<StreamSession>();
  private readonly subscriptions = new Map<number, { sub: Subscription; owner: SubscribeHandler }>();
  private closed = false;
  /** The last subscription id the broker picked on this connection. */
  private pickedSubscriptionIds = 0;
  private readonly stopDrainNotice: () => void;
  /** The tenant its first authenticated stream named (null until one authenticates): for logs and /dashboard. */
  tenant: string | null = null;
  /** Its number in the broker's logs and dashboard (0: not numbered, as in engine tests). */
  id = 0;
  /** Called once, when the first stream of this connection authenticates (the broker logs it then). */
  onFirstAuth: ((tenant: string) => void) | null = null;

  constructor(
    private readonly core: BrokerCore,
    readonly connection: PeerConnection,
    /**
     * The client runs on this host, so its monotonic clock is ours and differences of its stamps and ours
     * are latencies. Across hosts they would be a difference of two clocks, which is reported nowhere.
     */
    readonly sameHost: boolean,
  ) {
    this.stopDrainNotice = core.onDraining(() => {
      for (const stream of this.streams) stream.announceDraining();
    });
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

  /**
   * A subscription id the broker picks: unique on this connection, even beside ids clients chose. Counted
   * per connection, so an id tells a client nothing of how many subscriptions other clients made.
   */
  freeSubscriptionId(): number {
    let id = ++this.pickedSubscriptionIds;
    while (this.subscriptions.has(id)) id = ++this.pickedSubscriptionIds;
    return id;
  }

  openEventStream(): ByteStream {
    return this.connection.openStream(false);
  }

  /** Whether the client has granted the broker any event stream on this connection so far. */
  get grantsEventStreams(): boolean {
    return this.connection.grantedAnyStream(false);
  }

  addSubscription(id: number, topic: Topic, output: EventOutput, owner: SubscribeHandler): Subscription {
    const sub = new Subscription(
      id,
      topic,
      output,
      this.core.subscriptionLimits,
      this.core.stats,
      (s, reason) => this.evict(s, reason),
    );
    sub.onFailure = (err) => this.internalError(err);
    sub.connection = this.id;
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

  /** A stream authenticated for `tenant`. Once per stream, never per message. */
  authenticated(tenant: string): void {
    if (this.tenant !== null) return;
    this.tenant = tenant;
    this.onFirstAuth?.(tenant);
  }

  /** A stream finished; forget it. */
  streamEnded(stream: StreamSession): void {
    this.streams.delete(stream);
  }

  /** A stream the client opened. */
  onStream(stream: ByteStream): void {
    if (!stream.bidirectional) {
      // Clients publish on bidirectional streams only; a unidirectional one has nowhere to send acks or
      // errors, so refuse it outright.
      stream.stop(STREAM_CODE_PROTOCOL_ERROR);
      return;
    }
    this.streams.add(new StreamSession(this.core, this, stream));
  }

  /**
   * Last resort, for what no handler expected (a broker bug, never a peer's input, which every handler
   * answers itself): log it, count it, close this connection alone and release what it held.
   */
  internalError(err: unknown): void {
    this.core.stats.internalErrors++;
    this.core.log.error(
      { err, remote: this.connection.remote },
      'internal error serving a connection; closing it',
    );
    if (this.closed) return;
    this.closeWith(CONNECTION_CODE_INTERNAL_ERROR, 'internal error');
  }

  /**
   * FELIX_AUTH_TIMEOUT_MS passed and no stream authenticated: a peer without a valid token must not hold a
   * connection slot by keeping quiet (NATS's auth_timeout). A no-op once one stream has authenticated.
   */
  authTimedOut(): void {
    if (this.closed || this.tenant !== null) return;
    this.core.stats.authTimeouts++;
    this.core.log.info(
      { remote: this.connection.remote },
      'no stream authenticated within FELIX_AUTH_TIMEOUT_MS; closing the connection',
    );
    this.closeWith(CONNECTION_CODE_AUTH_TIMEOUT, 'auth timeout');
  }

  /**
   * Streams the client reset while this side held their bytes unread (paused for backpressure) may have
   * taken `bytes`, half the connection's receive window, for good: the QUIC stack under the transport never
   * gives that credit back (transport/connection.ts, strandedBytes). A few more and the client could send
   * nothing at all on this connection, with no error on either side; closed now instead, with a code that
   * says to reconnect.
   */
  creditStranded(bytes: number): void {
    if (this.closed) return;
    this.core.stats.creditStrandedCloses++;
    this.core.log.warn(
      { remote: this.connection.remote, strandedBytes: bytes },
      'streams the client reset while unread stranded half the receive window; closing the connection',
    );
    this.closeWith(CONNECTION_CODE_CREDIT_STRANDED, 'receive credit stranded');
  }

  /** A stream's token expired: the whole connection goes, as NATS does, and the client reconnects with a fresh one. */
  tokenExpired(): void {
    this.endForToken('token_expired', 'token expired; closing the connection');
  }

  /** The JWKS now holds `kids`: a stream let in by a key no longer among them ends its connection. */
  keysChanged(kids: ReadonlySet<string>): void {
    for (const s of this.streams) {
      if (!s.signedInWithKeyOutside(kids)) continue;
      this.endForToken(
        'key_removed',
        "a stream's token was signed by a key removed from the JWKS; closing the connection",
      );
      return;
    }
  }

  /** Closes the connection with code 0x3 (its token no longer stands); the client reconnects with a fresh one. */
  private endForToken(reason: 'token_expired' | 'key_removed', what: string): void {
    if (this.closed) return;
    // The metric counts subscribers ended (as slow_consumer does), not connections: a publish-only
    // connection ends no subscriber.
    const subscribers = this.subscriptions.size;
    if (subscribers > 0) this.core.stats.noteDisconnect(reason, subscribers);
    this.core.log.info({ remote: this.connection.remote, subscribers }, what);
    this.closeWith(CONNECTION_CODE_TOKEN_EXPIRED, reason);
  }

  /** The broker ends the connection (CONNECTION_CLOSE with `code`) and releases what it held. */
  private closeWith(code: number, reason: string): void {
    this.connection.close(code, reason);
    this.dispose();
  }

  /** The connection ended: release everything without writing. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopDrainNotice();
    for (const s of this.streams) s.dispose();
    this.streams.clear();
    for (const { sub } of this.subscriptions.values()) {
      sub.abort(0);
      this.core.subscriptionClosed(sub);
    }
    this.subscriptions.clear();
  }

  private evict(sub: Subscription, reason: string): void {
    const entry = this.subscriptions.get(sub.id);
    if (entry === undefined) return;
    this.core.stats.noteDisconnect('slow_consumer');
    this.core.log.warn(
      { connection: this.id, subscription: sub.id, stream: sub.topic.name, reason },
      'evicting slow subscriber',
    );
    this.dropSubscription(sub, false);
    entry.owner.evicted(sub, reason);
  }
}
