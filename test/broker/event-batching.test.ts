// When a stream's batch is cut: at the end of the turn its events arrived in, unless every subscriber is
// backlogged; then never later than its first event + FELIX_EVENT_BATCH_MAX_DELAY_US, whatever keeps
// arriving. The Topic tests give the clock explicitly (Topic.endOfTurn's `now`), so they assert on frames
// and their contents, never on how long anything took.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { Broker } from '../../broker/core/broker.js';
import type { EventFrame } from '../../broker/core/event-frame.js';
import type { EventOutput } from '../../broker/core/ports.js';
import { BudgetAccount, ConnectionBudget, PublishBudget } from '../../broker/core/publish-budget.js';
import { TenantShares } from '../../broker/core/tenant-shares.js';
import { BrokerStats } from '../../broker/core/stats.js';
import { Subscription, type SubscriptionLimits } from '../../broker/core/subscription.js';
import { Topic, type BatchingOptions } from '../../broker/core/topic.js';
import {
  decodeEventBatch,
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_EVENT_BATCH_OFFSETS,
  HEADER_BYTES,
} from '../../wire/index.js';

/** A subscriber's output that keeps every frame and says it is backlogged while `backlogBytes` > 0. */
class RecordingOutput implements EventOutput {
  backlogBytes = 0;
  onDrain: (() => void) | null = null;
  readonly frames: { firstOffset: number; events: string[] }[] = [];
  write(frame: EventFrame): void {
    const batch = decodeEventBatch(
      FLAG_BINARY_EVENT_BATCH_SHARED | FLAG_EVENT_BATCH_OFFSETS,
      frame.bytes.subarray(HEADER_BYTES),
    );
    this.frames.push({
      firstOffset: frame.firstOffset,
      events: batch.payloads.map((p) => Buffer.from(p).toString()),
    });
  }
  finish(): void {}
  abort(): void {}
}

const LIMITS: SubscriptionLimits = {
  queueCapacity: 1 << 20,
  policy: 'drop_new',
  maxDrops: 0,
  maxFullMs: 0,
  writeAheadBytes: 1 << 30,
};

function subscribe(topic: Topic, id: number): RecordingOutput {
  const output = new RecordingOutput();
  topic.addSubscriber(new Subscription(id, topic, output, LIMITS, new BrokerStats(), () => undefined));
  return output;
}

const DELAY_MS = 1000;

function makeTopic(batching: Partial<BatchingOptions> = {}): Topic {
  return new Topic(
    't1',
    'ns',
    's',
    10_000,
    { maxEvents: 64, maxBytes: 64 * 1024, maxDelayMs: DELAY_MS, ...batching },
    new BrokerStats(),
    () => undefined,
    new PublishBudget(1 << 30, 1 << 30, 1 << 30, new TenantShares()),
    null,
  );
}

const account = new BudgetAccount(new ConnectionBudget(), new TenantShares().acquire('t1'));
function publish(topic: Topic, ...events: string[]): void {
  for (const e of events) topic.publish(Buffer.from(e), account);
}

describe('Topic batching', () => {
  it('cuts a lone event at the end of its turn when a subscriber is idle, however long the delay', () => {
    const topic = makeTopic();
    const out = subscribe(topic, 1);
    publish(topic, 'a');
    expect(topic.endOfTurn(performance.now(), false)).toBe(-1);
    expect(out.frames).toEqual([{ firstOffset: 0, events: ['a'] }]);
  });

  it('while every subscriber is backlogged, holds the batch and cuts it by its first event’s deadline, whatever keeps arriving', () => {
    const topic = makeTopic();
    const out = subscribe(topic, 1);
    out.backlogBytes = 1;
    const before = performance.now();
    publish(topic, 'e0');
    const after = performance.now();
    // The first event's deadline is fixed when it arrives; later arrivals never move it.
    const deadline = topic.endOfTurn(after, false);
    expect(deadline).toBeGreaterThanOrEqual(before + DELAY_MS);
    expect(deadline).toBeLessThanOrEqual(after + DELAY_MS);
    publish(topic, 'e1');
    expect(topic.endOfTurn(before + DELAY_MS / 2, false)).toBe(deadline);
    publish(topic, 'e2', 'e3');
    expect(topic.endOfTurn(deadline - 0.001, false)).toBe(deadline);
    expect(out.frames).toEqual([]);
    // Events keep arriving every turn: the batch is cut at the first turn that ends past the deadline.
    publish(topic, 'e4');
    expect(topic.endOfTurn(deadline, false)).toBe(-1);
    expect(out.frames).toEqual([{ firstOffset: 0, events: ['e0', 'e1', 'e2', 'e3', 'e4'] }]);
    // The next batch's deadline counts from its own first event.
    publish(topic, 'e5');
    const next = topic.endOfTurn(deadline, false);
    expect(next).toBeGreaterThan(deadline);
    publish(topic, 'e6');
    expect(topic.endOfTurn(next, false)).toBe(-1);
    expect(out.frames[1]).toEqual({ firstOffset: 5, events: ['e5', 'e6'] });
  });

  it('cuts a held batch once a subscriber is no longer backlogged', () => {
    const topic = makeTopic();
    const out = subscribe(topic, 1);
    out.backlogBytes = 1;
    publish(topic, 'a');
    const deadline = topic.endOfTurn(performance.now(), false);
    expect(deadline).toBeGreaterThan(0);
    publish(topic, 'b');
    out.backlogBytes = 0;
    expect(topic.endOfTurn(deadline - DELAY_MS / 2, false)).toBe(-1);
    expect(out.frames).toEqual([{ firstOffset: 0, events: ['a', 'b'] }]);
  });

  it('does not hold for one idle subscriber among backlogged ones', () => {
    const topic = makeTopic();
    const busy = subscribe(topic, 1);
    const idle = subscribe(topic, 2);
    busy.backlogBytes = 1;
    publish(topic, 'x');
    expect(topic.endOfTurn(performance.now(), false)).toBe(-1);
    expect(idle.frames).toEqual([{ firstOffset: 0, events: ['x'] }]);
    expect(busy.frames).toEqual(idle.frames);
  });

  it('cuts the tail of a burst that filled a batch in the same turn, backlogged or not', () => {
    const topic = makeTopic({ maxEvents: 3 });
    const out = subscribe(topic, 1);
    out.backlogBytes = 1;
    publish(topic, 'a', 'b', 'c', 'd');
    expect(out.frames).toEqual([{ firstOffset: 0, events: ['a', 'b', 'c'] }]);
    expect(topic.endOfTurn(performance.now(), false)).toBe(-1);
    expect(out.frames[1]).toEqual({ firstOffset: 3, events: ['d'] });
    // A later turn's batch is held again (nothing was cut in it).
    publish(topic, 'e');
    expect(topic.endOfTurn(performance.now(), false)).toBeGreaterThan(0);
    expect(out.frames).toHaveLength(2);
  });

  it('never holds without a delay, and cuts everything when forced', () => {
    const none = makeTopic({ maxDelayMs: 0 });
    const a = subscribe(none, 1);
    a.backlogBytes = 1;
    publish(none, 'a');
    expect(none.endOfTurn(performance.now(), false)).toBe(-1);
    expect(a.frames).toHaveLength(1);
    const held = makeTopic();
    const b = subscribe(held, 1);
    b.backlogBytes = 1;
    publish(held, 'b');
    expect(held.endOfTurn(performance.now(), false)).toBeGreaterThan(0);
    expect(held.endOfTurn(performance.now(), true)).toBe(-1);
    expect(b.frames).toEqual([{ firstOffset: 0, events: ['b'] }]);
  });
});

describe('Broker flush scheduling', () => {
  function broker(delayUs: number): Broker {
    const { config } = loadBrokerConfig({ env: { FELIX_EVENT_BATCH_MAX_DELAY_US: String(delayUs) } });
    return new Broker(config, pino({ level: 'silent' }));
  }

  function topicOf(b: Broker): Topic {
    const found = b.registry.topic('t1', 'ns', 's');
    if (!found.ok) throw new Error(found.message);
    return found.value;
  }

  it('delivers a lone event in the turn it arrived in, before the longest delay could pass', async () => {
    const b = broker(1_000_000);
    const topic = topicOf(b);
    const out = subscribe(topic, 1);
    publish(topic, 'lone');
    // The broker's end-of-turn flush is queued with process.nextTick; an immediate runs after it and long
    // before a 1 s timer could.
    await new Promise((r) => setImmediate(r));
    expect(out.frames).toEqual([{ firstOffset: 0, events: ['lone'] }]);
  });

  it('cuts a held batch by its deadline timer when nothing else arrives', async () => {
    // 50 ms: the check right after the publish must come before the deadline even on a loaded host (at
    // 2 ms a GC pause or a busy CI machine let the timer fire first, and the test failed once).
    const b = broker(50_000);
    const topic = topicOf(b);
    const out = subscribe(topic, 1);
    out.backlogBytes = 1;
    publish(topic, 'a', 'b');
    await new Promise((r) => setImmediate(r));
    expect(out.frames).toEqual([]);
    for (let i = 0; i < 1000 && out.frames.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(out.frames).toEqual([{ firstOffset: 0, events: ['a', 'b'] }]);
  });

  it('flushAll cuts held batches at once (shutdown)', async () => {
    const b = broker(1_000_000);
    const topic = topicOf(b);
    const out = subscribe(topic, 1);
    out.backlogBytes = 1;
    publish(topic, 'a');
    await new Promise((r) => setImmediate(r));
    expect(out.frames).toEqual([]);
    b.flushAll();
    expect(out.frames).toEqual([{ firstOffset: 0, events: ['a'] }]);
    b.stop();
  });
});
