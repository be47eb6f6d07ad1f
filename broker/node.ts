import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  Endpoint,
  generateSelfSignedCertificate,
  isLoopbackHost,
  readPemFile,
  type Connection,
  type ServerTls,
} from '../transport/index.js';
import { transportSettingsFrom } from '../config/transport-settings.js';
import { CONNECTION_CODE_NO_ERROR, CONNECTION_CODE_REFUSED } from '../wire/index.js';
import { authModeOf, TokenVerifier, verifierOptionsOf, type AuthMode } from './auth/index.js';
import type { BrokerConfig } from './config.js';
import { Broker } from './core/broker.js';
import type { BrokerStats } from './core/stats.js';
import { Dashboard } from './dashboard/dashboard.js';
import { latencyBandsFrom } from './dashboard/latency-bands.js';
import { createHttpServer } from './http.js';
import { createMetricsRegistry } from './metrics.js';
import { ConnectionSession } from './quic/connection-session.js';
import { resolveResetKey } from './reset-key.js';

export interface BrokerNodeOptions {
  readonly logger?: Logger;
  /** Certificate and key to serve; otherwise FELIX_TLS_CERT/KEY, otherwise a generated self-signed one. */
  readonly tls?: ServerTls;
}

const SHUTDOWN_CLOSE_CODE = CONNECTION_CODE_NO_ERROR;

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
  certificatePem = '';

  private endpoint: Endpoint | null = null;
  private http: Server | null = null;
  private readonly sessions = new Map<Connection, ConnectionSession>();
  private stopping: Promise<void> | null = null;

  /** How clients are let in: verified tokens (jwt), loopback peers only (protected), or anyone (none). */
  readonly authMode: AuthMode;

  private constructor(
    readonly config: BrokerConfig,
    readonly log: Logger,
    private readonly verifier: TokenVerifier | null,
  ) {
    this.authMode = authModeOf(config);
    const broker = (this.broker = new Broker(config, log, verifier));
    this.metrics = createMetricsRegistry(
      broker.stats,
      {
        connections: () => this.sessions.size,
        subscriptions: () => broker.subscriptions.size,
        queueDepth: () => broker.queueDepth(),
        publishInflightBytes: () => broker.budget.total,
        draining: () => broker.draining,
        datagrams: () => this.endpoint?.datagramStats() ?? null,
      },
      broker.cache,
      broker.timings,
      broker.storage,
    );
    this.dashboard = new Dashboard({
      stats: broker.stats,
      streams: () => broker.registry.all,
      subscriptions: () => broker.subscriptions,
      connections: () => this.sessions.size,
      cache: broker.cache,
      timings: broker.timings,
      latencyBandsUs: latencyBandsFrom(config.dashboardLatencyBandsUs),
    });
  }

  /** The broker's counters. */
  get stats(): BrokerStats {
    return this.broker.stats;
  }

  /** Starts listening on FELIX_QUIC_BIND and FELIX_BROKER_METRICS_BIND. */
  static async start(config: BrokerConfig, options: BrokerNodeOptions = {}): Promise<BrokerNode> {
    const log = options.logger ?? pino({ name: 'felix-broker', level: config.logLevel });
    const verifier = await openVerifier(config, log);
    const node = new BrokerNode(config, log, verifier);
    await node.listen(options.tls);
    return node;
  }

  /** Rereads FELIX_AUTH_JWKS now (SIGHUP); a file that does not parse leaves the keys in force. */
  async reloadAuth(): Promise<void> {
    await this.verifier?.reload();
  }

  /** The bound QUIC address (the port is real even when 0 was asked for). */
  get quicAddress(): { host: string; port: number } {
    return this.endpoint!.address;
  }

  get httpAddress(): { host: string; port: number } {
    const a = this.http!.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  get ready(): boolean {
    return this.endpoint !== null && !this.broker.draining;
  }

  /**
   * Graceful shutdown: /ready turns 503, no new connections, everything accepted is flushed to current
   * subscribers, then connections close with a reason — all within FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS.
   */
  stop(reason = 'broker shutting down'): Promise<void> {
    this.stopping ??= this.drainAndClose(reason);
    return this.stopping;
  }

  private async listen(tls: ServerTls | undefined): Promise<void> {
    const config = this.config;
    const served = tls ?? (await this.loadTls());
    this.certificatePem = served.certPem;
    const settings = transportSettingsFrom(config, {
      conn: config.brokerConnRecvWindow,
      stream: config.brokerStreamRecvWindow,
      send: config.brokerSendWindow,
    });
    const resetKey = resolveResetKey(config);
    this.endpoint = await Endpoint.listen({
      host: config.quicBind.host,
      port: config.quicBind.port,
      tls: served,
      settings: { ...settings, maxStreamsBidi: config.maxStreamsPerConn },
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      maxHandshakesPerSecond: config.maxHandshakesPerSec,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      retry: config.quicRetry,
      retryAboveHandshakesPerSecond: config.quicRetryAbovePerSec,
      statelessResetKey: resetKey.key,
      onConnection: (c) => this.onConnection(c),
      // The transport closed that connection (0x1) after one of our handlers threw: count, log, release.
      onCallbackError: (err, c) => {
        const session = this.sessions.get(c);
        if (session !== undefined) session.internalError(err);
        else {
          this.broker.stats.internalErrors++;
          this.log.error({ err, remote: c.remote }, 'internal error serving a connection; closed it');
        }
      },
    });
    this.http = createHttpServer({
      registry: this.metrics,
      ready: () => this.ready,
      dashboard: this.dashboard,
      drain: () => this.onDrainRequest?.(),
    });
    this.http.listen(config.brokerMetricsBind.port, config.brokerMetricsBind.host);
    await once(this.http, 'listening');
    this.broker.start();
    this.log.info(
      {
        quic: this.endpoint.address,
        http: this.httpAddress,
        alpn: 'felix',
        retry: config.quicRetry,
        statelessResetKey: resetKey.source,
      },
      'felix-ts broker listening',
    );
  }

  private async loadTls(): Promise<ServerTls> {
    const { tlsCert, tlsKey } = this.config;
    if (tlsCert !== null && tlsKey !== null) {
      return {
        certPem: readPemFile(tlsCert, 'FELIX_TLS_CERT'),
        keyPem: readPemFile(tlsKey, 'FELIX_TLS_KEY'),
      };
    }
    const generated = await generateSelfSignedCertificate();
    this.log.info(
      { sha256: generated.fingerprint256 },
      'no FELIX_TLS_CERT/FELIX_TLS_KEY: serving a generated self-signed certificate',
    );
    return generated;
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
    connection.onStream = (stream) => session.onStream(stream);
    this.sessions.set(connection, session);
    this.broker.stats.connectionsOpened++;
    connection.onClose = (info) => {
      this.sessions.delete(connection);
      this.broker.stats.connectionsClosed++;
      session.dispose();
      this.log.debug({ remote: connection.remote, ...info }, 'connection closed');
    };
  }

  private async drainAndClose(reason: string): Promise<void> {
    const broker = this.broker;
    // Tells every connection's clients `draining` (those that offered DRAINING), so they stop sending.
    broker.beginDraining();
    const deadline = performance.now() + this.config.shutdownDrainTimeoutMs;
    this.log.info({ timeoutMs: this.config.shutdownDrainTimeoutMs }, 'draining for shutdown');
    this.endpoint?.stopAccepting();
    broker.flushAll();
    const delivered = (): boolean => {
      if (!broker.delivered) return false;
      for (const c of this.sessions.keys()) if (c.hasPendingWrites) return false;
      return true;
    };
    while (!delivered() && performance.now() < deadline) await sleep(5);
    // What quiche accepted may still be in flight: give the peers a few round trips to acknowledge it.
    let rtt = 1;
    for (const c of this.sessions.keys()) rtt = Math.max(rtt, c.stats().rttMs);
    await sleep(Math.min(Math.max(20, 4 * rtt), Math.max(0, deadline - performance.now())));
    const left = this.sessions.size;
    await this.endpoint?.close({ code: SHUTDOWN_CLOSE_CODE, reason, timeoutMs: 500 });
    broker.stop();
    this.verifier?.close();
    this.dashboard.close();
    if (this.http !== null) {
      this.http.closeAllConnections();
      await new Promise<void>((r) => this.http!.close(() => r()));
    }
    this.log.info({ connectionsClosed: left }, 'broker stopped');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The token verifier for FELIX_AUTH jwt (null otherwise), with the start-up warnings of the other modes. */
async function openVerifier(config: BrokerConfig, log: Logger): Promise<TokenVerifier | null> {
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
  const options = verifierOptionsOf(config, {
    onReload: (outcome) =>
      outcome.ok
        ? log.info({ jwks: outcome }, 'JWKS reloaded')
        : log.error({ jwks: outcome }, 'JWKS reload failed; the keys in force stay'),
  });
  if (options === undefined) return null;
  const verifier = await TokenVerifier.open(options);
  log.info(
    { jwks: config.authJwks, kids: verifier.kids },
    'authentication: JWT (Ed25519) with the JWKS keys',
  );
  return verifier;
}
