// A client whose event stream window is as large as its connection window, with many subscriptions on
// one connection that stop reading and start again (an application busy elsewhere), against a broker in
// its own process. quiche keeps a connection window 1.5 × its streams' above the configured ceiling and
// then cut it back below what it had granted, so the broker's next bytes closed the client's connection
// with FLOW_CONTROL_ERROR and the subscriptions resumed past what the broker still held: thousands of
// events missed with no drop policy in play (an outside probe found it).
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FelixClient, type FelixEvent } from '../../client/index.js';
import { spawnBroker } from './broker-process.js';

const clients: FelixClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('client receive windows', () => {
  it('equal stream and connection windows lose nothing while subscriptions pause and resume', async () => {
    const broker = await spawnBroker({
      FELIX_SUB_QUEUE_CAPACITY: '1000000',
      FELIX_SUB_QUEUE_MAX_BYTES: '1GiB',
      FELIX_SLOW_SUB_MAX_FULL_MS: '0',
      FELIX_SLOW_SUB_MAX_DROPS: '0',
      FELIX_EVENT_SEND_WINDOW: '16KiB',
    });
    const address = `127.0.0.1:${broker.quicPort}`;
    const subscriber = await connect({
      broker: address,
      env: {},
      eventConnPool: 1,
      eventConnRecvWindow: 64 * 1024,
      eventStreamRecvWindow: 64 * 1024,
      onWarning: () => undefined,
    });
    clients.push(subscriber);
    const publisher = await connect({ broker: address, env: {}, onWarning: () => undefined });
    clients.push(publisher);

    const streams = ['w0', 'w1', 'w2', 'w3', 'w4'];
    const perStream = 4000;
    const subs = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        subscriber.subscribe(streams[i % streams.length]!, { queueCapacity: 4, queuePolicy: 'block' }),
      ),
    );
    // Every reader takes its first events, then stops for a while, then reads on to the end.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const readers = subs.map(async (sub) => {
      let next = 0;
      let read = 0;
      for await (const event of sub as AsyncIterable<FelixEvent>) {
        if (event.offset !== next) return { missed: sub.missed, at: next, got: event.offset };
        next++;
        if (++read === 50) await gate;
        if (next === perStream) break;
      }
      return { missed: sub.missed, at: next, got: next };
    });
    const payload = Buffer.alloc(64, 1);
    for (let round = 0; round < perStream / 10; round++) {
      await Promise.all(
        streams.map((s) =>
          publisher.publishBatch(
            s,
            Array.from({ length: 10 }, () => payload),
          ),
        ),
      );
      if (round === 50) setTimeout(release, 1500);
    }
    const outcomes = await Promise.all(readers);
    expect(outcomes.filter((o) => o.missed !== 0 || o.at !== perStream)).toEqual([]);
  });
});
