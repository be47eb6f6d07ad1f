import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import type { RequestListener, Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  Endpoint,
  generateSelfSignedCertificate,
  isLoopbackHost,
  type CloseInfo,
  type Connection,
  type ServerTls,
} from '../transport/index.js';
import { packageVersion } from '../cli/version.js';
import { formatBindAddress, type BindAddress } from '../config/kinds.js';
import { transportSettingsFrom } from '../config/transport-settings.js';
import { CONNECTION_CODE_NO_ERROR, CONNECTION_CODE_REFUSED } from '../wire/index.js';
import { authModeOf, JwksError, TokenVerifier, verifierOptionsOf, type AuthMode } from './auth/index.js';
import type { BrokerConfig } from './config.js';
import { Broker } from './core/broker.js';
import type { BrokerStats } from './core/stats.js';
import { Dashboard, DASHBOARD_PATH } from './dashboard/dashboard.js';
import type { ConnectionDetail } from './dashboard/snapshot-builder.js';
import { latencyBandsFrom } from './dashboard/latency-bands.js';
import { boundedHttpServer, httpRequestHandler } from './http.js';
import { createMetricsRegistry } from './metrics.js';
import { ConnectionSession } from './quic/connection-session.js';
import { resolveResetKey } from './reset-key.js';
import { bindFailure, fileFailure } from './startup-error.js';
import { certificateValidityProblem, loadTlsFiles, writeServedCertificate } from './tls-files.js';

export interface BrokerNodeOptions {
  readonly logger?: Logger;
  /** Certificate and key to serve; otherwise FELIX_TLS_CERT/KEY, otherwise a generated self-signed one. */
  readonly tls?: ServerTls;
  /** The settings profile the configuration was loaded with (FELIX_PROFILE), shown on /dashboard. */
  readonly profile?: string;
  /** How the process's V8 heap grows (FELIX_HEAP_GROWING_PERCENT, as applied by broker/main.ts), for the start log. */
  readonly heapGrowing?: string;
  /** Whether the process returns memory when idle (FELIX_IDLE_MEMORY_RETURN_MS, as broker/main.ts applies it), for the start log. */
  readonly idleMemoryReturn?: string;
  /** The built dashboard page and bundles; defaults to the ones `npm run build` writes beside the broker. */
  readonly dashboardAssetsDir?: string;
}

const SHUTDOWN_CLOSE_CODE = CONNECTION_CODE_NO_ERROR;

/** What start-up bound and chose before the node exists: nothing of it is announced until all succeeded. */
interface Bound {
  readonly endpoint: Endpoint;
  readonly http: Server;
  readonly served: ServerTls;
  /** The SHA-256 fingerprint of a certificate generated for this run; null for FELIX_TLS_CERT (or options.tls). */
  readonly generatedFingerprint: string | null;
  readonly resetKeySource: string;
  /** Whether a restarted broker will have the same stateless reset key (reset-key.ts). */
  readonly resetKeySurvivesRestart: boolean;
}

/** A connection's session (once accepted) with what its open and close log lines say. */
interface SessionEntry {
  readonly session: ConnectionSession;
  readonly id: number;
  readonly openedAt: number;
}

/**
 * A broker node: the broker (broker/core/) behind a QUIC endpoint serving publish, subscribe and cache
 * streams through the protocol port (broker/quic/), and an HTTP endpoint serving /live, /ready, /metrics and
 * /dashboard. Single-threaded and event-driven: decoding, fanout and the transport all run on the one loop
 * without a promise per message.
 */
export class BrokerNode {
  readonly broker: Broker;
  readonly metrics: Registry;
  /** /dashboard: reads the broker's counters once a second, only while a dashboard is open. */
  readonly dashboard: Dashboard;
  /**
   * What POST /drain does (loopback only). The process entry sets it to its SIGTERM shutdown (lame duck,
   * drain, exit); unset, POST /drain is answered but does nothing beyond what the caller wires.
   */
  onDrainRequest: (() => void) | null = null;
  /** The certificate served, so clients (and tests) can verify against it. */
  readonly certificatePem: string;
  /** Wall-clock time the node was listening (ms since the epoch), for its uptime. */
  readonly startedAt = Date.now();

  private readonly endpoint: Endpoint;
  private readonly http: Server;
  private readonly sessions = new Map<Connection, SessionEntry>();
  private connectionIds = 0;
  private stopping: Promise<void> | null = null;
  /** What serve() logs once the node exists. */
  private readonly announcement: Pick<
    Bound,
    'generatedFingerprint' | 'resetKeySource' | 'resetKeySurvivesRestart'
  >;

  /** How clients are let in: verified tokens (jwt), loopback peers only (protected), or anyone (none). */
  readonly authMode: AuthMode;

  private constructor(
    readonly config: BrokerConfig,
    readonly log: Logger,
    private readonly verifier: TokenVerifier | null,
    bound: Bound,
    options: BrokerNodeOptions,
  ) {
    this.announcement = bound;
    this.authMode = authModeOf(config);
    this.endpoint = bound.endpoint;
    this.http = bound.http;
    this.certificatePem = bound.served.certPem;
    const broker = (this.broker = new Broker(config, log, verifier));
    this.metrics = createMetricsRegistry(
      broker.stats,
      {
        connections: () => this.sessions.size,
        subscriptions: () => broker.subscriptions.size,
        queueDepth: () => broker.queueDepth(),
        publishInflightBytes: () => broker.budget.total,
        partialFrameBytes: () => broker.partialFrameBytes,
        draining: () => broker.draining,
        datagrams: () => this.endpoint.datagramStats(),
        udpBatching: () => ({
          send: this.endpoint.segmentedSendStats(),
          receive: this.endpoint.batchReceiveStats(),
        }),
      },
      broker.cache,
      broker.timings,
      broker.storage,
    );
    const identity = {
      version: packageVersion(),
      startedAt: this.startedAt,
      quicBind: formatBindAddress(this.quicAddress),
      httpBind: formatBindAddress(this.httpAddress),
      profile: options.profile ?? null,
      auth: this.authMode,
      pid: process.pid,
    };
    this.dashboard = new Dashboard(
      {
        stats: broker.stats,
        streams: () => broker.registry.all,
        subscriptions: () => broker.subscriptions,
        connections: () => this.sessions.size,
        cache: broker.cache,
        timings: broker.timings,
        latencyBandsUs: latencyBandsFrom(config.dashboardLatencyBandsUs),
        identity: () => identity,
        connectionDetails: () => this.connectionDetails(),
        storage: broker.storage,
      },
      { assetsDir: options.dashboardAssetsDir },
    );
  }

  /** The broker's counters. */
  get stats(): BrokerStats {
    return this.broker.stats;
  }

  /**
   * Binds FELIX_BROKER_METRICS_BIND and FELIX_QUIC_BIND, then starts serving. Whatever the operator must
   * fix (a certificate file, a port in use, a host that does not resolve) fails before anything is
   * generated, recovered, written or logged as started, with a StartupError naming the setting (the process
   * entry prints it on one line and exits 2).
   */
  static async start(config: BrokerConfig, options: BrokerNodeOptions = {}): Promise<BrokerNode> {
    const log = options.logger ?? pino({ name: 'felix-broker', level: config.logLevel });
    const files = options.tls ?? loadTlsFiles(config);
    const invalid = files === null ? null : certificateValidityProblem(files.certPem, Date.now());
    if (invalid !== null) {
      log.warn(
        { cert: config.tlsCert },
        `FELIX_TLS_CERT: ${invalid}; clients that verify the broker (FELIX_TLS_CA) will refuse it`,
      );
    }
    let node: BrokerNode | null = null;
    // A key removed from the JWKS: the streams it signed in for stop working at once (see keysChanged).
    const verifier = await openVerifier(config, log, (kids) => node?.keysChanged(kids));
    let http: Server | null = null;
    let endpoint: Endpoint | null = null;
    try {
      // HTTP first: it needs no certificate, so a port in use there is found before one is generated.
      http = await bindHttp(config.brokerMetricsBind);
      const generated = files === null ? await generateSelfSignedCertificate() : null;
      const served = files ?? generated!;
      const resetKey = resolveResetKey(config);
      endpoint = await bindQuic(config, served, resetKey.key, {
        // The node is made in the same turn of the event loop as the bind completes: nothing arrives before.
        onConnection: (c) => node?.onConnection(c),
        onCallbackError: (err, c) => node?.onCallbackError(err, c),
      });
      if (config.tlsWriteCert !== null) writeServedCertificate(config.tlsWriteCert, served.certPem);
      const bound: Bound = {
        endpoint,
        http,
        served,
        generatedFingerprint: generated?.fingerprint256 ?? null,
        resetKeySource: resetKey.source,
        resetKeySurvivesRestart: resetKey.survivesRestart,
      };
      node = new BrokerNode(config, log, verifier, bound, options);
    } catch (error) {
      await endpoint?.close({ code: SHUTDOWN_CLOSE_CODE, reason: 'broker start-up failed', timeoutMs: 0 });
      if (http !== null) await closeHttp(http);
      verifier?.close();
      throw error;
    }
    node.serve(options.heapGrowing, options.idleMemoryReturn);
    return node;
  }

  /**
   * The JWKS still holds `kids` with the keys they named before: every connection with a stream that
   * signed in with a token of another key (one removed by rotation, or whose kid now names new material) is
   * closed, as when a token expires — a removed key stops working at once,
   * for the streams it already let in too, not only for new ones.
   */
  private keysChanged(kids: ReadonlySet<string>): void {
    for (const { session } of [...this.sessions.values()]) session.keysChanged(kids);
  }

  /** Rereads FELIX_AUTH_JWKS now (SIGHUP); a file that does not parse leaves the keys in force. */
  async reloadAuth(): Promise<void> {
    await this.verifier?.reload();
  }

  /** The bound QUIC address (the port is real even when 0 was asked for). */
  get quicAddress(): { host: string; port: number } {
    return this.endpoint.address;
  }

  get httpAddress(): { host: string; port: number } {
    const a = this.http.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  get ready(): boolean {
    return !this.broker.draining;
  }

  /**
   * Graceful shutdown: /ready turns 503, no new connections, everything accepted is flushed to current
   * subscribers, then connections close with a reason — all within FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS.
   */
  stop(reason = 'broker shutting down'): Promise<void> {
    this.stopping ??= this.drainAndClose(reason);
    return this.stopping;
  }

  /** Everything is bound: answer HTTP, start the background work and say so. */
  private serve(heapGrowing: string | undefined, idleMemoryReturn: string | undefined): void {
    const { config, log } = this;
    this.http.removeAllListeners('request');
    this.http.on(
      'request',
      httpRequestHandler({
        registry: this.metrics,
        ready: () => this.ready,
        dashboard: this.dashboard,
        drain: () => this.onDrainRequest?.(),
        loopbackBound: isLoopbackHost(this.httpAddress.host),
      }),
    );
    logAuthMode(config, log, this.verifier);
    if (!isLoopbackHost(this.httpAddress.host)) {
      log.warn(
        { http: config.brokerMetricsBind },
        'the HTTP port (FELIX_BROKER_METRICS_BIND) is not bound to loopback: anyone who reaches it reads ' +
          '/metrics and /dashboard (tenants, streams, client addresses) without authentication',
      );
    }
    const { generatedFingerprint, resetKeySource, resetKeySurvivesRestart } = this.announcement;
    if (!resetKeySurvivesRestart) {
      log.warn(
        'no stateless reset key outlives this run (no FELIX_RESET_KEY, key file, FELIX_TLS_KEY, storage directory ' +
          "or machine id): after a restart, this run's clients notice only at their idle timeout",
      );
    }
    if (generatedFingerprint !== null) {
      log.info(
        { sha256: generatedFingerprint },
        'no FELIX_TLS_CERT/FELIX_TLS_KEY: serving a generated self-signed certificate',
      );
    }
    if (config.tlsWriteCert !== null) {
      log.info(
        { path: config.tlsWriteCert },
        'wrote the served certificate (FELIX_TLS_WRITE_CERT): clients verify the broker with FELIX_TLS_CA set to it',
      );
    }
    if (!this.dashboard.built) {
      log.warn(
        { path: DASHBOARD_PATH },
        'the live dashboard is not built (run npm run build): GET /dashboard answers 503 until it is',
      );
    }
    this.broker.start();
    log.info(
      {
        quic: this.endpoint.address,
        http: this.httpAddress,
        alpn: 'felix',
        retry: config.quicRetry,
        statelessResetKey: resetKeySource,
        udpSegmentationOffload: describeBatching(this.endpoint.segmentedSendStats()),
        udpBatchedReceive: describeBatching(this.endpoint.batchReceiveStats()),
        answersFromDialledAddress: this.endpoint.dialledAddressAnswers(),
        ...(heapGrowing === undefined ? {} : { heapGrowing }),
        ...(idleMemoryReturn === undefined ? {} : { idleMemoryReturn }),
      },
      'felix-ts broker listening',
    );
  }

  private onConnection(connection: Connection): void {
    if (this.broker.draining) {
      connection.close(SHUTDOWN_CLOSE_CODE, 'broker is draining');
      return;
    }
    const loopback = isLoopbackHost(connection.remote.host);
    if (this.authMode === 'protected' && !loopback) {
      // Redis's protected mode: with no authentication configured, only this host's clients are served.
      this.broker.stats.noteRefused('protected_mode');
      connection.close(
        CONNECTION_CODE_REFUSED,
        'protected mode: no authentication is configured (FELIX_AUTH_JWKS), so only loopback clients are served; set FELIX_AUTH=none to serve everyone without authentication',
      );
      return;
    }
    const session = new ConnectionSession(this.broker, connection, loopback);
    const entry: SessionEntry = { session, id: ++this.connectionIds, openedAt: Date.now() };
    session.id = entry.id;
    connection.onStream = (stream) => session.onStream(stream);
    connection.onCreditStranded = (bytes) => {
      // Called from the transport's read of this connection: a defect here costs it, not the process.
      try {
        session.creditStranded(bytes);
      } catch (err) {
        session.internalError(err);
      }
    };
    const authDeadline = this.authDeadlineFor(session);
    // Logged once its first stream authenticates, when the line can say for which tenant.
    session.onFirstAuth = (tenant) => {
      if (authDeadline !== null) clearTimeout(authDeadline);
      this.log.info(
        { connection: entry.id, remote: `${connection.remote.host}:${connection.remote.port}`, tenant },
        'connection opened',
      );
    };
    this.sessions.set(connection, entry);
    this.broker.stats.connectionsOpened++;
    connection.onClose = (info) => {
      if (authDeadline !== null) clearTimeout(authDeadline);
      this.sessions.delete(connection);
      this.broker.stats.connectionsClosed++;
      session.dispose();
      this.log.info(
        {
          connection: entry.id,
          remote: `${connection.remote.host}:${connection.remote.port}`,
          tenant: session.tenant,
          reason: closeReason(info),
          code: info.code,
          by: info.byPeer ? 'client' : 'broker',
          ageMs: Date.now() - entry.openedAt,
        },
        'connection closed',
      );
    };
  }

  /**
   * With authentication on, a connection must authenticate a stream within FELIX_AUTH_TIMEOUT_MS of its
   * handshake, or it is closed: one timer per connection, cleared by the first auth or the close.
   */
  private authDeadlineFor(session: ConnectionSession): NodeJS.Timeout | null {
    const ms = this.config.authTimeoutMs;
    if (this.authMode !== 'jwt' || ms === 0) return null;
    const timer = setTimeout(() => {
      // A timer outside every handler: a defect here costs this connection, not the process.
      try {
        session.authTimedOut();
      } catch (err) {
        session.internalError(err);
      }
    }, ms);
    timer.unref();
    return timer;
  }

  /** The transport closed that connection (0x1) after one of our handlers threw: count, log, release. */
  private onCallbackError(err: unknown, connection: Connection): void {
    const entry = this.sessions.get(connection);
    if (entry !== undefined) entry.session.internalError(err);
    else {
      this.broker.stats.internalErrors++;
      this.log.error({ err, remote: connection.remote }, 'internal error serving a connection; closed it');
    }
  }

  /** The open connections, oldest first, for /dashboard (it shows the first few). */
  private *connectionDetails(): Generator<ConnectionDetail> {
    for (const [connection, entry] of this.sessions) {
      yield {
        id: entry.id,
        remote: `${connection.remote.host}:${connection.remote.port}`,
        tenant: entry.session.tenant,
        openedAt: entry.openedAt,
        subscriptions: entry.session.subscriptionCount,
      };
    }
  }

  /**
   * The drain ran out of FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS with events its subscribers have not taken (a slow
   * or stopped reader): they are lost with the close, and the operator reads how many and where.
   */
  private logUndelivered(): void {
    const backlog = this.broker.queueDepth();
    let connectionsWriting = 0;
    for (const c of this.sessions.keys()) if (c.hasPendingWrites) connectionsWriting++;
    this.log.warn(
      {
        timeoutMs: this.config.shutdownDrainTimeoutMs,
        eventsQueued: backlog.total,
        deepestQueue: backlog.max,
        eventsInTransport: backlog.transportEvents,
        bytesInTransport: backlog.transportBytes,
        connectionsWriting,
        durableWritesPending: this.broker.storage?.idle === false,
      },
      'shutdown drain timed out (FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS) before every subscriber took its events: those are lost with the close',
    );
  }

  private async drainAndClose(reason: string): Promise<void> {
    const broker = this.broker;
    // Tells every connection's clients `draining` (those that offered DRAINING), so they stop sending.
    broker.beginDraining();
    const deadline = performance.now() + this.config.shutdownDrainTimeoutMs;
    this.log.info({ timeoutMs: this.config.shutdownDrainTimeoutMs }, 'draining for shutdown');
    this.endpoint.stopAccepting();
    broker.flushAll();
    const delivered = (): boolean => {
      if (!broker.delivered) return false;
      for (const c of this.sessions.keys()) if (c.hasPendingWrites) return false;
      return true;
    };
    while (!delivered() && performance.now() < deadline) await sleep(5);
    if (!delivered()) this.logUndelivered();
    const deliveredAt = performance.now();
    // Then quiet: what quiche accepted may still be in flight (the peers need a few round trips to
    // acknowledge it), and requests that crossed the `draining` notice are still arriving — each is
    // answered `draining` (retry elsewhere, nothing applied) rather than lost in the close as
    // outcome-unknown. The connections close once none has come for DRAIN_QUIET_MS (or four round trips).
    let rtt = 1;
    for (const c of this.sessions.keys()) rtt = Math.max(rtt, c.stats().rttMs);
    const quietMs = Math.max(DRAIN_QUIET_MS, 4 * rtt);
    for (;;) {
      const now = performance.now();
      const quietFor = now - Math.max(deliveredAt, broker.lastDrainRefusalMs);
      if (quietFor >= quietMs || now >= deadline) break;
      await sleep(Math.min(quietMs - quietFor, deadline - now));
    }
    const left = this.sessions.size;
    await this.endpoint.close({ code: SHUTDOWN_CLOSE_CODE, reason, timeoutMs: 500 });
    // Durable logs close only with no write or fsync in flight: one closed during its periodic fsync was
    // abandoned ("closing with a write in flight") and, its offset reservation unsettled, its next start
    // skipped a reserved block as after a crash. Nothing new starts (timers stopped, publishes refused);
    // what is in flight gets the drain's time, and at least STORAGE_CLOSE_GRACE_MS on a slow disk.
    const storage = broker.storage;
    if (storage !== null) {
      storage.stopTimers();
      const until = Math.max(deadline, performance.now() + STORAGE_CLOSE_GRACE_MS);
      while (storage.ioInFlight && performance.now() < until) await sleep(5);
    }
    // No await from the check above to here: nothing can start in between.
    broker.stop();
    this.verifier?.close();
    this.dashboard.close();
    await closeHttp(this.http);
    this.log.info({ connectionsClosed: left }, 'broker stopped');
  }
}

/**
 * How long a draining broker waits, once everything is delivered, for no late publish or subscribe before
 * it closes the connections (bounded by FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS).
 */
const DRAIN_QUIET_MS = 50;

/** How long shutdown waits for durable writes in flight, beyond the drain's deadline if need be. */
const STORAGE_CLOSE_GRACE_MS = 2_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Why a connection ended, in words: its close reason, or what the transport says happened. */
function closeReason(info: CloseInfo): string {
  if (info.timedOut) return 'idle timeout';
  if (info.reason !== '') return info.reason;
  return info.byPeer ? 'closed by the client' : 'closed by the broker';
}

/** Binds the HTTP port; until the node exists, requests are answered 503 (starting). */
async function bindHttp(bind: BindAddress): Promise<Server> {
  const starting: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('starting\n');
  };
  const server = boundedHttpServer(starting);
  server.listen(bind.port, bind.host);
  try {
    await once(server, 'listening');
  } catch (error) {
    throw bindFailure('FELIX_BROKER_METRICS_BIND', 'TCP', bind, error);
  }
  return server;
}

async function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

async function bindQuic(
  config: BrokerConfig,
  tls: ServerTls,
  statelessResetKey: Buffer,
  hooks: {
    onConnection: (c: Connection) => void;
    onCallbackError: (err: unknown, c: Connection) => void;
  },
): Promise<Endpoint> {
  const settings = transportSettingsFrom(config, {
    conn: config.brokerConnRecvWindow,
    stream: config.brokerStreamRecvWindow,
    send: config.brokerSendWindow,
  });
  const bind = config.quicBind;
  let host = bind.host;
  try {
    // The UDP socket takes addresses only: a host name (localhost, this host's name) is resolved here.
    if (isIP(host) === 0) host = (await lookup(host)).address;
    return await Endpoint.listen({
      host,
      port: config.quicBind.port,
      tls,
      settings: {
        ...settings,
        maxStreamsBidi: config.maxStreamsPerConn,
        writeDeadlineMs: config.brokerWriteDeadlineMs,
      },
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      maxHandshakesPerSecond: config.maxHandshakesPerSec,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      retry: config.quicRetry,
      retryAboveHandshakesPerSecond: config.quicRetryAbovePerSec,
      statelessResetKey,
      onConnection: hooks.onConnection,
      onCallbackError: hooks.onCallbackError,
    });
  } catch (error) {
    // The socket's bind fails with an errno (in use, no such address, no such host); anything else is not
    // the operator's to fix and keeps its stack.
    if (typeof (error as NodeJS.ErrnoException).code === 'string') {
      throw bindFailure('FELIX_QUIC_BIND', 'UDP', bind, error);
    }
    throw error;
  }
}

/** The token verifier for FELIX_AUTH jwt (null otherwise). Opening it reads FELIX_AUTH_JWKS. */
async function openVerifier(
  config: BrokerConfig,
  log: Logger,
  keysChanged: (kids: ReadonlySet<string>) => void,
): Promise<TokenVerifier | null> {
  const options = verifierOptionsOf(config, {
    onReload: (outcome) => {
      if (!outcome.ok) {
        log.error({ jwks: outcome }, 'JWKS reload failed; the keys in force stay');
        return;
      }
      log.info({ jwks: outcome }, 'JWKS reloaded');
      if (outcome.changed) keysChanged(new Set(outcome.kept));
    },
  });
  if (options === undefined) return null;
  try {
    return await TokenVerifier.open(options);
  } catch (error) {
    // A JWKS file that cannot be used is the operator's to fix: one line and exit 2, as a bad certificate.
    if (error instanceof JwksError || typeof (error as NodeJS.ErrnoException).code === 'string') {
      throw fileFailure('FELIX_AUTH_JWKS', config.authJwks ?? '', (error as Error).message);
    }
    throw error;
  }
}

/** The start-up notes on who is let in (warnings for the modes that do not authenticate). */
function logAuthMode(config: BrokerConfig, log: Logger, verifier: TokenVerifier | null): void {
  const mode = authModeOf(config);
  if (mode === 'protected') {
    log.warn(
      'protected mode: no authentication configured (FELIX_AUTH_JWKS unset), serving loopback clients only',
    );
  } else if (mode === 'none') {
    log.warn(
      'FELIX_AUTH=none: any client that reaches the QUIC port may publish, subscribe and use the cache of any tenant',
    );
  }
  if (verifier !== null) {
    log.info(
      { jwks: config.authJwks, kids: verifier.kids },
      'authentication: JWT (Ed25519) with the JWKS keys',
    );
  }
}

/** 'on', or why not: the operator sees at start whether the socket's batched paths are in use. */
function describeBatching(stats: {
  readonly active: boolean;
  readonly inactiveReason: string | null;
}): string {
  return stats.active ? 'on' : `off: ${stats.inactiveReason ?? 'unknown'}`;
}
