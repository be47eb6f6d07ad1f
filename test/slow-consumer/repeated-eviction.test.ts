// A client whose subscriptions are disconnected as slow consumers again and again keeps its connection
// working. Each disconnect resets an event stream the SDK had stopped reading, with up to a stream window of
// bytes still in its receive buffer, and the quiche the transport runs on never gives that credit back to
// the connection (transport/connection.ts, strandedBytes): after a few disconnects the broker could send
// nothing more on the connection — no error, no close, silence. The SDK reopens such a connection before
// then, and what ran on it resumes from its offsets. A real broker process on its defaults, one SDK client
// over real QUIC on loopback.
import { expect, it } from 'vitest';
import { connect, type FelixEvent, type StatusEvent } from '../../client/index.js';
import { eventually, publisherOf, startBroker } from './fixture.js';

const STREAM = 'firehose';
const TICKS = 'ticks';
const PAYLOAD = Buffer.alloc(1024, 7);
const BATCH = 500;
// Each disconnect can strand a stream window (64 KiB) of the connection's 256 KiB: eight of them strand
// twice the connection's window.
const EVICTIONS = 8;
const MAX_ROUNDS = 2048;

it('keeps serving a client after eight of its stalled subscriptions were disconnected', async () => {
  const broker = await startBroker();
  const publisher = await publisherOf(broker);
  const client = await connect({
    broker: `127.0.0.1:${broker.quicPort}`,
    env: {},
    onWarning: () => {},
    eventConnPool: 1,
    eventStreamRecvWindow: 64 * 1024,
    eventConnRecvWindow: 256 * 1024,
  });
  const statuses: StatusEvent[] = [];
  void (async () => {
    for await (const event of client.status()) statuses.push(event);
  })();
  try {
    // A quiet subscription that keeps up, on the same connection as the stalled ones.
    const ticks: number[] = [];
    const quiet = await client.subscribe(TICKS, { onEvent: (e: FelixEvent) => ticks.push(e.offset) });
    for (let evicted = 0; evicted < EVICTIONS; evicted++) {
      // An iterator nobody advances over a queue of one that blocks: the SDK stops reading its event
      // stream, and the broker disconnects it.
      const stalled = await client.subscribe(STREAM, { queueCapacity: 1, queuePolicy: 'block' });
      let ended = false;
      void stalled.closed.then(() => (ended = true));
      for (let round = 0; !ended; round++) {
        if (round === MAX_ROUNDS) throw new Error(`disconnect ${evicted + 1} never came`);
        await Promise.all(Array.from({ length: BATCH }, () => publisher.publish(STREAM, PAYLOAD)));
      }
      expect(await stalled.closed).toMatchObject({ code: 'subscription_evicted', reason: 'slow_consumer' });
      await publisher.publish(TICKS, Buffer.from(`after disconnect ${evicted + 1}`));
    }
    const after: number[] = [];
    await client.subscribe('after', { onEvent: (e: FelixEvent) => after.push(e.offset) });
    await publisher.publish('after', Buffer.from('still here'));
    await eventually(() => after.length === 1, 'an event on the connection that saw the disconnects', 30_000);
    expect(after).toEqual([0]);

    // The quiet subscription lost nothing and saw nothing twice across the reopened connections.
    await eventually(() => ticks.length >= EVICTIONS, 'every tick', 30_000);
    expect(ticks).toEqual(Array.from({ length: EVICTIONS }, (_, i) => i));
    expect(quiet.missed).toBe(0);
    // The reopening is reported as any lost connection is, with why.
    const recycled = statuses.filter((s) => s.type === 'disconnect' && /recycled/.test(s.error.message));
    expect(recycled.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s.type === 'reconnect').length).toBeGreaterThanOrEqual(recycled.length);
  } finally {
    await client.close();
  }
}, 180_000);
