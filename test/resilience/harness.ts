// Shared fixtures of the resilience suites: the real broker program as its own process, killed and
// started again on the same port, and SDK clients whose status events and deliveries are recorded in one
// timeline, so tests assert on the order things happened in, never on how long they took.
import { afterEach } from 'vitest';
import { connect, type ConnectOptions, type FelixClient } from '../../client/index.js';
import type { FelixEvent, GapInfo } from '../../client/subscription.js';
import type { StatusEvent } from '../../client/status.js';
import { spawnBroker, type BrokerProcess } from '../e2e/broker-process.js';

const clients: FelixClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A broker process that can be stopped and started again on the same QUIC port. */
export class RestartableBroker {
  private constructor(
    public current: BrokerProcess,
    private readonly env: Record<string, string>,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<RestartableBroker> {
    return new RestartableBroker(await spawnBroker(env), env);
  }

  get port(): number {
    return this.current.quicPort;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    this.current.child.kill(signal);
    await this.current.exited;
  }

  /** Starts the broker again on the same port (a new process: new stream epochs, empty history). */
  async startAgain(): Promise<void> {
    this.current = await spawnBroker({ ...this.env, FELIX_QUIC_BIND: `127.0.0.1:${this.port}` });
  }

  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.current.child.kill(signal);
  }
}

/** One thing that happened, in the order it happened. */
export type TimelineEntry =
  | { readonly kind: 'status'; readonly event: StatusEvent }
  | { readonly kind: 'gap'; readonly gap: GapInfo; readonly before: number }
  | { readonly kind: 'event'; readonly event: FelixEvent };

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  /** Payloads delivered, in order, as text. */
  readonly delivered: string[] = [];

  /** Records every status event of `client` until it closes. */
  follow(client: FelixClient): void {
    void (async () => {
      for await (const event of client.status()) this.entries.push({ kind: 'status', event });
    })();
  }

  /** onEvent for a subscription: records the payload. */
  readonly onEvent = (event: FelixEvent): void => {
    this.delivered.push(Buffer.from(event.payload).toString());
    this.entries.push({ kind: 'event', event });
  };

  /** onGap for a subscription: records the gap and where in `delivered` it falls. */
  readonly onGap = (gap: GapInfo): void => {
    this.entries.push({ kind: 'gap', gap, before: this.delivered.length });
  };

  statuses(pool?: string, connection?: number): StatusEvent[] {
    const out: StatusEvent[] = [];
    for (const e of this.entries) {
      if (e.kind !== 'status') continue;
      if (pool !== undefined && e.event.pool !== pool) continue;
      if (connection !== undefined && e.event.connection !== connection) continue;
      out.push(e.event);
    }
    return out;
  }

  gaps(): { gap: GapInfo; before: number; index: number }[] {
    const out: { gap: GapInfo; before: number; index: number }[] = [];
    this.entries.forEach((e, index) => {
      if (e.kind === 'gap') out.push({ gap: e.gap, before: e.before, index });
    });
    return out;
  }

  /** Position in the timeline of the first status event matching, searching from `from`; -1 if none. */
  indexOf(match: (event: StatusEvent) => boolean, from = 0): number {
    for (let i = from; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.kind === 'status' && match(e.event)) return i;
    }
    return -1;
  }
}

/**
 * The status events of one connection checked against the documented grammar:
 * ([draining] disconnect reconnecting+ (reconnect | error))*. With `complete` false the last episode may
 * be cut short (the client closed while that connection was still reconnecting).
 */
export function followsDocumentedOrder(events: readonly StatusEvent[], complete = true): boolean {
  const letter = { draining: 'n', disconnect: 'd', reconnecting: 'r', reconnect: 'c', error: 'e' } as const;
  const word = events.map((e) => letter[e.type]).join('');
  return (complete ? /^(n?dr+[ce])*$/ : /^(n?dr+[ce])*(n?(dr*)?)$/).test(word);
}

/**
 * The resilience tests' client: reconnects quickly (a broker restarted on the same port is back within
 * a second), one connection per pool it uses.
 */
export const QUICK_RECONNECT = {
  connectTimeoutMs: 2_000,
  reconnectInitialMs: 50,
  reconnectMaxMs: 500,
  pubConnPool: 1,
  eventConnPool: 1,
} as const;

/** Connects an SDK client to `broker`, closed after the test. */
export async function client(address: string, options: ConnectOptions = {}): Promise<FelixClient> {
  const c = await connect({ broker: address, env: {}, onWarning: () => undefined, ...options });
  clients.push(c);
  return c;
}

/** A bound on waiting so a broken build fails with a message instead of hanging; never a speed check. */
export async function eventually(predicate: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
