// The per-subscription bound counts what the transport still holds for the subscriber, not only its queue:
// driven through Subscription with an output whose backlog the test controls (nothing reaches QUIC until
// the test says so), so no QUIC window can hide a stall.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { Broker } from '../../broker/core/broker.js';
import type { EventFrame } from '../../broker/core/event-frame.js';
import type { EventOutput } from '../../broker/core/ports.js';
import { BrokerStats } from '../../broker/core/stats.js';
import {
  STALLED_AFTER_MS,
  STALLED_WRITE_AHEAD,
  Subscription,
  type SubscriptionLimits,
} from '../../broker/core/subscription.js';
import type { QueuePolicy } from '../../broker/core/subscriber-queue.js';
import type { Topic } from '../../broker/core/topic.js';

/** A transport that keeps every byte written until drain() passes it on. */
class HeldOutput implements EventOutput {
  backlogBytes = 0;
  onDrain: (() => void) | null = null;
  readonly written: number[] = [];

  write(frame: EventFrame): void {
    this.backlogBytes += frame.bytes.length;
    this.written.push(frame.firstOffset);
  }

  drain(bytes = this.backlogBytes): void {
    this.backlogBytes -= bytes;
    this.onDrain?.();
  }

  finish(): void {}
  abort(): void {}
}

/**
 * HeldOutput with the transport's drain rule: onDrain fires only for a writer that went past the
 * high-water mark (or was past a mark narrowed under it), once the backlog is back within it.
 */
class WindowedOutput extends HeldOutput {
  private mark: number;
  private drainWanted = false;

  constructor(private readonly writeAhead: number) {
    super();
    this.mark = writeAhead;
  }

  get waitingBytes(): number {
    return this.backlogBytes;
  }

  override write(frame: EventFrame): void {
    super.write(frame);
    if (this.backlogBytes > this.mark) this.drainWanted = true;
  }

  narrowWriteAhead(bytes: number | null): void {
    this.mark = bytes ?? this.writeAhead;
    if (this.backlogBytes > this.mark) this.drainWanted = true;
  }

  override drain(bytes = this.backlogBytes): void {
    this.backlogBytes -= bytes;
    if (!this.drainWanted || this.backlogBytes > this.mark) return;
    this.drainWanted = false;
    this.onDrain?.();
  }
}

class FakeTopic {
  readonly log = { next: 0 };
  blockedBy = 0;
  block(sub: Subscription): void {
    sub.blocking = true;
    this.blockedBy++;
  }
  unblock(sub: Subscription): void {
    sub.blocking = false;
    this.blockedBy--;
  }
  removeSubscriber(): void {}
}

let nextOffset = 0;
const frame = (bytes: number, count = 1): EventFrame => {
  const f = { bytes: Buffer.alloc(bytes), firstOffset: nextOffset, count, timing: null, messages: null };
  nextOffset += count;
  return f;
};

function subscription(policy: QueuePolicy, limits: Partial<SubscriptionLimits>, maxBytes: number) {
  nextOffset = 0;
  const output = new HeldOutput();
  const topic = new FakeTopic();
  const stats = new BrokerStats();
  const evicted: string[] = [];
  const sub = new Subscription(
    1,
    topic as unknown as Topic,
    output,
    {
      queueCapacity: 1000,
      policy,
      maxDrops: 0,
      maxFullMs: 0,
      writeAheadBytes: 1 << 30,
      ...limits,
    },
    stats,
    (_s, reason) => evicted.push(reason),
  );
  sub.limitBytes(maxBytes);
  return { sub, output, topic, stats, evicted };
}

/** drop_old at 40 events: a transport share of 10. */
const DROP_OLD_40: Partial<SubscriptionLimits> = { queueCapacity: 40, policy: 'drop_old' };

/** A Subscription on `output`, bytes unbounded (1 GiB): only the limits the test names apply. */
function subscriptionOn(output: EventOutput, limits: Partial<SubscriptionLimits>): Subscription {
  nextOffset = 0;
  const sub = new Subscription(
    1,
    new FakeTopic() as unknown as Topic,
    output,
    {
      queueCapacity: 1000,
      policy: 'drop_new',
      maxDrops: 0,
      maxFullMs: 0,
      writeAheadBytes: 1 << 20,
      ...limits,
    },
    new BrokerStats(),
    () => {},
  );
  sub.limitBytes(1 << 30);
  return sub;
}

describe('the per-subscription bound', () => {
  it('counts the bytes the transport holds: drop_new drops once queue and transport hold the byte bound', () => {
    // 4000 bytes in all, a quarter of it (1000) handed to the transport ahead.
    const { sub, output, stats } = subscription('drop_new', {}, 4000);
    for (let i = 0; i < 100; i++) sub.offer(frame(100), 0);
    expect(output.backlogBytes + sub.queue.bytes).toBe(4000);
    expect(output.backlogBytes).toBeLessThanOrEqual(1000 + 100);
    expect(stats.drops.drop_new).toBe(60);
    // The transport passes everything on: the queue moves up, and room opens for new events.
    output.drain();
    sub.offer(frame(100), 0);
    expect(stats.drops.drop_new).toBe(60);
  });

  it('counts the events the transport holds against FELIX_SUB_QUEUE_CAPACITY', () => {
    const { sub, output, stats } = subscription('drop_new', { queueCapacity: 20 }, 1 << 20);
    for (let i = 0; i < 50; i++) sub.offer(frame(10), 0);
    expect(sub.eventsInTransport + sub.queue.depth).toBe(20);
    expect(stats.drops.drop_new).toBe(30);
    output.drain();
    expect(sub.eventsInTransport).toBe(0);
  });

  it('drop_old keeps the newest events in the queue', () => {
    const { sub, output, stats } = subscription('drop_old', {}, 4000);
    for (let i = 0; i < 100; i++) sub.offer(frame(100), 0);
    expect(stats.drops.drop_old).toBe(60);
    output.drain();
    output.drain();
    output.drain();
    // What the transport took first, then the 29 newest.
    expect(output.written.slice(-29)).toEqual(Array.from({ length: 29 }, (_, i) => 71 + i));
  });

  it('drop_old holds at most FELIX_SUB_QUEUE_CAPACITY events, a quarter of them in the transport, and keeps the newest', () => {
    // Bytes unbounded: only the event bound applies. Before, every queued frame moved on into the transport
    // (nothing there can be dropped), which grew past the bound and kept the oldest events.
    const { sub, output, stats } = subscription('drop_old', { queueCapacity: 20 }, 1 << 30);
    for (let i = 0; i < 50; i++) sub.offer(frame(10), 0);
    expect(sub.eventsInTransport).toBe(5);
    expect(sub.eventsInTransport + sub.queue.depth).toBeLessThanOrEqual(21);
    expect(stats.drops.drop_old).toBe(50 - (sub.eventsInTransport + sub.queue.depth));
    // The reader catches up: the five oldest the transport held, then the newest.
    while (output.backlogBytes > 0 || sub.queue.depth > 0) output.drain();
    const newest = output.written.slice(5);
    expect(output.written.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(newest.at(-1)).toBe(49);
    expect(newest).toEqual(Array.from({ length: newest.length }, (_, i) => 50 - newest.length + i));
  });

  it('drop_old held at its transport share is woken by the transport passing its oldest frame on', () => {
    const output = new WindowedOutput(1 << 20);
    const sub = subscriptionOn(output, DROP_OLD_40);
    // 10 events fill the transport's share (far under its byte mark: no write asked for a drain); 20 wait.
    for (let i = 0; i < 30; i++) sub.offer(frame(100), 0);
    expect(output.written).toHaveLength(10);
    expect(sub.queue.depth).toBe(20);
    // The transport passes its oldest frame on: with no offer and no sweep, the queue moves up by one.
    output.drain(100);
    expect(output.written).toHaveLength(11);
    while (output.backlogBytes > 0) output.drain(100);
    expect(output.written).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(sub.queue.depth).toBe(0);
  });

  it('drop_old held by bytes gathered for this turn’s send looks again after the turn, as no drain follows', async () => {
    // Everything written waits for the turn's send (nothing refused yet), and its leaving fires no drain.
    class GatheredOutput extends HeldOutput {
      readonly waitingBytes = 0;
      narrowWriteAhead(): void {}
      override drain(bytes = this.backlogBytes): void {
        this.backlogBytes -= bytes;
      }
    }
    const output = new GatheredOutput();
    const sub = subscriptionOn(output, DROP_OLD_40);
    for (let i = 0; i < 30; i++) sub.offer(frame(100), 0);
    expect(output.written).toHaveLength(10);
    output.drain(); // the turn's send took it all
    await new Promise((r) => setImmediate(r));
    expect(output.written).toHaveLength(20);
  });

  it('disconnects a subscriber at its bound for FELIX_SLOW_SUB_MAX_FULL_MS as a slow consumer', () => {
    const { sub, stats, evicted } = subscription('drop_new', { maxFullMs: 2000 }, 4000);
    for (let i = 0; i < 50; i++) sub.offer(frame(100), 10);
    sub.checkStall(1000);
    expect(evicted).toEqual([]);
    sub.checkStall(2010);
    expect(evicted).toHaveLength(1);
    expect(evicted[0]).toMatch(/slow_consumer/);
    expect(stats.slowConsumerDisconnects).toEqual({ max_drops: 0, max_full_ms: 1 });
  });

  it('forgives a subscriber that got back under half its bound, not one that only made a little room', () => {
    const { sub, output, evicted } = subscription('drop_new', { maxFullMs: 2000 }, 4000);
    for (let i = 0; i < 50; i++) sub.offer(frame(100), 10);
    // A little room: still slow.
    output.drain(200);
    sub.checkStall(1000);
    sub.offer(frame(100), 1500);
    sub.checkStall(2010);
    expect(evicted).toHaveLength(1);

    const caughtUp = subscription('drop_new', { maxFullMs: 2000 }, 4000);
    for (let i = 0; i < 50; i++) caughtUp.sub.offer(frame(100), 10);
    for (let i = 0; i < 4; i++) caughtUp.output.drain();
    caughtUp.sub.checkStall(1000);
    caughtUp.sub.checkStall(2010);
    expect(caughtUp.evicted).toEqual([]);
  });

  it('a subscriber whose transport passes nothing on for a while gets only a small write-ahead until it moves', () => {
    // 16 KiB frames, a 1 MiB write-ahead: while the transport moves, frames go to it up to the write-ahead.
    const { sub, output } = subscription('drop_new', { writeAheadBytes: 1 << 20 }, 1 << 30);
    const kib16 = 16 * 1024;
    for (let i = 0; i < 8; i++) sub.offer(frame(kib16), 0);
    expect(output.written).toHaveLength(8);
    output.drain(kib16); // progress
    sub.checkStall(100);
    sub.checkStall(100 + STALLED_AFTER_MS - 1);
    for (let i = 0; i < 8; i++) sub.offer(frame(kib16), 200);
    expect(output.written).toHaveLength(16); // not yet stalled
    // Nothing passed on for STALLED_AFTER_MS: stalled; the backlog (240 KiB) is over the small write-ahead,
    // so new frames wait in the queue (shared frames, a pointer each), not in the transport.
    sub.checkStall(100 + STALLED_AFTER_MS);
    for (let i = 0; i < 20; i++) sub.offer(frame(kib16), 1200);
    expect(output.written).toHaveLength(16);
    expect(sub.queue.depth).toBe(20);
    expect(output.backlogBytes).toBeGreaterThan(STALLED_WRITE_AHEAD);
    // The transport moves again: at the next look the queue goes on at once, the full write-ahead back.
    output.backlogBytes -= 200 * 1024;
    sub.checkStall(1300);
    expect(output.written).toHaveLength(36);
    expect(sub.queue.depth).toBe(0);

    // A subscription first looked at long after the clock's zero, with a backlog, is not stalled yet.
    const fresh = subscription('drop_new', { writeAheadBytes: 1 << 20 }, 1 << 30);
    for (let i = 0; i < 8; i++) fresh.sub.offer(frame(kib16), 50_000);
    fresh.sub.checkStall(50_000);
    fresh.sub.offer(frame(kib16), 50_000);
    expect(fresh.output.written).toHaveLength(9);
  });

  it('a stalled subscriber whose transport moves again is woken by its drain, not by the next sweep', () => {
    const kib16 = 16 * 1024;
    const output = new WindowedOutput(1 << 20);
    const sub = subscriptionOn(output, {
      queueCapacity: 1000,
      policy: 'drop_new',
      maxDrops: 0,
      maxFullMs: 0,
      writeAheadBytes: 1 << 20,
    });
    // 128 KiB in the transport, under its 1 MiB mark: no write asked for a drain.
    for (let i = 0; i < 8; i++) sub.offer(frame(kib16), 0);
    sub.checkStall(0);
    sub.checkStall(STALLED_AFTER_MS); // nothing passed on: stalled, over the small write-ahead
    for (let i = 0; i < 20; i++) sub.offer(frame(kib16), STALLED_AFTER_MS);
    expect(output.written).toHaveLength(8);
    // The peer reads again. With no sweep in between, the drain alone moves the queue on.
    output.drain();
    expect(output.written.length).toBeGreaterThan(8);
    while (output.backlogBytes > 0) output.drain();
    expect(output.written).toHaveLength(28);
    expect(sub.queue.depth).toBe(0);
  });

  it("a throw in the broker's sweep for one subscriber reaches its failure hook; the sweep goes on", async () => {
    const { config } = loadBrokerConfig({ env: {} });
    const broker = new Broker(config, pino({ level: 'silent' }));
    broker.start();
    try {
      const found = broker.registry.topic('t1', 'ns', 'swept');
      if (!found.ok) throw new Error(found.message);
      const limits = { ...broker.subscriptionLimits, maxFullMs: 1 };
      const make = (id: number, evict: () => void) => {
        const sub = new Subscription(id, found.value, new HeldOutput(), limits, broker.stats, evict);
        sub.limitBytes(4000);
        for (let i = 0; i < 60; i++) sub.offer(frame(100), performance.now());
        broker.subscriptionOpened(sub);
        return sub;
      };
      // A defect: the eviction the sweep starts throws. Its connection's hook hears it, not the process.
      const failures: unknown[] = [];
      const broken = make(1, () => {
        throw new Error('defect in eviction');
      });
      broken.onFailure = (err) => failures.push(err);
      const evicted: number[] = [];
      make(2, () => evicted.push(2));
      for (let i = 0; i < 400 && (failures.length === 0 || evicted.length === 0); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect((failures[0] as Error).message).toBe('defect in eviction');
      expect(evicted[0]).toBe(2);
    } finally {
      broker.stop();
    }
  });

  it('disconnects after FELIX_SLOW_SUB_MAX_DROPS drops without catching up', () => {
    const { sub, stats, evicted } = subscription('drop_new', { maxDrops: 10 }, 4000);
    for (let i = 0; i < 60 && evicted.length === 0; i++) sub.offer(frame(100), 0);
    expect(evicted[0]).toMatch(/slow_consumer.*10 events dropped/);
    expect(stats.slowConsumerDisconnects.max_drops).toBe(1);
  });

  it('block: holds the publishers at the bound, counting the transport, and lets them go once there is room', () => {
    const { sub, output, topic, stats } = subscription('block', {}, 4000);
    for (let i = 0; i < 40; i++) sub.offer(frame(100), 0);
    expect(topic.blockedBy).toBe(1);
    expect(stats.drops.block).toBe(0);
    output.drain();
    expect(topic.blockedBy).toBe(0);
  });
});
