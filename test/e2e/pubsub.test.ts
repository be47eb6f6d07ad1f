// The client SDK against a real broker node (in-process, real QUIC on loopback): publish, subscribe,
// acks, chunked publishes, replay and cursors, gaps and eviction, close.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  FelixError,
  type FelixClient,
  type FelixEvent,
  type GapInfo,
  type Subscription,
} from '../../client/index.js';
import type { BrokerNode } from '../../broker/node.js';
import { MAX_BATCH_PAYLOADS } from '../../wire/index.js';
import { client, eventually, metric, startBroker, type BrokerOverrides } from './sdk-harness.js';
import { take } from '../support/take-events.js';

/** Subscribes to `stream` from earliest and collects its events until offset `last` has arrived. */
async function replayEarliest(c: FelixClient, stream: string, last: number): Promise<FelixEvent[]> {
  const replayed: FelixEvent[] = [];
  await c.subscribe(stream, { start: 'earliest', onEvent: (e) => replayed.push(e) });
  await eventually(() => replayed.at(-1)?.offset === last, `the replay up to offset ${last}`);
  return replayed;
}

const text = (events: FelixEvent[]) => events.map((e) => Buffer.from(e.payload).toString());
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('client SDK against the broker', () => {
  it("a large publish overtaken by thousands of the same worker's small ones is appended, once", async () => {
    const broker = await startBroker();
    const c = await client(broker, { pubConnPool: 1, pubStreamsPerConn: 1, requestTimeoutMs: 60_000 });
    // 4 MiB goes as chunks between the worker's other frames; 5,000 small publishes (more than the
    // broker's 4,096-sequence duplicate window) are sent meanwhile, some before its first piece.
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const bigAcked = c.publish('large', big);
    await Promise.all(range(5_000).map((i) => c.publish('small', String(i))));
    await bigAcked;
    const sizes = (await replayEarliest(c, 'large', 0)).map((e) => e.payload.length);
    expect(sizes).toEqual([big.length]);
    expect(await metric(broker, 'felix_publish_duplicates_total')).toBe(0);
  });

  it('refuses a second iterator while one reads the subscription: every event goes to the first', async () => {
    const broker = await startBroker();
    const c = await client(broker);
    const sub = await c.subscribe('once');
    const first = sub[Symbol.asyncIterator]();
    // Another iterator, or another for-await loop, fails at once instead of taking every other event.
    expect(() => sub[Symbol.asyncIterator]()).toThrow(/iterated by one reader at a time/);
    const loop = (async () => {
      for await (const event of sub) return event;
      return undefined;
    })();
    await expect(loop).rejects.toMatchObject({ code: 'invalid_argument' });
    await c.publishBatch('once', ['a', 'b', 'c']);
    const got: FelixEvent[] = [];
    for (let i = 0; i < 3; i++) got.push((await first.next()).value as FelixEvent);
    expect(text(got)).toEqual(['a', 'b', 'c']);
    // Once that iterator is done (here, left: the subscription ends), another may be taken: it is done.
    await first.return!();
    expect(await sub[Symbol.asyncIterator]().next()).toEqual({ value: undefined, done: true });
  });

  it('nextOffset is after the last event the application got: a loop left early resumes without a hole', async () => {
    const broker = await startBroker();
    const c = await client(broker);
    await c.publishBatch('resume', range(10).map(String));
    const sub = await c.subscribe('resume', { start: 'earliest' });
    const seen: string[] = [];
    // All ten are in the local queue long before the loop has taken five.
    await eventually(() => sub.queued === 10, 'the ten events queued');
    for await (const event of sub) {
      seen.push(Buffer.from(event.payload).toString());
      if (seen.length === 5) break;
    }
    expect(sub.nextOffset).toBe(5);
    const again = await c.subscribe('resume', { start: { offset: sub.nextOffset } });
    seen.push(...text(await take(again, 5)));
    expect(seen).toEqual(range(10).map(String));
    // With onEvent every event is the application's as it arrives.
    const called: FelixEvent[] = [];
    const viaCallback = await c.subscribe('resume', { start: { offset: 7 }, onEvent: (e) => called.push(e) });
    await eventually(() => called.length === 3, 'the callback to get offsets 7-9');
    expect(viaCallback.nextOffset).toBe(10);
  });

  it('publishes and receives events with their offsets, singly and batched', async () => {
    const broker = await startBroker();
    const c = await client(broker);
    const sub = await c.subscribe('demo');
    await c.publish('demo', 'hello');
    await c.publishBatch('demo', ['a', Buffer.from('b')]);
    const got = await take(sub, 3);
    expect(text(got)).toEqual(['hello', 'a', 'b']);
    expect(got.map((e) => [e.tenant, e.namespace, e.stream, e.offset, e.gap])).toEqual([
      ['t1', 'default', 'demo', 0, 0],
      ['t1', 'default', 'demo', 1, 0],
      ['t1', 'default', 'demo', 2, 0],
    ]);
  });

  it('publishes a batch of more tiny payloads than one frame may hold, as several frames, every one in order', async () => {
    const broker = await startBroker({ streamReplayCapacity: '200000' });
    const c = await client(broker);
    const count = 2 * MAX_BATCH_PAYLOADS + 3;
    const payloads = Array.from({ length: count }, (_, i) => (i % 1000 === 0 ? String(i) : ''));
    await c.publishBatch('tiny', payloads);
    const replayed = await replayEarliest(c, 'tiny', count - 1);
    expect(replayed).toHaveLength(count);
    expect(replayed.filter((e) => e.payload.length > 0).map((e) => [e.offset, text([e])[0]])).toEqual(
      payloads.flatMap((p, i) => (p === '' ? [] : [[i, p]])),
    );
  });

  it('keeps per-stream order for many pipelined acked publishes (hash_stream)', async () => {
    const broker = await startBroker();
    const c = await client(broker, { pubConnPool: 2, pubStreamsPerConn: 2 });
    const received: number[] = [];
    const sub = await c.subscribe('ordered', {
      onEvent: (e) => received.push(Number(Buffer.from(e.payload).toString())),
    });
    await Promise.all(range(2000).map((i) => c.publish('ordered', String(i))));
    await eventually(() => received.length === 2000, '2000 events');
    expect(received).toEqual(range(2000));
    expect([sub.gaps, sub.missed]).toEqual([0, 0]);
  });

  it('delivers every unacknowledged publish accepted before close()', async () => {
    const broker = await startBroker();
    const subscriber = await client(broker);
    let count = 0;
    await subscriber.subscribe('fire-and-forget', { onEvent: () => count++ });
    const publisher = await client(broker, { pubConnPool: 1, pubStreamsPerConn: 1 });
    for (let i = 0; i < 500; i++) void publisher.publish('fire-and-forget', `m${i}`, { ack: 'none' });
    await publisher.close();
    await eventually(() => count === 500, '500 unacknowledged events');
    await expect(publisher.publish('fire-and-forget', 'late')).rejects.toMatchObject({
      code: 'not_connected',
    });
  });

  it('sends a payload above FELIX_PUBLISH_WHOLE_MAX_BYTES in chunks; it arrives whole and in stream order', async () => {
    const broker = await startBroker();
    const c = await client(broker, {
      publishChunkBytes: 16 * 1024,
      publishWholeMaxBytes: 16 * 1024,
      pubConnPool: 1,
      pubStreamsPerConn: 1,
    });
    const sub = await c.subscribe('big');
    const other: string[] = [];
    await c.subscribe('small', { onEvent: (e) => other.push(Buffer.from(e.payload).toString()) });
    const big = randomBytes(300 * 1024);
    const sent = Promise.all([
      c.publish('big', big),
      ...range(20).map((i) => c.publish('small', `s${i}`)),
      c.publish('big', 'after the big one'),
    ]);
    await sent;
    const [whole, after] = await take(sub, 2);
    expect(createHash('sha256').update(whole!.payload).digest('hex')).toBe(
      createHash('sha256').update(big).digest('hex'),
    );
    expect(Buffer.from(after!.payload).toString()).toBe('after the big one');
    await eventually(() => other.length === 20, 'the small publishes');
    expect(other).toEqual(range(20).map((i) => `s${i}`));
    // A batch above the chunk size travels as several frames, still in order, acked as one.
    const batch = range(50).map((i) => Buffer.alloc(1024, i));
    await c.publishBatch('big', batch);
    const events = await take(sub, 50);
    expect(events.map((e) => e.payload[0])).toEqual(range(50));
    expect(events.map((e) => e.offset)).toEqual(range(50).map((i) => i + 2));
  });

  it('sends payloads between the chunk size and FELIX_PUBLISH_WHOLE_MAX_BYTES whole, alone and in order', async () => {
    const broker = await startBroker();
    const c = await client(broker, { pubConnPool: 1, pubStreamsPerConn: 1 });
    const sub = await c.subscribe('whole');
    const single = randomBytes(200 * 1024);
    const batch = [Buffer.from('small'), randomBytes(64 * 1024), Buffer.from('tail')];
    await c.publish('whole', single);
    await c.publishBatch('whole', batch);
    const events = await take(sub, 4);
    const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    expect(events.map((e) => digest(e.payload))).toEqual([single, ...batch].map(digest));
    expect(events.map((e) => e.offset)).toEqual([0, 1, 2, 3]);
  });

  it('an iterator with the default queue reads a replay far larger than its queue, losing nothing', async () => {
    const broker = await startBroker({ streamReplayCapacity: 4096 });
    const c = await client(broker);
    const total = 3000;
    for (let round = 0; round < total / 500; round++) {
      await c.publishBatch(
        'long-history',
        range(500).map((i) => `e${round * 500 + i}`),
      );
    }
    // FELIX_CLIENT_SUB_QUEUE_CAPACITY is 256: the replay arrives in frames of many events, faster than
    // this reader takes them.
    const sub = await c.subscribe('long-history', { start: 'earliest' });
    let next = 0;
    for await (const event of sub) {
      expect(event.offset).toBe(next++);
      if (next % 100 === 0) await new Promise((r) => setTimeout(r, 1));
      if (next === total) break;
    }
    expect(sub.localDropped).toBe(0);
    expect(sub.missed).toBe(0);
  });

  it('a write-ahead smaller than the transport gathers in a turn still delivers a whole replay', async () => {
    // FELIX_EVENT_SEND_WINDOW 1 KiB: small frames are gathered (up to 16 KiB) for the turn's send; counted
    // as backlog they stopped the subscription with nothing left to wake it until the next publish.
    const broker = await startBroker({ eventSendWindow: 1024, streamReplayCapacity: 1024 });
    const c = await client(broker, { eventConnPool: 1 });
    for (let i = 0; i < 500; i++) await c.publish('tiny-window', `e${i}`);
    const seen: number[] = [];
    await c.subscribe('tiny-window', { start: 'earliest', onEvent: (e) => seen.push(e.offset) });
    await eventually(() => seen.length === 500, 'the whole replay, with nothing published after it');
    expect(seen).toEqual(range(500));
  });

  it('replays from earliest, resumes from an offset, and reports cursors out of range', async () => {
    const broker = await startBroker({ streamReplayCapacity: 8 });
    const c = await client(broker);
    for (let i = 0; i < 300; i++) await c.publish('history', `e${i}`);
    const replayed = await replayEarliest(c, 'history', 299);
    // Retention kept only the newest events, from some offset on, consecutively.
    const oldest = replayed[0]!.offset;
    expect(oldest).toBeGreaterThan(0);
    expect(replayed.map((e) => e.offset)).toEqual(range(300 - oldest).map((i) => oldest + i));
    // Retention drops whole frames, so where it starts depends on batching: resume from what was replayed.
    const resumeAt = oldest + 1;
    const fromOffset = await c.subscribe('history', { start: { offset: resumeAt } });
    expect((await take(fromOffset, 299 - oldest)).map((e) => e.offset)).toEqual(
      range(299 - oldest).map((i) => resumeAt + i),
    );
    expect(fromOffset.skipped).toBeLessThanOrEqual(1);
    await expect(c.subscribe('history', { start: { offset: 0 } })).rejects.toMatchObject({
      code: 'cursor_too_old',
      requested: 0,
      available: oldest,
      retry: 'fatal',
    });
    await expect(c.subscribe('history', { start: { offset: 500 } })).rejects.toMatchObject({
      code: 'cursor_in_future',
      available: 300,
      retry: 'fatal',
    });
  });

  it('replays at least the last FELIX_STREAM_REPLAY_CAPACITY events from earliest, whatever the batches', async () => {
    const broker = await startBroker({ streamReplayCapacity: 10 });
    const c = await client(broker);
    // Four frames of 7 events (offsets 0..27): the last 10 start at 18, inside the frame of 14..20.
    for (let b = 0; b < 4; b++)
      await c.publishBatch(
        'batched',
        range(7).map((i) => `e${b * 7 + i}`),
      );
    const replayed = await replayEarliest(c, 'batched', 27);
    const oldest = replayed[0]!.offset;
    expect(oldest).toBeLessThanOrEqual(18);
    expect(replayed.map((e) => e.offset)).toEqual(range(28 - oldest).map((i) => oldest + i));
    const last10 = await c.subscribe('batched', { start: { offset: 18 } });
    expect((await take(last10, 10)).map((e) => e.offset)).toEqual(range(10).map((i) => 18 + i));
  });

  it('rejects a publish the broker refuses with publish_rejected and the broker code', async () => {
    const broker = await startBroker({
      autoCreateStreams: false,
      tenants: { t1: { namespaces: { default: { streams: ['known'] } } } },
    });
    const c = await client(broker);
    await c.publish('known', 'fine');
    const refused = await c.publish('unknown', 'x').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FelixError);
    // Acked binary publishes are answered with a binary ack, which has no room for the broker's code.
    expect(refused).toMatchObject({ code: 'publish_rejected' });
    expect((refused as FelixError).message).toMatch(
      /publish to t1\/default\/unknown refused: stream not found/,
    );
    await expect(c.subscribe('unknown')).rejects.toMatchObject({
      code: 'broker_error',
      brokerCode: 'not_found',
      // A single broker serves only the streams its configuration names: asking again fails the same way.
      retry: 'fatal',
    });
  });

  /**
   * A subscriber that stops reading: a tiny receive window and a blocking local queue of one. The broker
   * hands it at most FELIX_EVENT_SEND_WINDOW bytes beyond what it read; the rest waits in the broker's
   * queue of 16 events, where the broker's policy applies, while 5000 acked publishes go through.
   */
  /** A client whose one event connection takes little at a time: a subscriber not read stalls at once. */
  function slowClient(broker: BrokerNode): Promise<FelixClient> {
    return client(broker, {
      eventConnPool: 1,
      eventConnRecvWindow: 16 * 1024,
      eventStreamRecvWindow: 4 * 1024,
    });
  }

  async function stalledSubscriber(
    policy: BrokerOverrides,
    whileStalled: (broker: BrokerNode) => Promise<void> = async () => undefined,
  ): Promise<Subscription> {
    const broker = await startBroker({ eventSendWindow: 64 * 1024, subQueueCapacity: 16, ...policy });
    const publisher = await client(broker);
    const slow = await slowClient(broker);
    const sub = await slow.subscribe('firehose', { queueCapacity: 1, queuePolicy: 'block' });
    const payload = Buffer.alloc(200, 7);
    await Promise.all(range(5000).map(() => publisher.publish('firehose', payload)));
    await whileStalled(broker);
    return sub;
  }

  it('shows the events a slow subscriber lost as gaps in the offsets', async () => {
    let transportBytes = NaN;
    let transportEvents = NaN;
    let queued = NaN;
    const sub = await stalledSubscriber(
      { subQueuePolicy: 'drop_old', slowSubMaxFullMs: 0 },
      async (broker) => {
        // /metrics shows what the stalled stream holds in the transport, beside the queue depth. Under
        // drop_old little goes to the transport ahead (QUIC may have taken all of it: 0 is possible);
        // test/slow-consumer/drop-old-bound.test.ts pins the bound.
        transportBytes = await metric(broker, 'felix_subscriber_transport_backlog_bytes');
        transportEvents = await metric(broker, 'felix_subscriber_transport_backlog_events');
        queued = await metric(broker, 'felix_subscriber_queue_depth_events');
      },
    );
    expect(transportBytes).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
    expect(Number.isFinite(transportEvents)).toBe(true);
    expect(queued).toBeLessThanOrEqual(16);
    const seen: FelixEvent[] = [];
    for await (const event of sub) {
      seen.push(event);
      if (event.offset === 4999) break;
    }
    expect(sub.missed).toBeGreaterThan(0);
    expect(sub.gaps).toBeGreaterThan(0);
    expect(seen.length + sub.missed).toBe(5000);
    expect(seen.reduce((sum, e) => sum + e.gap, 0)).toBe(sub.missed);
    expect(sub.localDropped).toBe(0);
  });

  it('tells a subscriber of the tail of a burst drop_new dropped, which no later event shows', async () => {
    // drop_new drops the newest events: those of the burst's end have no event after them to reveal
    // the gap. The broker says so (events_dropped) once the events before them were delivered.
    const broker = await startBroker({
      eventSendWindow: 64 * 1024,
      subQueueCapacity: 16,
      subQueuePolicy: 'drop_new',
      slowSubMaxDrops: 0,
      slowSubMaxFullMs: 0,
    });
    const publisher = await client(broker);
    const slow = await slowClient(broker);
    const gaps: GapInfo[] = [];
    let accounted = (): void => undefined;
    const allAccounted = new Promise<void>((resolve) => (accounted = resolve));
    const seen: FelixEvent[] = [];
    const sub = await slow.subscribe('tail', {
      queueCapacity: 1,
      queuePolicy: 'block',
      onGap: (gap) => {
        gaps.push(gap);
        if (seen.length + sub.missed === 5000) accounted();
      },
    });
    const payload = Buffer.alloc(200, 7);
    await Promise.all(range(5000).map(() => publisher.publish('tail', payload)));
    // Reads on in the background: with no event after the tail nothing else would say it is over.
    void (async () => {
      for await (const event of sub) {
        seen.push(event);
        if (seen.length + sub.missed === 5000) accounted();
      }
    })();
    await Promise.race([allAccounted, eventually(() => false, 'every offset delivered or reported missed')]);
    const tail = gaps.at(-1)!;
    expect(tail).toMatchObject({ notice: true, offset: 5000, epochChanged: false });
    expect(tail.expected + tail.missed!).toBe(5000);
    expect(seen.at(-1)!.offset).toBe(tail.expected - 1);
    expect(seen.length + sub.missed).toBe(5000);
    expect(gaps.filter((g) => g.notice === true)).toHaveLength(1);
    // Events published later follow on with no gap of their own.
    await publisher.publish('tail', 'after');
    await eventually(() => seen.length + sub.missed === 5001, 'the event after the tail');
    expect(seen.at(-1)).toMatchObject({ offset: 5000, gap: 0 });
  });

  it("holds many stalled subscriptions of one connection to the connection's send window, then delivers all", async () => {
    // Eight subscriptions on one event connection that stops reading: each may hand the transport 64 KiB
    // ahead (FELIX_EVENT_SEND_WINDOW), but together no more than the connection's 64 KiB window
    // (FELIX_BROKER_SEND_WINDOW) plus a frame each (at most 64 events, under 16 KiB here); the rest waits
    // in their queues, dropping nothing.
    const window = 64 * 1024;
    const broker = await startBroker({
      eventSendWindow: window,
      brokerSendWindow: window,
      subQueueCapacity: 100_000,
      slowSubMaxFullMs: 0,
      slowSubMaxDrops: 0,
    });
    const publisher = await client(broker);
    const slow = await slowClient(broker);
    const streams = range(8).map((i) => `stalled-${i}`);
    const subs = await Promise.all(
      streams.map((s) => slow.subscribe(s, { queueCapacity: 1, queuePolicy: 'block' })),
    );
    const payload = Buffer.alloc(200, 7);
    const perStream = 1500;
    for (let round = 0; round < perStream / 100; round++) {
      await Promise.all(streams.flatMap((s) => range(100).map(() => publisher.publish(s, payload))));
    }
    const held = await metric(broker, 'felix_subscriber_transport_backlog_bytes');
    // Without the connection's window each would hold its own 64 KiB: 8 × 64 KiB.
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(window + 8 * 16 * 1024);
    expect(await metric(broker, 'felix_subscriber_queue_depth_events')).toBeGreaterThan(0);
    // Reading again, every subscription gets every event, in order: the waiting ones were woken.
    await Promise.all(
      subs.map(async (sub) => {
        let next = 0;
        for await (const event of sub) {
          expect(event.offset).toBe(next++);
          if (next === perStream) break;
        }
        expect(sub.missed).toBe(0);
      }),
    );
  });

  it('ends a subscription the broker evicts with subscription_evicted', async () => {
    const sub = await stalledSubscriber({ subQueuePolicy: 'drop_new', slowSubMaxDrops: 10 });
    const error = await (async () => {
      try {
        for await (const _event of sub) {
          // consume until the subscription ends
        }
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'subscription_evicted' });
    expect((error as FelixError).message).toMatch(/evicted/);
    expect(await sub.closed).toBe(error);
  });

  it('an eviction counts none of the drops before it; resuming from nextOffset shows what was lost', async () => {
    let broker: BrokerNode | undefined;
    const sub = await stalledSubscriber({ subQueuePolicy: 'drop_new', slowSubMaxDrops: 10 }, async (b) => {
      broker = b;
    });
    let read = 0;
    const ended = await (async () => {
      try {
        for await (const _event of sub) read++;
      } catch (e) {
        return e as FelixError;
      }
      return undefined;
    })();
    expect(ended?.code).toBe('subscription_evicted');
    // What the broker dropped before it gave up on the subscriber is in no gap: the error ends it first.
    expect([sub.missed, sub.gaps]).toEqual([0, 0]);
    const from = sub.nextOffset;
    expect(from).toBe(read);
    // Resumed from nextOffset: the stream replays what it still retains, and refuses what it does not, with
    // the oldest offset it has; from there the events come with no gap. Every event is accounted for.
    const again = await client(broker!);
    const refused = await again.subscribe('firehose', { start: { offset: from } }).then(
      () => undefined,
      (e: unknown) => e as FelixError,
    );
    expect(refused).toMatchObject({ code: 'cursor_too_old', requested: from });
    const resumed = await again.subscribe('firehose', { start: { offset: refused!.available! } });
    const rest = await take(resumed, 5000 - refused!.available!);
    expect(rest.map((e) => e.offset)).toEqual(range(5000).slice(refused!.available!));
    expect(read + (refused!.available! - from) + rest.length).toBe(5000);
  });

  it('close() delivers unacknowledged publishes handed to connections still opening (slots connect on first use)', async () => {
    const broker = await startBroker();
    const c = await client(broker, { pubConnPool: 4, pubStreamsPerConn: 2 });
    // Sixteen streams spread over the eight publish workers, most on connections not yet opened.
    const streams = range(16).map((i) => `lazy-${i}`);
    for (const stream of streams) void c.publish(stream, `only-${stream}`, { ack: 'none' });
    await c.close();
    const reader = await client(broker);
    for (const stream of streams) {
      const sub = await reader.subscribe(stream, { start: 'earliest' });
      const [event] = await take(sub, 1);
      expect(Buffer.from(event!.payload).toString()).toBe(`only-${stream}`);
    }
  });

  it('unsubscribes: the iterator finishes and later events are not delivered', async () => {
    const broker = await startBroker();
    const c = await client(broker);
    const sub = await c.subscribe('stop');
    await c.publish('stop', 'one');
    expect(text(await take(sub, 1))).toEqual(['one']);
    await sub.unsubscribe();
    expect(await sub.closed).toBeUndefined();
    await c.publish('stop', 'two');
    expect(await take(sub, 1)).toEqual([]);
  });
});
