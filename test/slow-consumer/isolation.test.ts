// Issue 15: on the default profile, one subscriber that stops reading costs the others nothing. A real broker
// process on its defaults (only the queue policy named), SDK clients over real QUIC on loopback.
import { describe, expect, it } from 'vitest';
import type { FelixError } from '../../client/index.js';
import {
  counters,
  eventually,
  fastSubscriber,
  gapTotal,
  publisherOf,
  stalledSubscriber,
  startBroker,
  sum,
} from './fixture.js';

const STREAM = 'firehose';
const PAYLOAD = Buffer.alloc(1024, 7);
const BATCH = 500;
// 1 GiB of publishes: far past any bound, so a broker that never disconnects fails here instead of hanging.
const MAX_ROUNDS = 2048;

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

describe.each(['drop_new', 'drop_old'] as const)('queue policy %s on the default profile', (policy) => {
  it('delivers everything to the fast subscriber and disconnects the stalled one as a slow consumer', async () => {
    const broker = await startBroker({ FELIX_SUB_QUEUE_POLICY: policy });
    const fast = await fastSubscriber(broker, STREAM);
    const stalled = await stalledSubscriber(broker, STREAM);
    let evicted: FelixError | undefined;
    let ended = false;
    void stalled.closed.then((error) => {
      evicted = error;
      ended = true;
    });
    const publisher = await publisherOf(broker);
    let published = 0;
    const publishRound = async (): Promise<void> => {
      await Promise.all(range(BATCH).map(() => publisher.publish(STREAM, PAYLOAD)));
      published += BATCH;
    };
    for (let round = 0; !ended; round++) {
      if (round === MAX_ROUNDS) throw new Error('the stalled subscriber was never disconnected');
      await publishRound();
    }
    // Delivery goes on after it left.
    await publishRound();

    await eventually(() => fast.offsets.length >= published, 'the fast subscriber to receive everything');
    expect(fast.offsets).toEqual(range(published));
    expect(fast.subscription.missed).toBe(0);
    expect(evicted).toMatchObject({ code: 'subscription_evicted', reason: 'slow_consumer' });
    const seen = await counters(broker);
    expect(seen.drops[policy]).toBeGreaterThan(0);
    expect(sum(seen.slowConsumerDisconnects)).toBe(1);
  });

  it("makes the stalled subscriber's gaps, once it reads again, exactly the drops counted", async () => {
    // The disconnect is off here so that the stalled subscriber lives to read again and show its gaps.
    const broker = await startBroker({
      FELIX_SUB_QUEUE_POLICY: policy,
      FELIX_SLOW_SUB_MAX_DROPS: '0',
      FELIX_SLOW_SUB_MAX_FULL_MS: '0',
    });
    const fast = await fastSubscriber(broker, STREAM);
    const stalled = await stalledSubscriber(broker, STREAM);
    const publisher = await publisherOf(broker);
    let published = 0;
    for (let round = 0; ((await counters(broker)).drops[policy] ?? 0) === 0; round++) {
      if (round === MAX_ROUNDS) throw new Error('the stalled subscriber never lost an event');
      await Promise.all(range(BATCH).map(() => publisher.publish(STREAM, PAYLOAD)));
      published += BATCH;
    }

    // It reads again.
    const seen: number[] = [];
    const reading = (async () => {
      for await (const event of stalled) seen.push(event.offset);
    })();
    // One event at a time until one arrives: each waits until it arrived or a drop was counted, so the last
    // one seen comes after every drop, and every drop shows as a gap before it.
    for (let marker = 0; seen.at(-1) !== published - 1; marker++) {
      if (marker === 100_000) throw new Error('no event reached the subscriber that reads again');
      const dropsBefore = (await counters(broker)).drops[policy]!;
      await publisher.publish(STREAM, PAYLOAD);
      const offset = published++;
      await eventually(
        async () => seen.at(-1) === offset || (await counters(broker)).drops[policy]! > dropsBefore,
        `event ${offset} to arrive or be dropped`,
      );
    }
    const dropped = (await counters(broker)).drops[policy]!;
    expect(dropped).toBeGreaterThan(0);
    expect(gapTotal(seen)).toBe(dropped);
    expect(stalled.missed).toBe(dropped);
    expect(seen.length + dropped).toBe(published);
    expect(new Set(seen).size).toBe(seen.length);
    await eventually(() => fast.offsets.length >= published, 'the fast subscriber to receive everything');
    expect(fast.offsets).toEqual(range(published));
    await stalled.unsubscribe();
    await reading;
  });
});

describe('queue policy block on the default profile', () => {
  it('holds the publisher until the stalled subscriber is disconnected, then the fast one gets everything', async () => {
    const broker = await startBroker({ FELIX_SUB_QUEUE_POLICY: 'block' });
    const fast = await fastSubscriber(broker, STREAM);
    const stalled = await stalledSubscriber(broker, STREAM);
    const publisher = await publisherOf(broker);
    // About 50 MiB: well past the stalled subscriber's bound (FELIX_SUB_QUEUE_MAX_BYTES, 32 MiB by default).
    const total = 100 * BATCH;
    let acked = 0;
    const publishing = (async () => {
      for (let sent = 0; sent < total; sent += BATCH) {
        await Promise.all(range(BATCH).map(() => publisher.publish(STREAM, PAYLOAD).then(() => acked++)));
      }
    })();
    const evicted = await stalled.closed;
    // Held: while the stalled subscriber was there, the publisher could not get everything accepted.
    expect(acked).toBeLessThan(total);
    await publishing;
    await eventually(() => fast.offsets.length >= total, 'the fast subscriber to receive everything');
    expect(fast.offsets).toEqual(range(total));
    expect(evicted).toMatchObject({ code: 'subscription_evicted', reason: 'slow_consumer' });
    const seen = await counters(broker);
    expect(seen.drops.block ?? 0).toBe(0);
    expect(seen.slowConsumerDisconnects).toMatchObject({ max_full_ms: 1, max_drops: 0 });
  });
});
