/**
 * The client: one object per broker, holding a publish pool (FELIX_PUB_CONN_POOL connections ×
 * FELIX_PUB_STREAMS_PER_CONN long-lived publish streams), an event pool (FELIX_EVENT_CONN_POOL
 * connections carrying control and event streams) and a cache pool (FELIX_CACHE_CONN_POOL connections ×
 * FELIX_CACHE_STREAMS_PER_CONN long-lived cache streams), each on its own endpoint so each family's
 * flow-control windows are its own. Pools connect lazily; connect() opens one publish stream so that a
 * wrong address, certificate or token fails there, with a clear error, rather than at the first publish.
 *
 * Once connected, every pooled connection that is lost reconnects by itself (FELIX_RECONNECT_*), what ran
 * on it carries over (publish and cache workers with what they had in flight, subscriptions from where
 * their events left off), and status() reports each step. Only when the attempts run out does the client
 * close, with the error, which `closed` then resolves with.
 */
import { Endpoint, type ClientTlsOptions } from '../transport/index.js';
import { CacheClient } from './cache-client.js';
import { CacheDispatcher } from './cache-dispatcher.js';
import { FRAME_ENVELOPE_RESERVE_BYTES, type ClientConfig } from './config.js';
import type { ReconnectPolicy } from './backoff.js';
import { ConnectionPool, type PoolListener } from './connection-pool.js';
import { FelixError, toFelixError, withContext } from './errors.js';
import { FrameRecycler } from './frame-recycler.js';
import { checkHostResolves } from './host-lookup.js';
import { EventRouter } from './event-router.js';
import { resolveOptions, type ConnectOptions, type OptionLabel, type ResolvedOptions } from './options.js';
import { Publisher, wholePayloadLimit, type Payload, type PublishOptions } from './publisher.js';
import { StatusHub, type StatusEvent } from './status.js';
import { Subscriber } from './subscriber.js';
import type { Subscription, SubscribeOptions } from './subscription.js';
import { clientTlsOptions, tlsNoticeOncePerProcess } from './tls.js';
import { transportSettingsFor, type PoolFamily } from './transport-settings.js';
import { WorkerPool } from './worker-pool.js';

/**
 * The most of its latest publishes without ack a publish stream keeps, to send again those a draining broker
 * refuses (UnansweredTail): what was written within the last round trips before the `draining` notice came,
 * ~250 KB at 1 ms and 2 Gbit/s. Keeping more costs every publishing client the promotion of each frame it
 * keeps to the old generation (4 MiB per stream cost f1 b64 256 B 0.84× its delivered rate).
 */
const DRAIN_RESEND_TAIL_BYTES = 256 * 1024;
/** What the client keeps of answered request frames for reuse (FrameRecycler). */
const RECYCLED_FRAME_BYTES = 4 * 1024 * 1024;

// Bound on waiting for close packets to leave the socket once every stream is finished.
const ENDPOINT_CLOSE_MS = 500;

/**
 * Connects to a broker. Options are merged once with FELIX_PROFILE, the YAML file (FELIX_CLIENT_CONFIG)
 * and the environment (options win), then frozen. Throws ConfigError for a bad option or setting, and
 * FelixError `connect_failed` / `auth_failed` / `timeout` when the broker cannot be used.
 */
export async function connect(options: ConnectOptions = {}): Promise<FelixClient> {
  return await connectLabelled(options);
}

/**
 * @internal connect() for a program that fills the options from its own command-line flags: `label` names
 * the flag behind an option in configuration errors (`flag --ca`, not `option tlsCa`).
 */
export async function connectLabelled(options: ConnectOptions, label?: OptionLabel): Promise<FelixClient> {
  const resolved = resolveOptions(options, label);
  const client = new FelixClient(resolved, clientTlsOptions(resolved.config));
  await client.verify();
  return client;
}

export class FelixClient {
  readonly config: ClientConfig;
  readonly tenant: string;
  readonly namespace: string;
  /** host:port connected to. */
  readonly broker: string;
  /**
   * Settles when the client is finally closed: with undefined after close(), or with the error that
   * ended it (reconnect attempts ran out). Never rejects.
   */
  readonly closed: Promise<FelixError | undefined>;

  private readonly endpoints = new Map<PoolFamily, Promise<Endpoint>>();
  private readonly warned = new Set<string>();
  private readonly publishPool: WorkerPool;
  private readonly cachePool: WorkerPool;
  private cacheClient: CacheClient | null = null;
  private readonly eventPool: ConnectionPool<EventRouter>;
  private readonly subscriber: Subscriber;
  private publisher: Publisher | null = null;
  private closing: Promise<void> | null = null;
  /** close() has begun (set before `closing`, which shutdown()'s synchronous part runs without). */
  private shuttingDown = false;
  private readonly statusHub = new StatusHub();
  /** Acked publish and cache put frames, reused once answered (publishing and the cache share it). */
  private readonly frames = new FrameRecycler(RECYCLED_FRAME_BYTES);
  private readonly recycleFrame = (frame: Buffer): void => this.frames.recycle(frame);
  /** Whether any of the client's connections is reconnecting (ConnectionPoolOptions.outage). */
  private readonly inOutage = (): boolean =>
    this.publishPool.recovering || this.cachePool.recovering || this.eventPool.recovering;
  /** FELIX_PUBLISH_WHOLE_MAX_BYTES as the publisher applies it (wholePayloadLimit). */
  private readonly wholeMaxBytes: number;
  private endError: FelixError | undefined = undefined;
  private resolveClosed!: (error: FelixError | undefined) => void;

  /** @internal use connect() */
  constructor(
    private readonly options: ResolvedOptions,
    private readonly tls: ClientTlsOptions,
  ) {
    const { config } = options;
    this.config = config;
    this.wholeMaxBytes = wholePayloadLimit(
      config.publishWholeMaxBytes,
      config.publishChunkBytes,
      config.maxFrameBytes,
      FRAME_ENVELOPE_RESERVE_BYTES,
    );
    this.tenant = options.tenant;
    this.namespace = options.namespace;
    this.broker = options.host.includes(':')
      ? `[${options.host}]:${options.port}`
      : `${options.host}:${options.port}`;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    const reconnect: ReconnectPolicy = {
      initialMs: config.reconnectInitialMs,
      maxMs: config.reconnectMaxMs,
      attempts: config.reconnectAttempts,
    };
    const onStatus = (event: StatusEvent): void => this.statusHub.emit(event);
    // A pool that gave up on a connection ends the client: the broker is out of reach.
    // A lost connection may mean a restarted broker: the others are probed at once (see probeConnections).
    const giveUp: PoolListener<unknown> = {
      gaveUp: (_index, error) => this.fail(error),
      lost: () => this.probeConnections(),
    };
    this.publishPool = this.requestPool(
      'publish',
      'pub',
      config.pubConnPool,
      config.pubStreamsPerConn,
      options.publishQueueBytes,
      reconnect,
      onStatus,
    );
    // Cache streams are bounded by count instead: FELIX_CACHE_STREAM_MAX_INFLIGHT requests of one frame.
    this.cachePool = this.requestPool(
      'cache',
      'cache',
      config.cacheConnPool,
      config.cacheStreamsPerConn,
      Number.POSITIVE_INFINITY,
      reconnect,
      onStatus,
    );
    this.publishPool.listen(giveUp);
    this.cachePool.listen(giveUp);
    this.eventPool = new ConnectionPool<EventRouter>({
      name: 'event',
      size: config.eventConnPool,
      endpoint: () => this.endpoint('event'),
      connectTimeoutMs: options.connectTimeoutMs,
      reconnect,
      onStatus,
      outage: this.inOutage,
      onWarning: options.onWarning,
      tokenProvider: typeof options.token === 'function',
      attach: (connection, index) =>
        new EventRouter(connection, {
          maxFrameBytes: config.maxFrameBytes,
          maxPending: config.eventRouterMaxPending,
          onWarning: options.onWarning,
          label: `event connection ${index}`,
        }),
    });
    this.subscriber = new Subscriber(this.eventPool, {
      tenant: options.tenant,
      token: options.token,
      namespace: options.namespace,
      maxFrameBytes: config.maxFrameBytes,
      queueCapacity: config.clientSubQueueCapacity,
      queuePolicy: config.clientSubQueuePolicy,
      requestTimeoutMs: options.requestTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      closeTimeoutMs: options.closeTimeoutMs,
      onWarning: options.onWarning,
      timings: !config.disableTimings,
      onStatus,
    });
    this.eventPool.listen(giveUp);
  }

  /** The broker's key-value cache: put, get, delete (see CacheClient). */
  get cache(): CacheClient {
    if (this.cacheClient === null) throw new FelixError('not_connected', 'the client is not connected yet');
    return this.cacheClient;
  }

  get isClosed(): boolean {
    return this.closing !== null;
  }

  /**
   * The client's connection events from now on, in the order they happen (see StatusEvent): `disconnect`,
   * `reconnecting` (per attempt), `reconnect`, `draining` and `error`, each naming its pool and connection.
   * The iteration ends when the client is closed. As nats.js's status().
   */
  status(): AsyncIterableIterator<StatusEvent> {
    return this.statusHub.reader();
  }

  /**
   * Publishes one payload to `stream` (in the client's tenant and, unless given, namespace). Resolves when
   * the broker acknowledged it (ack per_message, the default), or when the client accepted it (ack none).
   * The payload is copied before this returns: the caller may reuse its buffer at once.
   */
  publish(stream: string, payload: Payload, options?: PublishOptions): Promise<void> {
    const publisher = this.publisher;
    if (publisher === null || this.closing !== null) return Promise.reject(this.notConnected());
    return publisher.publish(stream, payload, options);
  }

  /**
   * Publishes several payloads to one stream, in order (ack per_batch by default). A batch above
   * FELIX_PUBLISH_CHUNK_BYTES travels as several frames, each appended or refused by the broker on its own:
   * a rejection then carries `error.batch`, the payloads that were appended (README, Publishing). A payload
   * above the broker's largest message fails the whole batch before any of it is sent.
   */
  publishBatch(stream: string, payloads: readonly Payload[], options?: PublishOptions): Promise<void> {
    const publisher = this.publisher;
    if (publisher === null || this.closing !== null) return Promise.reject(this.notConnected());
    return publisher.publishBatch(stream, payloads, options);
  }

  /** Subscribes to `stream`; resolves once the broker confirmed (`subscribed`). */
  subscribe(stream: string, options?: SubscribeOptions): Promise<Subscription> {
    if (this.closing !== null) return Promise.reject(this.notConnected());
    return this.subscriber.subscribe(stream, options);
  }

  /** Resolves once every publish accepted so far has been written and acknowledged (or has failed). */
  flush(): Promise<void> {
    return this.publishPool.flush();
  }

  /**
   * Flushes what was accepted (publishes written, acks awaited, unacknowledged publishes confirmed by the
   * broker finishing each publish stream), unsubscribes, and closes every connection, all within
   * closeTimeoutMs; what is still outstanding then fails with `timeout` or `connection_closed`.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    // Before shutdown() runs: the give-ups it causes (a pool marked closed fails what waits for a
    // reconnect) are this close, not attempts running out (see fail()).
    this.shuttingDown = true;
    this.closing = this.shutdown().finally(() => {
      this.statusHub.end();
      this.resolveClosed(this.endError);
    });
    return this.closing;
  }

  /** @internal opens publish stream 0 and learns what the broker supports. */
  async verify(): Promise<void> {
    try {
      await checkHostResolves(this.options.host, this.options.connectTimeoutMs);
      const negotiated = await this.publishPool.worker(0).ready;
      // A broker with smaller frames than ours says so, at every auth: each worker cuts its publishes to
      // what its broker announced (sent larger, a frame would be refused before its request could be
      // named, and the request would wait for its timeout).
      this.publisher = new Publisher(this.publishPool, negotiated, {
        tenant: this.tenant,
        namespace: this.namespace,
        sharding: this.config.pubSharding,
        chunkBytes: this.config.publishChunkBytes,
        wholeMaxBytes: this.config.publishWholeMaxBytes,
        envelopeBytes: FRAME_ENVELOPE_RESERVE_BYTES,
        allocate: this.frames.allocate,
      });
      const dispatcher = new CacheDispatcher(this.cachePool, {
        connections: this.config.cacheConnPool,
        maxInFlightPerLane: this.config.cacheStreamMaxInflight,
        waitTimeoutMs: this.options.requestTimeoutMs,
      });
      this.cacheClient = new CacheClient(dispatcher, negotiated, {
        tenant: this.tenant,
        // The broker's own limit is applied per cache stream, as announced at its latest auth.
        maxFrameBytes: this.config.maxFrameBytes,
        allocate: this.frames.allocate,
      });
    } catch (error) {
      const felixError = withContext(
        toFelixError(error, 'connect_failed', 'connect'),
        `cannot connect to the broker at ${this.broker}`,
      );
      this.endError = felixError;
      await this.close();
      throw felixError;
    }
    // Connected: from now on a lost connection is reopened instead of failing what runs on it.
    this.publishPool.arm();
    this.cachePool.arm();
    this.eventPool.arm();
  }

  /**
   * One connection was lost: if the broker was killed and started again, the client's other connections are
   * dead too, but one that is only receiving (a subscription's) sends nothing until its next keep-alive, and
   * meanwhile its publishers, back already, publish what it would miss (an in-memory stream keeps only
   * its newest events for a resume). A PING on each makes a restarted broker with the same stateless
   * reset key answer every one of them at once; to a live broker it is one packet each.
   */
  private probeConnections(): void {
    if (this.closing !== null) return;
    for (const pool of [this.publishPool, this.cachePool]) {
      for (const entry of pool.connected) entry.connection.probe();
    }
    for (const entry of this.eventPool.connected) entry.connection.probe();
  }

  /** Ends the client with `error` (reconnect attempts ran out): everything outstanding fails. */
  private fail(error: FelixError): void {
    // The first give-up ends the client. The others are the pools' own connections giving up as close()
    // marks them closed — after a give-up, or when the application closed the client while they were
    // reconnecting: they must neither become the client's error nor close it again.
    if (this.shuttingDown) return;
    this.endError = error;
    void this.close();
  }

  private async shutdown(): Promise<void> {
    const timeoutMs = this.options.closeTimeoutMs;
    // After a give-up, what is outstanding fails with why the client ended.
    const reason = this.endError;
    // Subscriptions first: one waiting for a lost connection then simply ends (unsubscribed), before the
    // event pool gives its reconnects up.
    const subscriptions = this.subscriber.close(reason);
    this.eventPool.markClosed(reason);
    this.cacheClient?.close(reason);
    await Promise.all([
      this.publishPool.close(timeoutMs, reason),
      this.cachePool.close(timeoutMs, reason),
      subscriptions,
    ]);
    const endpoints = await Promise.allSettled(this.endpoints.values());
    await Promise.all(
      endpoints.map((settled) =>
        settled.status === 'fulfilled'
          ? settled.value.close({ reason: 'client closed', timeoutMs: ENDPOINT_CLOSE_MS })
          : undefined,
      ),
    );
  }

  /** A family's long-lived request streams: `size` connections × `streamsPerConnection` streams. */
  private requestPool(
    name: 'publish' | 'cache',
    family: PoolFamily,
    size: number,
    streamsPerConnection: number,
    maxQueuedBytes: number,
    reconnect: ReconnectPolicy,
    onStatus: (event: StatusEvent) => void,
  ): WorkerPool {
    const { options } = this;
    return new WorkerPool({
      name,
      connections: {
        size,
        endpoint: () => this.endpoint(family),
        connectTimeoutMs: options.connectTimeoutMs,
        reconnect,
        onStatus,
        outage: this.inOutage,
        onWarning: options.onWarning,
        tokenProvider: typeof options.token === 'function',
      },
      streamsPerConnection,
      stream: {
        tenant: options.tenant,
        token: options.token,
        maxFrameBytes: options.config.maxFrameBytes,
        requestTimeoutMs: options.requestTimeoutMs,
        connectTimeoutMs: options.connectTimeoutMs,
        maxQueuedBytes,
        onWarning: options.onWarning,
        timings: !options.config.disableTimings,
        recycle: this.recycleFrame,
        // A chunked publish holds its stream for at most what a payload sent whole does.
        chunkBytesPerTurn: name === 'publish' ? this.wholeMaxBytes : 0,
        // Publishes without ack that a draining broker refuses are sent again (RequestStream).
        retainUnansweredBytes: name === 'publish' ? Math.min(maxQueuedBytes, DRAIN_RESEND_TAIL_BYTES) : 0,
      },
    });
  }

  private endpoint(family: PoolFamily): Promise<Endpoint> {
    let endpoint = this.endpoints.get(family);
    if (endpoint === undefined) {
      endpoint = Endpoint.client({
        host: this.options.host,
        port: this.options.port,
        settings: transportSettingsFor(this.config, family),
        tls: this.tls,
        onWarning: (message) => tlsNoticeOncePerProcess(message, (m) => this.warnOnce(m)),
      });
      this.endpoints.set(family, endpoint);
      // A failed endpoint is retried on next use; its error reaches the caller through the pool.
      endpoint.catch(() => {
        if (this.endpoints.get(family) === endpoint) this.endpoints.delete(family);
      });
    }
    return endpoint;
  }

  // Each family's endpoint repeats the same TLS notice; once is enough.
  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.options.onWarning(message);
  }

  private notConnected(): FelixError {
    return new FelixError(
      'not_connected',
      this.closing !== null ? 'the client is closed' : 'the client is not connected yet',
    );
  }
}
