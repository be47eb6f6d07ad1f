/**
 * The long-lived request streams of one family: FELIX_*_CONN_POOL connections × FELIX_*_STREAMS_PER_CONN
 * streams, each a RequestStream ("worker"); publishing and the cache client each have one. Workers open
 * lazily. Worker i runs on connection i mod FELIX_*_CONN_POOL: when that connection is lost and the pool
 * reconnects, the worker waits (disconnected) and is reattached to the new connection, keeping what it had
 * outstanding; when the pool gives up, or does not reconnect, it fails and is replaced on its next use.
 */
import { AnswerWatch } from './answer-watch.js';
import { noop, settledWithin } from './deadline.js';
import type { FelixError } from './errors.js';
import {
  ConnectionPool,
  type ConnectionPoolOptions,
  type ConnectionTenant,
  type PoolListener,
  type PooledConnection,
} from './connection-pool.js';
import type { Negotiated } from './negotiation.js';
import { RequestStream, type RequestStreamOptions } from './request-stream.js';

/** Workers follow their connection through the pool's listener, so a connection needs nothing of its own. */
const NO_TENANT: ConnectionTenant = { onConnectionClosed: noop };

export interface WorkerPoolOptions {
  /** "publish" or "cache": names connections and streams in messages. */
  readonly name: string;
  readonly connections: Omit<ConnectionPoolOptions<ConnectionTenant>, 'name' | 'attach'>;
  readonly streamsPerConnection: number;
  readonly stream: Omit<RequestStreamOptions, 'label'>;
}

export class WorkerPool {
  readonly size: number;
  /** What the broker confirmed to the first worker that authenticated. */
  negotiated: Negotiated | null = null;
  /**
   * The frame limit the broker announced at the latest auth of any worker (bounded by the client's): where
   * a new worker starts, before its own auth says.
   */
  private frameLimit: number;
  private readonly connections: ConnectionPool<ConnectionTenant>;
  private readonly workers: (RequestStream | undefined)[];
  /** Per connection: probes it while its workers' requests wait and the broker is silent (AnswerWatch). */
  private readonly watches: AnswerWatch[];

  constructor(private readonly options: WorkerPoolOptions) {
    this.connections = new ConnectionPool({
      ...options.connections,
      name: options.name,
      attach: () => NO_TENANT,
    });
    this.size = options.connections.size * options.streamsPerConnection;
    this.frameLimit = options.stream.maxFrameBytes;
    this.workers = new Array<RequestStream | undefined>(this.size).fill(undefined);
    this.watches = Array.from(
      { length: options.connections.size },
      (_, index) =>
        new AnswerWatch(
          () => this.connections.liveConnection(index),
          () => this.on(index).some((worker) => worker.inFlight > 0),
        ),
    );
    this.connections.listen({
      lost: (index, error, resuming) => {
        for (const worker of this.on(index)) {
          if (resuming) worker.disconnect(error);
          else worker.fail(error);
        }
      },
      restored: (entry: PooledConnection<ConnectionTenant>) => {
        for (const worker of this.on(entry.index)) worker.reattach(entry.connection);
      },
      gaveUp: (index, error: FelixError) => {
        for (const worker of this.on(index)) worker.fail(error);
      },
      draining: (index) => {
        for (const worker of this.on(index)) worker.pauseForDrain();
      },
      // A connection whose workers have all ended is not reopened until a new worker needs it: nothing would
      // authenticate on it (so its reconnect would never count as done), and the broker closes such a
      // connection (FELIX_AUTH_TIMEOUT_MS).
      holds: (index) => this.on(index).length > 0,
    });
  }

  /** Some connection of the pool is reconnecting (ConnectionPool.recovering). */
  get recovering(): boolean {
    return this.connections.recovering;
  }

  /** The pool's connections currently established. */
  get connected(): readonly PooledConnection<ConnectionTenant>[] {
    return this.connections.connected;
  }

  /** From now on lost connections are reopened and workers carried over (the client is connected). */
  arm(): void {
    this.connections.arm();
  }

  /** Hears what happens to the pool's connections (after the workers have). */
  listen(listener: PoolListener<ConnectionTenant>): void {
    this.connections.listen(listener);
  }

  /**
   * Worker `index` (0 ≤ index < size), opening it if needed. Returned at once: requests sent before it
   * is authenticated wait in its queue. Consecutive indexes sit on different connections.
   */
  worker(index: number): RequestStream {
    const existing = this.workers[index];
    if (existing !== undefined && existing.usable) return existing;
    const connectionIndex = index % this.options.connections.size;
    const label = `${this.options.name} stream ${index} (connection ${connectionIndex})`;
    const pooled = this.connections.get(connectionIndex);
    const worker = new RequestStream(
      pooled.then((entry) => entry.connection),
      { ...this.options.stream, label },
    );
    worker.onEnded = (ended) => {
      if (this.workers[index] === ended) this.workers[index] = undefined;
    };
    worker.onBrokerDraining = (connection) => this.connections.markDraining(connectionIndex, connection);
    worker.frameLimit = this.frameLimit;
    const watch = this.watches[connectionIndex]!;
    worker.onRequest = () => watch.arm();
    worker.onAuthenticated = (_negotiated, connection) => {
      this.frameLimit = worker.frameLimit;
      this.connections.confirmed(connectionIndex, connection);
    };
    worker.onAuthRefused = (connection, error) =>
      this.connections.refused(connectionIndex, connection, error);
    worker.ready.then((negotiated) => (this.negotiated ??= negotiated), noop);
    this.workers[index] = worker;
    return worker;
  }

  /** Resolves once every live worker has written and had answered everything accepted so far. */
  async flush(): Promise<void> {
    await Promise.all(this.live().map((worker) => worker.flush()));
  }

  /**
   * Flushes and finishes every worker within `timeoutMs`; the caller then closes the endpoint. Workers
   * waiting for a lost connection fail at once (see ConnectionPool.markClosed). With a `reason` (the client
   * gave up on the broker) every worker fails at once, with its connection's error for that reason
   * (ConnectionPool.givenUpWith): the broker is out of reach, even where a connection has not noticed yet.
   */
  async close(timeoutMs: number, reason?: FelixError): Promise<void> {
    for (const watch of this.watches) watch.stop();
    this.connections.markClosed(reason);
    if (reason !== undefined) {
      const size = this.options.connections.size;
      const errors = Array.from({ length: size }, (_, index) => this.connections.givenUpWith(index, reason));
      this.workers.forEach((worker, index) => worker?.fail(errors[index % size]!));
    }
    await settledWithin(Promise.all(this.live().map((worker) => worker.close(timeoutMs))), timeoutMs);
  }

  private live(): RequestStream[] {
    return this.workers.filter((worker): worker is RequestStream => worker !== undefined);
  }

  /** The workers on connection `index`. */
  private on(index: number): RequestStream[] {
    const size = this.options.connections.size;
    const out: RequestStream[] = [];
    for (let i = index; i < this.workers.length; i += size) {
      const worker = this.workers[i];
      if (worker !== undefined) out.push(worker);
    }
    return out;
  }
}
