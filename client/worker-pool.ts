/**
 * The long-lived request streams of one family: FELIX_*_CONN_POOL connections × FELIX_*_STREAMS_PER_CONN
 * streams, each a RequestStream ("worker"). Publishing uses it now; the cache client is meant to reuse it
 * unchanged with its own connection pool and settings. Workers open lazily; one whose stream or
 * connection ended is replaced on its next use.
 */
import { noop, settledWithin } from './deadline.js';
import type { FelixError } from './errors.js';
import { ConnectionPool, type ConnectionPoolOptions, type ConnectionTenant } from './connection-pool.js';
import type { Negotiated } from './negotiation.js';
import { RequestStream, type RequestStreamOptions } from './request-stream.js';

/** The workers running on one pooled connection, failed together when it closes. */
class WorkerConnection implements ConnectionTenant {
  readonly workers = new Set<RequestStream>();

  onConnectionClosed(error: FelixError): void {
    for (const worker of this.workers) worker.fail(error);
    this.workers.clear();
  }
}

export interface WorkerPoolOptions {
  /** "publish" or "cache": names connections and streams in messages. */
  readonly name: string;
  readonly connections: Omit<ConnectionPoolOptions<WorkerConnection>, 'name' | 'attach'>;
  readonly streamsPerConnection: number;
  readonly stream: Omit<RequestStreamOptions, 'label'>;
}

export class WorkerPool {
  readonly size: number;
  /** What the broker confirmed to the first worker that authenticated. */
  negotiated: Negotiated | null = null;
  private readonly connections: ConnectionPool<WorkerConnection>;
  private readonly workers: (RequestStream | undefined)[];

  constructor(private readonly options: WorkerPoolOptions) {
    this.connections = new ConnectionPool({
      ...options.connections,
      name: options.name,
      attach: () => new WorkerConnection(),
    });
    this.size = options.connections.size * options.streamsPerConnection;
    this.workers = new Array<RequestStream | undefined>(this.size).fill(undefined);
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
    // So that the connection closing fails this worker's requests at once.
    pooled.then((entry) => entry.tenant.workers.add(worker), noop);
    worker.onEnded = (ended) => {
      if (this.workers[index] === ended) this.workers[index] = undefined;
    };
    worker.ready.then((negotiated) => (this.negotiated ??= negotiated), noop);
    this.workers[index] = worker;
    return worker;
  }

  /** Resolves once every live worker has written and had answered everything accepted so far. */
  async flush(): Promise<void> {
    await Promise.all(this.live().map((worker) => worker.flush()));
  }

  /** Flushes and finishes every worker within `timeoutMs`; the caller then closes the endpoint. */
  async close(timeoutMs: number): Promise<void> {
    this.connections.markClosed();
    await settledWithin(Promise.all(this.live().map((worker) => worker.close(timeoutMs))), timeoutMs);
  }

  private live(): RequestStream[] {
    return this.workers.filter((worker): worker is RequestStream => worker !== undefined);
  }
}
