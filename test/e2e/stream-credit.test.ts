// Each subscription holds a stream of its connection for its life. Past the broker's
// FELIX_MAX_STREAMS_PER_CONN a new subscription waits for one to end — QUIC's MAX_STREAMS, as the setting
// documents — instead of failing with stream_limit, and it gives up with `timeout` after requestTimeoutMs.
// A broker process over real QUIC; the waits are proved by event order, never by time.
import { afterEach, expect, it } from 'vitest';
import { connect, FelixError, type FelixClient, type Subscription } from '../../client/index.js';
import { spawnBroker, type BrokerProcess } from './broker-process.js';

const STREAMS = 4;

let broker: BrokerProcess | undefined;
const clients: FelixClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  broker?.child.kill('SIGKILL');
});

async function clientOfOneEventConnection(requestTimeoutMs: number): Promise<FelixClient> {
  broker = await spawnBroker({ FELIX_MAX_STREAMS_PER_CONN: String(STREAMS) });
  const client = await connect({
    broker: `127.0.0.1:${broker.quicPort}`,
    env: {},
    eventConnPool: 1,
    pubConnPool: 1,
    requestTimeoutMs,
    onWarning: () => undefined,
  });
  clients.push(client);
  return client;
}

/** Subscribes and records each event's payload; `arrived` resolves on the first one. */
function recorder(): {
  payloads: string[];
  onEvent: (e: { payload: Uint8Array }) => void;
  arrived: Promise<void>;
} {
  const payloads: string[] = [];
  let first!: () => void;
  const arrived = new Promise<void>((resolve) => (first = resolve));
  return {
    payloads,
    arrived,
    onEvent: (e) => {
      payloads.push(Buffer.from(e.payload).toString());
      first();
    },
  };
}

it('a subscription past the stream limit waits for one to end, then is served', async () => {
  const client = await clientOfOneEventConnection(60_000);
  const first = recorder();
  const held: Subscription[] = [await client.subscribe('held-0', { onEvent: first.onEvent })];
  for (let i = 1; i < STREAMS; i++)
    held.push(await client.subscribe(`held-${i}`, { onEvent: () => undefined }));

  const waiting = [recorder(), recorder()];
  const outcome: string[] = ['pending', 'pending'];
  const pending = waiting.map((r, i) =>
    client.subscribe(`waiting-${i}`, { onEvent: r.onEvent }).then(
      (s) => ((outcome[i] = 'subscribed'), s),
      (e: unknown) => ((outcome[i] = `refused: ${String(e)}`), null),
    ),
  );
  // A whole round trip through the broker after the two were asked for: they are still waiting behind the
  // limit, neither refused (before, stream_limit at once) nor served.
  await client.publish('held-0', 'h');
  await first.arrived;
  expect(outcome).toEqual(['pending', 'pending']);

  // Ending subscriptions gives their streams back: the two get in, and both are live.
  await held.shift()!.unsubscribe();
  await held.shift()!.unsubscribe();
  const served = await Promise.all(pending);
  expect(outcome).toEqual(['subscribed', 'subscribed']);
  for (let i = 0; i < waiting.length; i++) {
    await client.publish(`waiting-${i}`, `w${i}`);
    await waiting[i]!.arrived;
    expect(waiting[i]!.payloads).toEqual([`w${i}`]);
  }
  await Promise.all([...held, ...served].map((s) => s?.unsubscribe()));
}, 60_000);

it('gives up with timeout, naming the limit, when no stream ends within requestTimeoutMs', async () => {
  const client = await clientOfOneEventConnection(1_000);
  for (let i = 0; i < STREAMS; i++) await client.subscribe(`held-${i}`, { onEvent: () => undefined });
  const error = await client.subscribe('one-too-many', { onEvent: () => undefined }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FelixError);
  expect((error as FelixError).code).toBe('timeout');
  expect((error as FelixError).message).toContain('FELIX_MAX_STREAMS_PER_CONN');
}, 30_000);
