/**
 * The soak (issue 12 item 7): a mixed workload through the impairment proxy against a broker process that
 * is SIGTERMed and SIGKILLed and started again on the same port, for a fixed duration:
 *
 * - a publisher client publishing acked messages at a steady rate (bounded in flight) to one stream;
 * - a subscriber client on that stream from its earliest event, resuming across every restart;
 * - cache puts and gets on the publisher client, each get checked against the last put of its key;
 * - connection churn: a client that connects, publishes once and closes, over and over;
 * - the path alternating between clean and lossy (3% loss, 5 ms delay, 25% reordering both ways).
 *
 * It returns the ledger's verdict (see ledger.ts), reconnect times and the broker's and this process's
 * resident sets. Used by `npm run soak` (main.ts) and by a short run in the test suite.
 */
import { randomBytes } from 'node:crypto';
import { connect, type ConnectOptions, type FelixClient } from '../../client/index.js';
import { Prng } from '../../scripts/hostile/prng.js';
import { ImpairProxy } from '../impair/proxy.js';
import { payloadOf } from '../impair/paced-load.js';
import { Ledger, type LedgerSummary, type Restart } from './ledger.js';
import { RestartableBroker } from './restartable-broker.js';

export interface SoakOptions {
  readonly durationMs: number;
  /** A restart every this many ms, SIGTERM and SIGKILL alternating. Default 45 s. */
  readonly restartEveryMs?: number;
  /** The path switches between clean and lossy every this many ms. Default 20 s. */
  readonly lossPhaseMs?: number;
  /** Loss in the lossy phases, percent. Default 3. */
  readonly lossPercent?: number;
  /** Acked publishes per second. Default 200. */
  readonly rate?: number;
  /** Seed of the proxy's fates and the restart downtimes. Default 1. */
  readonly seed?: number;
  /** The broker program; default dist/broker/main.js. */
  readonly brokerMain?: string;
  /** Progress lines (restarts, phases); default none. */
  readonly log?: (line: string) => void;
}

export interface SoakReport extends LedgerSummary {
  readonly durationMs: number;
  readonly restarts: { readonly sigterm: number; readonly sigkill: number };
  /** status() `reconnect` events of all clients' connections. */
  readonly reconnects: number;
  /** From the new broker listening to each connection's `reconnect`, ms. */
  readonly reconnectMs: readonly number[];
  readonly failures: readonly string[];
  readonly corrupted: number;
  readonly cache: {
    readonly ok: number;
    readonly misses: number;
    readonly mismatches: number;
    readonly failed: number;
  };
  readonly churn: { readonly cycles: number; readonly failed: number };
  readonly brokerRssMiB: { readonly min: number; readonly max: number };
  readonly clientRssMiB: { readonly min: number; readonly max: number };
  /** Broker RSS and open descriptors just before each restart, and at the end. */
  readonly perCycle: readonly { readonly rssMiB: number; readonly fds: number }[];
  /** What makes the run fail; empty when it passed. */
  readonly problems: readonly string[];
}

const STREAM = 'soak';
const PAYLOAD_BYTES = 64;
// During an outage acked publishes wait inside the SDK; beyond this many the soak stops adding more.
const MAX_IN_FLIGHT = 2_000;
const SETTLE_MS = 30_000;
const LOSSY = { delayMs: 5, reorderPercent: 25, reorderDelayMs: 10 };
const CLEAN = { lossPercent: 0, delayMs: 0, reorderPercent: 0 };

// A SIGKILLed broker says nothing; with the same FELIX_RESET_KEY the new process answers the old
// connections with a stateless reset, and a short idle timeout covers a build without it.
const CLIENT_OPTIONS: ConnectOptions = {
  env: {},
  onWarning: () => undefined,
  idleTimeoutMs: 5_000,
  keepaliveMs: 1_000,
  reconnectInitialMs: 50,
  reconnectMaxMs: 1_000,
  connectTimeoutMs: 5_000,
  pubConnPool: 1,
  pubStreamsPerConn: 1,
  eventConnPool: 1,
  cacheConnPool: 1,
};

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const rate = options.rate ?? 200;
  const restartEveryMs = options.restartEveryMs ?? 45_000;
  const lossPhaseMs = options.lossPhaseMs ?? 20_000;
  const lossPercent = options.lossPercent ?? 3;
  const prng = new Prng(options.seed ?? 1);
  const ledger = new Ledger();
  const broker = await RestartableBroker.start(
    { FELIX_STREAM_REPLAY_CAPACITY: '1000000', FELIX_RESET_KEY: randomBytes(32).toString('hex') },
    options.brokerMain,
  );
  const proxy = await ImpairProxy.start({
    target: { host: '127.0.0.1', port: broker.port },
    seed: options.seed ?? 1,
    flowIdleMs: 10_000,
  });
  const clients: FelixClient[] = [];
  const reconnectAt: number[] = [];
  const open = async (): Promise<FelixClient> => {
    const c = await connect({ ...CLIENT_OPTIONS, broker: proxy.address });
    clients.push(c);
    void (async () => {
      for await (const e of c.status()) if (e.type === 'reconnect') reconnectAt.push(performance.now());
    })();
    return c;
  };

  const rss = { broker: [] as number[], client: [] as number[] };
  const perCycle: { rssMiB: number; fds: number }[] = [];
  const sampler = setInterval(() => {
    const b = broker.rssMiB();
    if (!Number.isNaN(b)) rss.broker.push(b);
    rss.client.push(process.memoryUsage().rss / 2 ** 20);
  }, 1_000);

  const publisher = await open();
  const subscriber = await open();
  let corrupted = 0;
  await subscriber.subscribe(STREAM, {
    start: 'earliest',
    onEvent: (event) => {
      const payload = Buffer.from(event.payload);
      const id = payload.readDoubleBE(0);
      if (!payload.equals(payloadOf(id, PAYLOAD_BYTES))) corrupted++;
      else ledger.delivered(id);
    },
    onGap: (gap) => ledger.gap(gap),
  });

  const started = performance.now();
  const endAt = started + options.durationMs;
  let running = true;

  // Acked publishes at `rate`, at most MAX_IN_FLIGHT waiting at once.
  let inFlight = 0;
  const publishing = (async () => {
    let sent = 0;
    while (running) {
      const due = Math.floor(((performance.now() - started) * rate) / 1000);
      while (sent < due && inFlight < MAX_IN_FLIGHT) {
        sent++;
        const id = ledger.published();
        inFlight++;
        publisher
          .publish(STREAM, payloadOf(id, PAYLOAD_BYTES))
          .then(
            () => ledger.ackedNow(id),
            (error: unknown) => ledger.failedNow(id, error),
          )
          .finally(() => inFlight--);
      }
      // Behind by more than a second (an outage): publish at the rate from now on, not in a burst.
      if (due - sent > rate) sent = due;
      await sleep(5);
    }
  })();

  const cache = { ok: 0, misses: 0, mismatches: 0, failed: 0 };
  const caching = (async () => {
    for (let i = 0; running; i++) {
      const key = `k${i % 64}`;
      const value = Buffer.from(`value ${i}`);
      try {
        await publisher.cache.put('default', 'soak', key, value, { ttlMs: 600_000 });
        const got = await publisher.cache.get('default', 'soak', key);
        // A restart between the put and the get empties the cache: a miss, not an error.
        if (got === undefined) cache.misses++;
        else if (Buffer.from(got).equals(value)) cache.ok++;
        else cache.mismatches++;
      } catch {
        cache.failed++;
      }
      await sleep(20);
    }
  })();

  const churn = { cycles: 0, failed: 0 };
  const churning = (async () => {
    while (running) {
      try {
        const c = await connect({ ...CLIENT_OPTIONS, broker: proxy.address, reconnectAttempts: 0 });
        await c.publish('soak-churn', 'hello');
        await c.close();
        churn.cycles++;
      } catch {
        // A restart or the lossy path refused this one (no reconnects for it): counted, not fatal.
        churn.failed++;
      }
      await sleep(200);
    }
  })();

  // Restarts and loss phases, until the end; the last stretch runs clean and unrestarted so that every
  // publish made after the last restart must arrive.
  const quietTail = Math.min(10_000, options.durationMs / 4);
  let nextRestart = started + restartEveryMs;
  let nextPhase = started + lossPhaseMs;
  let lossy = false;
  let kills = 0;
  while (performance.now() < endAt) {
    const now = performance.now();
    if (now >= nextPhase && now < endAt - quietTail) {
      lossy = !lossy;
      proxy.impair(lossy ? { ...LOSSY, lossPercent } : CLEAN);
      log(`${((now - started) / 1000).toFixed(0)} s: path ${lossy ? `lossy (${lossPercent}%)` : 'clean'}`);
      nextPhase = now + lossPhaseMs;
    }
    if (now >= nextRestart && now < endAt - quietTail) {
      const signal = kills++ % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
      perCycle.push({ rssMiB: broker.rssMiB(), fds: broker.openFds() });
      const entry: Restart = {
        signal,
        killedAt: performance.now(),
        readyAt: NaN,
        lossy,
        unanswered: ledger.unanswered(),
      };
      ledger.restarts.push(entry);
      await broker.kill(signal);
      await sleep(prng.int(100, 800));
      await broker.startAgain();
      entry.readyAt = performance.now();
      log(`${((entry.readyAt - started) / 1000).toFixed(0)} s: broker restarted after ${signal}`);
      nextRestart = performance.now() + restartEveryMs;
    }
    if (lossy && now >= endAt - quietTail) {
      lossy = false;
      proxy.impair(CLEAN);
    }
    await sleep(50);
  }
  running = false;
  await Promise.all([publishing, caching, churning]);
  const settleBy = performance.now() + SETTLE_MS;
  while ((inFlight > 0 || ledger.undelivered() > 0) && performance.now() < settleBy) await sleep(50);
  perCycle.push({ rssMiB: broker.rssMiB(), fds: broker.openFds() });
  clearInterval(sampler);

  await Promise.all(clients.map((c) => c.close()));
  await proxy.close();
  await broker.kill('SIGTERM');

  const summary = ledger.summary();
  const reconnectMs: number[] = [];
  for (const r of ledger.restarts) {
    const next = ledger.restarts.find((o) => o.killedAt > r.killedAt)?.killedAt ?? Infinity;
    for (const at of reconnectAt) if (at >= r.readyAt && at < next) reconnectMs.push(at - r.readyAt);
  }
  const problems = [
    summary.ackedLost > 0 ? `${summary.ackedLost} acked messages lost without a reported gap` : '',
    summary.duplicates > 0 ? `${summary.duplicates} messages delivered twice in one epoch` : '',
    summary.resentAcrossRestart > 0
      ? `${summary.resentAcrossRestart} messages delivered again after a restart (resent publishes): ` +
        JSON.stringify(summary.resentAfter)
      : '',
    corrupted > 0 ? `${corrupted} deliveries corrupted` : '',
    cache.mismatches > 0 ? `${cache.mismatches} cache reads returned another value` : '',
    inFlight > 0 ? `${inFlight} publishes neither acked nor failed ${SETTLE_MS / 1000} s after the end` : '',
  ].filter((p) => p !== '');
  const range = (values: number[]) => ({ min: Math.min(...values), max: Math.max(...values) });
  return {
    ...summary,
    durationMs: performance.now() - started,
    restarts: {
      sigterm: ledger.restarts.filter((r) => r.signal === 'SIGTERM').length,
      sigkill: ledger.restarts.filter((r) => r.signal === 'SIGKILL').length,
    },
    reconnects: reconnectAt.length,
    reconnectMs,
    failures: ledger.failures,
    corrupted,
    cache,
    churn,
    brokerRssMiB: range(rss.broker),
    clientRssMiB: range(rss.client),
    perCycle,
    problems,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
