import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  Endpoint,
  generateSelfSignedCertificate,
  readPemFile,
  type Connection,
  type ServerTls,
} from '../transport/index.js';
import { CacheStore } from './cache-store.js';
import { transportSettingsFrom } from '../config/transport-settings.js';
import type { BrokerConfig } from './config.js';
import { Dashboard } from './dashboard/dashboard.js';
import { latencyBandsFrom } from './dashboard/latency-bands.js';
import { HopTimings } from './hop-timings.js';
import { createHttpServer } from './http.js';
import { createMetricsRegistry } from './metrics.js';
import { PublishBudget } from './publish-budget.js';
import { TopicRegistry } from './registry.js';
import { ConnectionSession, type BrokerCore } from './session.js';
import { BrokerStats } from './stats.js';
import type { Subscription, SubscriptionLimits } from './subscription.js';
import type { Topic } from './topic.js';

export interface BrokerNodeOptions {
  readonly logger?: Logger;
  /** Certificate and key to serve; otherwise FELIX_TLS_CERT/KEY, otherwise a generated self-signed one. */
  readonly tls?: ServerTls;
}

const STALL_SWEEP_MS = 250;
const SHUTDOWN_CLOSE_CODE = 0;

/**
 * A broker node: the QUIC endpoint serving publish, subscribe and cache streams, and the HTTP endpoint
 * serving /live, /ready and /metrics. Single-threaded and event-driven: decoding, fanout and the
 * transport all run on the one loop without a promise per message.
 */
export class BrokerNode implements BrokerCore {
  readonly stats = new BrokerStats();
  readonly registry: TopicRegistry;
  readonly budget: PublishBudget;
  readonly cache: CacheStore;
  readonly subscriptionLimits: SubscriptionLimits;
  readonly metrics: Registry;
  /** Per-hop histograms; null with FELIX_DISABLE_TIMINGS=1, which removes all stamp work. */
  readonly timings: HopTimings | null;
  /** /dashboard: reads the counters above once a second, only while a dashboard is open. */
  readonly dashboard: Dashboard;
  /** The certificate served, so clients (and tests) can verify against it. */
  certificatePem = '';
  draining = false;

  private endpoint: Endpoint | null = null;
  private http: Server | null = null;
  private readonly sessions = new Set<ConnectionSession>();
  private readonly subscriptions = new Set<Subscription>();
  private subscriptionIds = 0;
  private pendingTopics: Topic[] = [];
  private flushQueued = false;
  private readonly flushTopicsBound = (): void => this.flushTopics();
  private sweepTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly config: BrokerConfig,
    readonly log: Logger,
  ) {
    this.budget = new PublishBudget(config.brokerPublishInflightBytes, config.brokerPublishConnInflightBytes);
    this.timings = config.disableTimings ? null : new HopTimings();
    this.registry = new TopicRegistry(
      {
        autoCreate: config.autoCreateStreams,
        tenants: config.tenants,
        replayCapacity: config.streamReplayCapacity,
        batching: {
          // Felix: FELIX_FANOUT_BATCH <= 1 means one frame per event; otherwise it caps the batch too.
          maxEvents: config.fanoutBatch <= 1 ? 1 : Math.min(config.eventBatchMaxEvents, config.fanoutBatch),
          maxBytes: config.eventBatchMaxBytes,
          gapMs: config.fanoutBatch <= 1 ? 0 : config.eventBatchMaxDelayUs / 1000,
        },
      },
      this.stats,
      (t) => this.scheduleTopic(t),
      this.budget,
      this.timings,
    );
    this.cache = new CacheStore(config, this.registry);
    this.subscriptionLimits = {
      queueCapacity: config.subQueueCapacity,
      policy: config.subQueuePolicy,
      maxDrops: config.slowSubMaxDrops,
      maxFullMs: config.slowSubMaxFullMs,
      // FELIX_EVENT_SEND_WINDOW: what the transport may hold for one subscriber beyond what quiche accepted;
      // the rest waits in the subscriber's queue, where the queue policy applies.
      writeAheadBytes: config.eventSendWindow,
    };
    this.metrics = createMetricsRegistry(this.stats, {
      connections: () => this.sessions.size,
      subscriptions: () => this.subscriptions.size,
      queueDepth: () => this.queueDepth(),
      publishInflightBytes: () => this.budget.total,
      draining: () => this.draining,
    });
    this.cache.registerMetrics(this.metrics);
    this.timings?.registerMetrics(this.metrics);
    this.dashboard = new Dashboard({
      stats: this.stats,
      streams: () => this.registry.all,
      subscriptions: () => this.subscriptions,
      connections: () => this.sessions.size,
      cache: this.cache,
      timings: this.timings,
      latencyBandsUs: latencyBandsFrom(config.dashboardLatencyBandsUs),
    });
  }

  /** Starts listening on FELIX_QUIC_BIND and FELIX_BROKER_METRICS_BIND. */
  static async start(config: BrokerConfig, options: BrokerNodeOptions = {}): Promise<BrokerNode> {
    const log = options.logger ?? pino({ name: 'felix-broker', level: config.logLevel });
    const node = new BrokerNode(config, log);
    await node.listen(options.tls);
    return node;
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
    return this.endpoint !== null && !this.draining;
  }

  nextSubscriptionId(): number {
    return ++this.subscriptionIds;
  }

  subscriptionOpened(sub: Subscription): void {
    this.subscriptions.add(sub);
    this.stats.subscriptionsOpened++;
  }

  subscriptionClosed(sub: Subscription): void {
    if (this.subscriptions.delete(sub)) this.stats.subscriptionsClosed++;
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
    this.endpoint = await Endpoint.listen({
      host: config.quicBind.host,
      port: config.quicBind.port,
      tls: served,
      settings,
      onConnection: (c) => this.onConnection(c),
    });
    this.http = createHttpServer({
      registry: this.metrics,
      ready: () => this.ready,
      dashboard: this.dashboard,
    });
    this.http.listen(config.brokerMetricsBind.port, config.brokerMetricsBind.host);
    await once(this.http, 'listening');
    this.sweepTimer = setInterval(() => this.sweep(), STALL_SWEEP_MS);
    this.sweepTimer.unref();
    this.cache.start();
    this.log.info(
      { quic: this.endpoint.address, http: this.httpAddress, alpn: 'felix' },
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
    if (this.draining) {
      connection.close(SHUTDOWN_CLOSE_CODE, 'broker is draining');
      return;
    }
    const session = new ConnectionSession(this, connection);
    this.sessions.add(session);
    this.stats.connectionsOpened++;
    connection.onClose = (info) => {
      this.sessions.delete(session);
      this.stats.connectionsClosed++;
      session.dispose();
      this.log.debug({ remote: connection.remote, ...info }, 'connection closed');
    };
  }

  private scheduleTopic(topic: Topic): void {
    if (topic.scheduled) return;
    topic.scheduled = true;
    this.pendingTopics.push(topic);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // After the transport's flush that delivered these publishes returns: everything read in one poll
      // batch lands in one frame per stream.
      process.nextTick(this.flushTopicsBound);
    }
  }

  private flushTopics(force = false): void {
    this.flushQueued = false;
    const topics = this.pendingTopics;
    this.pendingTopics = [];
    const now = performance.now();
    for (const t of topics) {
      if (t.flushIfQuiet(now, force)) t.scheduled = false;
      else this.pendingTopics.push(t);
    }
    if (this.pendingTopics.length !== 0 && !this.flushQueued) {
      // Still inside a coalescing gap: look again on the next loop turn, after new I/O had its chance.
      this.flushQueued = true;
      setImmediate(this.flushTopicsBound);
    }
  }

  private sweep(): void {
    const now = performance.now();
    for (const sub of this.subscriptions) sub.checkStall(now);
  }

  private queueDepth(): { total: number; max: number } {
    let total = 0;
    let max = 0;
    for (const sub of this.subscriptions) {
      total += sub.queue.depth;
      if (sub.queue.depth > max) max = sub.queue.depth;
    }
    return { total, max };
  }

  private async drainAndClose(reason: string): Promise<void> {
    this.draining = true;
    const deadline = performance.now() + this.config.shutdownDrainTimeoutMs;
    this.log.info({ timeoutMs: this.config.shutdownDrainTimeoutMs }, 'draining for shutdown');
    this.endpoint?.stopAccepting();
    this.flushTopics(true);
    const delivered = (): boolean => {
      for (const sub of this.subscriptions) if (!sub.idle) return false;
      for (const s of this.sessions) if (s.connection.hasPendingWrites) return false;
      return true;
    };
    while (!delivered() && performance.now() < deadline) await sleep(5);
    // What quiche accepted may still be in flight: give the peers a few round trips to acknowledge it.
    let rtt = 1;
    for (const s of this.sessions) rtt = Math.max(rtt, s.connection.stats().rttMs);
    await sleep(Math.min(Math.max(20, 4 * rtt), Math.max(0, deadline - performance.now())));
    const left = this.sessions.size;
    await this.endpoint?.close({ code: SHUTDOWN_CLOSE_CODE, reason, timeoutMs: 500 });
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.cache.stop();
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
