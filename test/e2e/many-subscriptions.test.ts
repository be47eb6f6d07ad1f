// Issue 14: thousands of subscriptions on one connection. Each subscription is a control stream of the
// client and an event stream of the broker; the client grants event streams without a limit of its own,
// so the broker's settings are the bound (FELIX_MAX_STREAMS_PER_CONN, FELIX_MAX_SUBSCRIPTIONS_PER_CONN,
// raised here past 10,000). A broker process over real QUIC; nothing is timed.
import { afterEach, expect, it } from 'vitest';
import { connect, type FelixClient, type Subscription } from '../../client/index.js';
import { spawnBroker, type BrokerProcess } from './broker-process.js';

const SUBSCRIPTIONS = 10_000;
const STREAMS = 200;
const WAVE = 500;

let broker: BrokerProcess | undefined;
const clients: FelixClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  broker?.child.kill('SIGKILL');
});

it('serves 10,000 subscriptions on one connection, each receiving its own stream', async () => {
  broker = await spawnBroker({
    FELIX_MAX_STREAMS_PER_CONN: '12000',
    FELIX_MAX_SUBSCRIPTIONS_PER_CONN: '12000',
  });
  const client = await connect({
    broker: `127.0.0.1:${broker.quicPort}`,
    env: {},
    eventConnPool: 1,
    requestTimeoutMs: 60_000,
    connectTimeoutMs: 60_000,
    onWarning: () => undefined,
  });
  clients.push(client);
  const received = new Map<number, string[]>();
  // In waves of 500 at once, as an application subscribing to thousands of streams would: each is a
  // stream, an auth and a subscribe, and 10,000 at once only measures how long the queue of auths gets.
  const subs: Subscription[] = [];
  for (let wave = 0; wave < SUBSCRIPTIONS; wave += WAVE) {
    subs.push(
      ...(await Promise.all(
        Array.from({ length: WAVE }, (_, k) => {
          const i = wave + k;
          return client.subscribe(`many-${i % STREAMS}`, {
            start: 'latest',
            onEvent: (e) => {
              const list = received.get(i) ?? [];
              list.push(Buffer.from(e.payload).toString());
              received.set(i, list);
            },
          });
        }),
      )),
    );
  }
  expect(new Set(subs.map((s) => s.id)).size).toBe(SUBSCRIPTIONS);
  for (let s = 0; s < STREAMS; s++) await client.publish(`many-${s}`, `to-${s}`);
  const deadline = Date.now() + 60_000; // a bound on waiting, not a speed check
  while ([...received.values()].reduce((n, l) => n + l.length, 0) < SUBSCRIPTIONS && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < SUBSCRIPTIONS; i++)
    expect(received.get(i), `subscription ${i}`).toEqual([`to-${i % STREAMS}`]);
  const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  expect(Number(/^felix_subscriptions (\d+)/m.exec(metrics)?.[1] ?? NaN)).toBe(SUBSCRIPTIONS);
}, 120_000);

it('reaches FELIX_MAX_SUBSCRIPTIONS_PER_CONN on one connection with the broker’s defaults, and is refused one past it', async () => {
  // Each subscription holds a stream the client opened: the default stream credit must cover the default
  // subscription limit (it was 1,024 against 4,096: subscription 1,025 waited and timed out).
  broker = await spawnBroker({});
  const client = await connect({
    broker: `127.0.0.1:${broker.quicPort}`,
    env: {},
    eventConnPool: 1,
    onWarning: () => undefined,
  });
  clients.push(client);
  const LIMIT = 4096;
  for (let wave = 0; wave < LIMIT; wave += WAVE) {
    const count = Math.min(WAVE, LIMIT - wave);
    await Promise.all(Array.from({ length: count }, (_, k) => client.subscribe(`d-${(wave + k) % STREAMS}`)));
  }
  await expect(client.subscribe('d-over')).rejects.toMatchObject({
    brokerCode: 'limit_exceeded',
    retry: 'retry_after',
  });
}, 120_000);
