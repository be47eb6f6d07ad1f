// drop_old on a real broker process: a subscriber that stops reading holds at most FELIX_SUB_QUEUE_CAPACITY
// events at the broker (queued plus in the transport), and once it reads again it gets a few of the oldest
// — what the transport had taken — then the newest, with the drops as one gap. Before, drop_old's queue
// kept moving into the transport, which held ~20k events where the bound was 500, and served them oldest
// first.
import { describe, expect, it } from 'vitest';
import { counters, publisherOf, stalledSubscriber, startBroker } from './fixture.js';

const CAPACITY = 500;
const TOTAL = 20_000;
const BATCH = 100;

async function gauge(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

describe('drop_old at its bound', () => {
  it('holds FELIX_SUB_QUEUE_CAPACITY events for a stalled subscriber and serves the newest when it reads again', async () => {
    const broker = await startBroker({
      FELIX_SUB_QUEUE_POLICY: 'drop_old',
      FELIX_SUB_QUEUE_CAPACITY: String(CAPACITY),
      // No eviction: the subscriber lives to read again.
      FELIX_SLOW_SUB_MAX_DROPS: '0',
      FELIX_SLOW_SUB_MAX_FULL_MS: '0',
    });
    const stalled = await stalledSubscriber(broker, 'g');
    const publisher = await publisherOf(broker);
    const payload = Buffer.alloc(200, 7);
    for (let i = 0; i < TOTAL; i += BATCH) {
      await publisher.publishBatch(
        'g',
        Array.from({ length: BATCH }, () => payload),
      );
    }
    const queued = await gauge(broker.httpPort, 'felix_subscriber_queue_depth_events');
    const inTransport = await gauge(broker.httpPort, 'felix_subscriber_transport_backlog_events');
    const drops = (await counters(broker)).drops.drop_old ?? 0;
    console.log(
      `drop_old, bound ${CAPACITY}: ${queued} queued, ${inTransport} in the transport, ${drops} dropped`,
    );
    // One batch frame may go past the bound (the newest is always kept).
    expect(queued + inTransport).toBeLessThanOrEqual(CAPACITY + BATCH);
    expect(inTransport).toBeLessThanOrEqual(CAPACITY / 4 + BATCH);

    // It reads again: what reached the client before it stopped, what the transport held, then the newest.
    const offsets: number[] = [];
    const reading = stalled[Symbol.asyncIterator]();
    while (offsets.at(-1) !== TOTAL - 1) {
      const next = await reading.next();
      if (next.done === true) throw new Error('the subscription ended');
      offsets.push(next.value.offset);
    }
    const newest = offsets.filter((o) => o >= TOTAL - CAPACITY);
    const older = offsets.filter((o) => o < TOTAL - CAPACITY);
    // Most of what it gets is the newest; of the oldest, only what was already on its way.
    expect(newest.length).toBeGreaterThanOrEqual((CAPACITY * 3) / 4 - BATCH);
    expect(older.length).toBeLessThan(TOTAL / 4);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(stalled.missed).toBe(TOTAL - offsets.length);
  }, 60_000);
});
