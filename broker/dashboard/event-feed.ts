import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DashboardSnapshot } from './snapshot-types.js';

export interface SnapshotSource {
  /** Called when the first client connects, so the first interval starts then. */
  reset(): void;
  take(): DashboardSnapshot;
  /** Called when the last client left (the ticker stopped). */
  idle?(): void;
}

export interface EventFeedOptions {
  /** Dashboards open at once; one more is answered 503. */
  readonly maxClients: number;
  readonly intervalMs: number;
}

export const DEFAULT_FEED_OPTIONS: EventFeedOptions = { maxClients: 16, intervalMs: 1000 };

// A dashboard that stops reading (a frozen tab) must not make the broker buffer snapshots for it without
// bound: past this many unsent bytes it misses ticks until it catches up.
const MAX_UNSENT_BYTES = 256 * 1024;
// EventSource reconnects after this long when the connection drops (e.g. a broker restart).
const RECONNECT_MS = 2000;

/**
 * /dashboard/events: Server-Sent Events, one JSON snapshot per tick to every connected dashboard. The
 * snapshot is built and serialised once per tick, however many dashboards watch, and the ticker runs only
 * while at least one is connected.
 */
export class DashboardEventFeed {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private latest: string | null = null;

  constructor(
    private readonly snapshots: SnapshotSource,
    private readonly options: EventFeedOptions = DEFAULT_FEED_OPTIONS,
  ) {}

  get clientCount(): number {
    return this.clients.size;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Takes the request over as an event stream, or answers 503 when enough dashboards are open. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= this.options.maxClients) {
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '10' })
        .end(`at most ${this.options.maxClients} dashboards may be open at once\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise hold the stream back in their buffers.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${RECONNECT_MS}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.detach(res));
    req.socket.setNoDelay(true);
    if (this.timer === null) this.start();
    else if (this.latest !== null) res.write(this.latest);
  }

  /** Ends every event stream and stops ticking (broker shutdown). */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stop();
  }

  private detach(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stop();
  }

  private start(): void {
    this.snapshots.reset();
    this.timer = setInterval(() => this.broadcast(), this.options.intervalMs);
    // A dashboard left open must not keep a stopping broker process alive.
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.snapshots.idle?.();
    }
    this.timer = null;
    this.latest = null;
  }

  private broadcast(): void {
    const snapshot = this.snapshots.take();
    const message = `id: ${snapshot.tick}\ndata: ${JSON.stringify(snapshot)}\n\n`;
    this.latest = message;
    for (const res of this.clients) {
      if (res.writableLength <= MAX_UNSENT_BYTES) res.write(message);
    }
  }
}
