/**
 * Subscriber set-up, felix-ts against core NATS (issue 14 item 6: "subscriber set-up ≤ 2× NATS and 1,000
 * subscriptions ≤ 1 s"). Each server in its own process on loopback, one warm client each, on its defaults
 * (the felix-ts SDK's event pool: FELIX_EVENT_CONN_POOL connections; nats.js: one connection):
 *
 * - one at a time: `--count` subscriptions made one after another, each timed from the subscribe call until
 *   the server has it (felix-ts: `subscribe()` resolved, i.e. the broker answered `subscribed`; NATS:
 *   `subscribe()` then `flush()`, the PING/PONG that proves the server processed the SUB), then an event
 *   published to it is received (not timed: the proof that it was live) and it is closed;
 * - 1,000 at once: `--many` subscriptions to distinct streams/subjects issued together on one connection,
 *   timed until every one is confirmed as above.
 *
 * `--warmup N` makes N untimed one-at-a-time cycles first on both sides (0 by default, as before): a fresh
 * broker and client spend their first few hundred set-ups compiling their code, which a running system
 * has done long before its next subscriber arrives. The 1,000 at once use streams the warm-up did not.
 *
 * Trials alternate which system goes first; medians with min–max and the felix/NATS ratio of medians.
 *
 *   flock /tmp/felix-bench.lock node dist/bench/subscribe/setup-vs-nats.js [--trials 5] [--count 300] [--many 1000] [--warmup 300]
 */
import { parseArgs } from 'node:util';
import { connect as natsConnect, type NatsConnection } from 'nats';
import { spawnBroker } from '../../broker/spawn.js';
import { connect, type FelixClient } from '../../client/index.js';
import { requireNatsServer, startNatsServer } from '../../scripts/perf/nats_server.js';
import { percentileOfSorted, spread } from '../../scripts/perf/stats.js';
import { currentLoad, describeMachine, renderMachine } from '../transport/machine.js';

interface TrialResult {
  /** Per-subscription set-up times of the one-at-a-time part, µs. */
  readonly oneUs: number[];
  /** The many-at-once part, ms. */
  readonly manyMs: number;
}

interface System {
  readonly name: string;
  trial(count: number, many: number, trial: number, warmup: number): Promise<TrialResult>;
}

const nowUs = (): number => performance.now() * 1000;

/** An event that one callback settles, and a bounded wait for it: a lost event fails the run. */
function arrival(what: string): { readonly arrived: () => void; wait(): Promise<void> } {
  let arrived!: () => void;
  const settled = new Promise<void>((resolve) => (arrived = resolve));
  return {
    arrived: () => arrived(),
    async wait() {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`never received: ${what}`)), 10_000);
      });
      try {
        await Promise.race([settled, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function felixSystem(): System {
  return {
    name: 'felix-ts',
    async trial(count, many, trial, warmup) {
      const broker = await spawnBroker({
        ...process.env,
        FELIX_QUIC_BIND: '127.0.0.1:0',
        FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
        FELIX_LOG_LEVEL: 'info',
      } as Record<string, string>);
      let client: FelixClient | undefined;
      try {
        // The SDK's defaults (its event pool spreads subscriptions over FELIX_EVENT_CONN_POOL connections).
        client = await connect({ broker: broker.address, env: {} });
        const c = client;
        // Streams exist before the timing, as NATS subjects need no creation.
        const streams = Array.from(
          { length: Math.max(count, many) + warmup },
          (_, i) => `setup-${trial}-${i}`,
        );
        await Promise.all(streams.map((s) => c.publish(s, 'create')));
        const oneUs: number[] = [];
        for (let i = 0; i < warmup + count; i++) {
          const live = arrival(`felix-ts event on ${streams[i]}`);
          const started = nowUs();
          const sub = await c.subscribe(streams[i]!, { onEvent: live.arrived });
          if (i >= warmup) oneUs.push(nowUs() - started);
          await c.publish(streams[i]!, 'live');
          await live.wait();
          await sub.unsubscribe();
        }
        const started = performance.now();
        const subs = await Promise.all(
          streams.slice(warmup, warmup + many).map((s) => c.subscribe(s, { onEvent: () => {} })),
        );
        const manyMs = performance.now() - started;
        await Promise.all(subs.map((s) => s.unsubscribe()));
        return { oneUs, manyMs };
      } finally {
        await client?.close();
        await broker.stop();
      }
    },
  };
}

function natsSystem(bin: string): System {
  return {
    name: 'NATS',
    async trial(count, many, trial, warmup) {
      const server = await startNatsServer(bin);
      let nc: NatsConnection | undefined;
      try {
        nc = await natsConnect({ servers: server.address });
        const c = nc;
        const subjects = Array.from(
          { length: Math.max(count, many) + warmup },
          (_, i) => `setup.${trial}.${i}`,
        );
        const oneUs: number[] = [];
        for (let i = 0; i < warmup + count; i++) {
          const live = arrival(`NATS message on ${subjects[i]}`);
          const started = nowUs();
          const sub = c.subscribe(subjects[i]!, { callback: live.arrived });
          await c.flush();
          if (i >= warmup) oneUs.push(nowUs() - started);
          c.publish(subjects[i]!, 'live');
          await live.wait();
          sub.unsubscribe();
        }
        const started = performance.now();
        const subs = subjects.slice(warmup, warmup + many).map((s) => c.subscribe(s, { callback: () => {} }));
        await c.flush();
        const manyMs = performance.now() - started;
        for (const s of subs) s.unsubscribe();
        return { oneUs, manyMs };
      } finally {
        await nc?.close();
        await server.stop();
      }
    },
  };
}

/** Nearest-rank percentile of one trial's samples. */
function quantile(values: readonly number[], q: number): number {
  return (
    percentileOfSorted(
      [...values].sort((a, b) => a - b),
      q,
    ) ?? NaN
  );
}

const median = (values: readonly number[]): number => quantile(values, 0.5);

function cell(values: readonly number[], digits = 0): string {
  return spread(values, (v) => v.toFixed(digits));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '5' },
      count: { type: 'string', default: '300' },
      many: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '0' },
    },
  });
  const trials = Number(values.trials);
  const count = Number(values.count);
  const many = Number(values.many);
  const warmup = Number(values.warmup);
  const machine = describeMachine();
  const systems = [felixSystem(), natsSystem(requireNatsServer())];
  const results = new Map<string, TrialResult[]>(systems.map((s) => [s.name, []]));
  console.log(
    `subscriber set-up: ${count} one at a time (after ${warmup} untimed), ${many} at once, ${trials} alternating trials`,
  );
  for (let t = 0; t < trials; t++) {
    const order = t % 2 === 0 ? systems : [...systems].reverse();
    for (const system of order) {
      const r = await system.trial(count, many, t, warmup);
      results.get(system.name)!.push(r);
      console.log(
        `  trial ${t + 1} ${system.name}: one at a time p50 ${median(r.oneUs).toFixed(0)} µs, ` +
          `p99 ${quantile(r.oneUs, 0.99).toFixed(0)} µs; ${many} at once ${r.manyMs.toFixed(1)} ms`,
      );
    }
  }
  const row = (metric: string, of: (r: TrialResult) => number, digits: number): string => {
    const f = results.get('felix-ts')!.map(of);
    const n = results.get('NATS')!.map(of);
    return `| ${metric} | ${cell(f, digits)} | ${cell(n, digits)} | ${(median(f) / median(n)).toFixed(2)}× |`;
  };
  machine.loadAtEnd = currentLoad();
  console.log('\nmedian of trials (min–max):\n');
  console.log('| metric | felix-ts | NATS | felix/NATS |\n|---|---|---|---|');
  console.log(row('one subscription, p50 µs', (r) => median(r.oneUs), 0));
  console.log(row('one subscription, p99 µs', (r) => quantile(r.oneUs, 0.99), 0));
  console.log(row(`${many} subscriptions at once, ms`, (r) => r.manyMs, 1));
  console.log(`\n${renderMachine(machine)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
