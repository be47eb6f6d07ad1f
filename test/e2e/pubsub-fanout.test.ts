// Fanout, ordering across workers, ack modes and chunk interleaving through the SDK against a real broker.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type FelixEvent } from '../../client/index.js';
import { client, eventually, startBroker } from './sdk-harness.js';

describe.each([1, 10])('fanout %i', (fanout) => {
  it('delivers every event, in order, to every subscriber', async () => {
    const broker = await startBroker();
    const subscriber = await client(broker, { eventConnPool: 4 });
    const seen: FelixEvent[][] = [];
    for (let i = 0; i < fanout; i++) {
      const mine: FelixEvent[] = [];
      seen.push(mine);
      await subscriber.subscribe('fan', { onEvent: (e) => mine.push(e) });
    }
    const publisher = await client(broker);
    const total = 500;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i += 10) {
      pending.push(
        publisher.publishBatch(
          'fan',
          Array.from({ length: 10 }, (_, j) => `m${i + j}`),
        ),
      );
    }
    await Promise.all(pending);
    await eventually(() => seen.every((s) => s.length === total), `${fanout} x ${total} deliveries`);
    for (const s of seen) {
      expect(s.map((e) => Buffer.from(e.payload).toString())).toEqual(
        Array.from({ length: total }, (_, i) => `m${i}`),
      );
      expect(s.map((e) => e.offset)).toEqual(Array.from({ length: total }, (_, i) => i));
      expect(s.every((e) => e.gap === 0)).toBe(true);
    }
  });
});

describe('ordering and acks', () => {
  it('keeps per-stream order for many streams spread over many workers (hash_stream)', async () => {
    const broker = await startBroker();
    const streams = Array.from({ length: 12 }, (_, i) => `ordered-${i}`);
    const subscriber = await client(broker);
    const seen = new Map<string, string[]>();
    for (const s of streams) {
      const mine: string[] = [];
      seen.set(s, mine);
      await subscriber.subscribe(s, { onEvent: (e) => mine.push(Buffer.from(e.payload).toString()) });
    }
    const publisher = await client(broker, {
      pubConnPool: 3,
      pubStreamsPerConn: 3,
      pubSharding: 'hash_stream',
    });
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 200; i++)
      for (const s of streams) pending.push(publisher.publish(s, `${s}:${i}`, { ack: 'none' }));
    await Promise.all(pending);
    await publisher.flush();
    await eventually(() => [...seen.values()].every((v) => v.length === 200), 'every stream complete');
    for (const s of streams) expect(seen.get(s)).toEqual(Array.from({ length: 200 }, (_, i) => `${s}:${i}`));
  });

  it.each(['none', 'per_message', 'per_batch'] as const)(
    'settles publishes with ack mode %s once the broker has them',
    async (ack) => {
      const broker = await startBroker();
      const subscriber = await client(broker);
      const got: string[] = [];
      await subscriber.subscribe('acks', { onEvent: (e) => got.push(Buffer.from(e.payload).toString()) });
      const publisher = await client(broker);
      await publisher.publish('acks', 'one', { ack });
      await publisher.publishBatch('acks', ['two', 'three'], { ack });
      if (ack !== 'none') {
        // An acked publish settles only after the broker accepted it: the broker counted all three.
        expect(broker.stats.publishedMessages).toBe(3);
      }
      await publisher.flush();
      await eventually(() => got.length === 3, 'three events');
      expect(got).toEqual(['one', 'two', 'three']);
    },
  );
});

describe('chunked publish', () => {
  it('lets small publishes on the same worker overtake a 10 MiB publish travelling in chunks', async () => {
    const broker = await startBroker({
      brokerPublishConnInflightBytes: 64 << 20,
      brokerPublishInflightBytes: 256 << 20,
    });
    const subscriber = await client(broker);
    const arrivals: string[] = [];
    let big: FelixEvent | undefined;
    await subscriber.subscribe('big', {
      onEvent: (e) => {
        arrivals.push('big');
        big = e;
      },
    });
    await subscriber.subscribe('small', { onEvent: () => arrivals.push('small') });
    // One publish worker: the big publish and the small ones share one QUIC stream.
    const publisher = await client(broker, {
      pubConnPool: 1,
      pubStreamsPerConn: 1,
      publishChunkBytes: 16 * 1024,
    });
    const payload = randomBytes(10 << 20);
    const bigDone = publisher.publish('big', payload);
    const smallDone = Array.from({ length: 20 }, (_, i) => publisher.publish('small', `s${i}`));
    await Promise.all([bigDone, ...smallDone]);
    await eventually(
      () => big !== undefined && arrivals.filter((a) => a === 'small').length === 20,
      'all events',
    );
    const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    expect(digest(big!.payload)).toBe(digest(payload));
    // The small publishes did not wait for the 10 MiB one: they arrived before it.
    expect(arrivals.indexOf('big')).toBeGreaterThan(arrivals.lastIndexOf('small'));
  });
});
