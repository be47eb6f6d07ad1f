/**
 * The demo's clients, usable against any broker: a publisher at a fixed rate, fast subscribers that take
 * every event at once, and a slow subscriber that spends --slow-ms (± --jitter-ms) on each event, or never
 * reads at all (--stall).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type FelixClient, type Subscription } from '../client/index.js';
import { Latencies, stampOf, stampPayload, type MeasureWindow } from './latency.js';

export interface ClientResult {
  readonly name: string;
  readonly messages: number;
  /** Events per second over the run. */
  readonly rate: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** Events the broker dropped for this subscriber, as the gaps in offsets show. */
  readonly drops: number;
  /** Runs of missing offsets. */
  readonly gaps: number;
  /** Why the subscription ended early (e.g. slow_consumer), or '' if it did not. */
  readonly disconnect: string;
}

export interface Connector {
  readonly broker: string;
  readonly onWarning: (message: string) => void;
  /** Set by the publisher when it starts; latencies count from its end of warm-up. */
  readonly window: MeasureWindow;
}

async function open(c: Connector, extra: Parameters<typeof connect>[0] = {}): Promise<FelixClient> {
  return connect({ broker: c.broker, onWarning: c.onWarning, ...extra });
}

/** A subscriber of either kind, measured until stop(). */
export abstract class MeasuredSubscriber {
  protected readonly latencies = new Latencies();
  protected messages = 0;
  protected subscription!: Subscription;
  protected client!: FelixClient;
  private disconnect = '';
  private startedAt = 0;

  constructor(
    readonly name: string,
    private readonly window: MeasureWindow,
  ) {}

  /** One event received. */
  protected take(payload: Uint8Array): void {
    this.messages++;
    const sentAt = stampOf(payload);
    if (sentAt >= this.window.from) this.latencies.record(performance.now() - sentAt);
  }

  protected watch(subscription: Subscription): void {
    this.subscription = subscription;
    this.startedAt = performance.now();
    void subscription.closed.then((error) => {
      if (error !== undefined) this.disconnect = error.reason ?? error.code;
    });
  }

  get received(): number {
    return this.messages;
  }

  result(): ClientResult {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return {
      name: this.name,
      messages: this.messages,
      rate: this.messages / seconds,
      ...this.latencies.percentiles(),
      drops: this.subscription.missed,
      gaps: this.subscription.gaps,
      disconnect: this.disconnect,
    };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export class FastSubscriber extends MeasuredSubscriber {
  static async start(c: Connector, stream: string, name: string): Promise<FastSubscriber> {
    const s = new FastSubscriber(name, c.window);
    s.client = await open(c);
    s.watch(await s.client.subscribe(stream, { onEvent: (e) => s.take(e.payload) }));
    return s;
  }
}

export class SlowSubscriber extends MeasuredSubscriber {
  private reading: Promise<void> = Promise.resolve();

  static async start(
    c: Connector,
    stream: string,
    slowMs: number,
    jitterMs: number,
    recvWindow: number,
  ): Promise<SlowSubscriber> {
    const name = Number.isFinite(slowMs) ? `slow (${slowMs}±${jitterMs} ms)` : 'stalled';
    const s = new SlowSubscriber(name, c.window);
    // Its local queue blocks when full, so the SDK stops reading and QUIC flow control reaches the broker
    // once this client's own receive windows are full.
    s.client = await open(c, {
      eventConnPool: 1,
      eventStreamRecvWindow: recvWindow,
      eventConnRecvWindow: 4 * recvWindow,
      clientSubQueuePolicy: 'block',
    });
    const sub = await s.client.subscribe(stream);
    s.watch(sub);
    if (Number.isFinite(slowMs)) s.reading = s.read(sub, slowMs, jitterMs);
    return s;
  }

  private async read(sub: Subscription, slowMs: number, jitterMs: number): Promise<void> {
    try {
      for await (const event of sub) {
        this.take(event.payload);
        const ms = Math.max(0, slowMs + (Math.random() * 2 - 1) * jitterMs);
        if (ms > 0) await sleep(ms);
      }
    } catch {
      // The subscription ended with an error (e.g. slow_consumer): watch() has its reason.
    }
  }

  override async close(): Promise<void> {
    await super.close();
    await this.reading;
  }
}

export interface PublisherResult {
  readonly attempted: number;
  readonly acked: number;
  /** Acked events per second over the publishing time. */
  readonly rate: number;
  /** Milliseconds the publisher spent at its in-flight bound (held back by the broker). */
  readonly heldMs: number;
}

// Events in acked batches in flight at most; at the bound the publisher is held and catches up afterwards.
const MAX_IN_FLIGHT = 8192;
const TICK_MS = 1;

/**
 * Publishes `rate` events per second for `warmupS` + `durationS`, each stamped with its send time; the
 * measure window starts after the warm-up.
 */
export async function publishAtRate(
  c: Connector,
  stream: string,
  rate: number,
  payloadBytes: number,
  warmupS: number,
  durationS: number,
): Promise<PublisherResult> {
  const client = await open(c);
  try {
    let attempted = 0;
    let acked = 0;
    let inFlight = 0;
    let heldMs = 0;
    let failed: unknown;
    const onAck = (n: number): void => {
      acked += n;
      inFlight -= n;
    };
    const onError = (n: number, error: unknown): void => {
      inFlight -= n;
      failed ??= error;
    };
    const started = performance.now();
    c.window.from = started + warmupS * 1000;
    const endAt = c.window.from + durationS * 1000;
    for (let now = started; now < endAt && failed === undefined; now = performance.now()) {
      const due = Math.floor(((now - started) / 1000) * rate) - attempted;
      const room = MAX_IN_FLIGHT - inFlight;
      if (due > room) heldMs += TICK_MS;
      const n = Math.min(due, room);
      if (n > 0) {
        // One batch per tick (acked as a whole): the publisher's cost stays small beside the subscribers'.
        const payloads: Buffer[] = [];
        for (let i = 0; i < n; i++) payloads.push(stampPayload(Buffer.allocUnsafe(payloadBytes)));
        attempted += n;
        inFlight += n;
        client.publishBatch(stream, payloads, { ack: 'per_batch' }).then(
          () => onAck(n),
          (error: unknown) => onError(n, error),
        );
      }
      await sleep(TICK_MS);
    }
    const publishingMs = performance.now() - started;
    // The last acks, bounded: a broker that holds us forever ends the run anyway.
    for (let waited = 0; inFlight > 0 && waited < 10_000; waited += 10) await sleep(10);
    if (failed !== undefined) throw failed;
    return { attempted, acked, rate: acked / (publishingMs / 1000), heldMs };
  } finally {
    await client.close();
  }
}
