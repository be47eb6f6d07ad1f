import { describe, expect, it } from 'vitest';
import {
  FEATURE_ERROR_CODES,
  WireError,
  encodeBinaryPublishBatch,
  type BinaryEventBatch,
  type DecodedFrame,
} from '../../wire/index.js';
import type { BrokerNode } from '../../broker/node.js';
import { RawStream, connectRaw, eventStreams, startBroker, until } from './raw-client.js';

const TOTAL = 1500;

function offsetsOf(stream: RawStream): number[] {
  const out: number[] = [];
  for (const f of stream.frames) {
    if (f instanceof WireError || f.type !== 'binary_event_batch') continue;
    const b = f as BinaryEventBatch;
    for (let i = 0; i < b.payloads.length; i++) out.push(b.base_offset! + i);
  }
  return out;
}

/** Events missing between consecutive offsets: what a subscriber sees as gaps. */
function gapTotal(offsets: number[]): number {
  let missing = 0;
  for (let i = 1; i < offsets.length; i++) missing += offsets[i]! - offsets[i - 1]! - 1;
  return missing;
}

async function subscribe(
  node: BrokerNode,
  id: number,
  windowBytes: number,
  auth: Record<string, unknown> = {},
): Promise<RawStream> {
  const conn = await connectRaw(node, { streamRecvWindow: windowBytes });
  const byId = eventStreams(conn);
  const control = await RawStream.open(conn, auth);
  control.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 'hot', subscription_id: id });
  await control.next();
  await until(() => byId.has(id), 'event stream');
  return byId.get(id)!;
}

async function publish(node: BrokerNode, count: number): Promise<RawStream> {
  const conn = await connectRaw(node);
  const pub = await RawStream.open(conn);
  const payload = Buffer.alloc(1024, 1);
  for (let i = 0; i < count; i++) {
    pub.write(
      encodeBinaryPublishBatch({ tenant_id: 't1', namespace: 'ns', stream: 'hot', payloads: [payload] }),
    );
  }
  return pub;
}

/**
 * Publishes in waves a subscriber that reads can keep up with (each wave fits its queue and write-ahead),
 * waiting for `keepingUp` to receive each wave: the fast subscriber is fast, the stalled one is not.
 */
async function publishInWaves(
  node: BrokerNode,
  keepingUp: RawStream,
  total: number,
  wave: number,
): Promise<void> {
  for (let sent = 0; sent < total; sent += wave) {
    await publish(node, Math.min(wave, total - sent));
    await until(
      () => offsetsOf(keepingUp).length >= Math.min(sent + wave, total),
      'a wave to reach the fast subscriber',
    );
  }
}

// Small windows make a stall visible after a few dozen events instead of hundreds of megabytes. The
// bound of 64 events counts what the transport holds too (at most 16 KiB of it here); these tests stall a
// subscriber for as long as they need, so the slow-consumer disconnect (on by default) is off.
const SMALL = {
  FELIX_SUB_QUEUE_CAPACITY: '64',
  FELIX_FANOUT_BATCH: '1',
  FELIX_EVENT_SEND_WINDOW: '16384',
  FELIX_SLOW_SUB_MAX_FULL_MS: '0',
  FELIX_SLOW_SUB_MAX_DROPS: '0',
};

describe.each(['drop_new', 'drop_old'] as const)(
  'queue policy %s with a stalled and a fast subscriber',
  (policy) => {
    it('delivers everything to the fast one, drops for the stalled one, and the gaps match the counters', async () => {
      const node = await startBroker({ FELIX_SUB_QUEUE_POLICY: policy, ...SMALL });
      const stalled = await subscribe(node, 1, 16 * 1024);
      stalled.stream.pause();
      const fast = await subscribe(node, 2, 16 << 20);
      await publishInWaves(node, fast, TOTAL, 50);
      // The fast subscriber gets every event while the stalled one is still stalled.
      await until(() => offsetsOf(fast).length === TOTAL, 'the fast subscriber to get everything');
      expect(offsetsOf(fast)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
      const dropped = node.stats.drops[policy];
      expect(dropped).toBeGreaterThan(0);

      stalled.stream.resume();
      // One more event after the stall makes a trailing drop visible as a gap too.
      await publish(node, 1);
      await until(() => offsetsOf(stalled).at(-1) === TOTAL, 'the stalled subscriber to catch up');
      const seen = offsetsOf(stalled);
      expect(new Set(seen).size).toBe(seen.length);
      expect(gapTotal(seen)).toBe(dropped);
      expect(seen.length + dropped).toBe(TOTAL + 1);
      if (policy === 'drop_old') {
        // The newest events survived: the queue's share of the bound of 64 (what the transport's 16 KiB
        // does not hold) is intact before the final one.
        expect(seen.slice(-33, -1)).toEqual(Array.from({ length: 32 }, (_, i) => TOTAL - 32 + i));
      } else {
        // The oldest survived: delivery is contiguous from 0 up to where the queue filled.
        expect(seen.slice(0, 64)).toEqual(Array.from({ length: 64 }, (_, i) => i));
      }
    });
  },
);

describe('drop notice (feature DROP_NOTICE)', () => {
  it("tells a subscriber that offered it of drop_new's tail drops after its last event, and no other", async () => {
    const node = await startBroker({ FELIX_SUB_QUEUE_POLICY: 'drop_new', ...SMALL });
    const told = await subscribe(node, 1, 16 * 1024);
    const notTold = await subscribe(node, 2, 16 * 1024, { client_features: FEATURE_ERROR_CODES });
    told.stream.pause();
    notTold.stream.pause();
    await publish(node, TOTAL);
    await until(() => node.stats.publishedMessages === TOTAL, 'every publish accepted');
    told.stream.resume();
    notTold.stream.resume();
    const notices = (s: RawStream): DecodedFrame[] =>
      s.frames.filter((f): f is DecodedFrame => !(f instanceof WireError) && f.type === 'events_dropped');
    await until(() => notices(told).length === 1, 'the drop notice');
    const seen = offsetsOf(told);
    // After every event it did get, the notice names the last offset dropped and how many were dropped
    // since the last event it got (drop_new keeps the oldest: the tail after it went).
    const tail = TOTAL - 1 - seen.at(-1)!;
    expect(tail).toBeGreaterThan(0);
    expect(told.frames.at(-1)).toEqual({ type: 'events_dropped', through_offset: TOTAL - 1, events: tail });
    // Every offset is an event it got, a gap an event showed, or the notice's tail.
    expect(seen[0]).toBe(0);
    expect(seen.length + gapTotal(seen) + tail).toBe(TOTAL);
    // The other subscriber's stream carries events only: it did not offer the feature.
    await until(() => offsetsOf(notTold).length === seen.length, 'the other subscriber to catch up');
    expect(notices(notTold)).toEqual([]);
    // An event after the drops follows with the gap its offset shows; no second notice.
    await publish(node, 1);
    await until(() => offsetsOf(told).at(-1) === TOTAL, 'the next event');
    expect(notices(told)).toHaveLength(1);
  });
});

describe('queue policy block', () => {
  it('holds the publisher back instead of dropping; every event reaches both subscribers', async () => {
    const node = await startBroker({ FELIX_SUB_QUEUE_POLICY: 'block', ...SMALL });
    const stalled = await subscribe(node, 1, 16 * 1024);
    stalled.stream.pause();
    const fast = await subscribe(node, 2, 16 << 20);
    await publish(node, TOTAL);
    await until(() => node.stats.publishedMessages > 0, 'publishing to start');
    // The publisher is paused well before everything is accepted.
    await new Promise((r) => setTimeout(r, 200));
    expect(node.stats.publishedMessages).toBeLessThan(TOTAL);
    stalled.stream.resume();
    await until(() => offsetsOf(stalled).length === TOTAL && offsetsOf(fast).length === TOTAL, 'all events');
    expect(offsetsOf(stalled)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect(node.stats.drops.block).toBe(0);
  });
});

describe('slow subscriber eviction', () => {
  it('disconnects a subscriber past the drop threshold with a reason, and keeps serving others', async () => {
    const node = await startBroker({
      ...SMALL,
      FELIX_SUB_QUEUE_POLICY: 'drop_new',
      FELIX_SLOW_SUB_MAX_DROPS: '100',
    });
    const conn = await connectRaw(node, { streamRecvWindow: 16 * 1024 });
    const byId = eventStreams(conn);
    const control = await RawStream.open(conn);
    control.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 'hot', subscription_id: 9 });
    await control.next();
    await until(() => byId.has(9), 'event stream');
    byId.get(9)!.stream.pause();
    const fast = await subscribe(node, 2, 16 << 20);
    await publishInWaves(node, fast, TOTAL, 50);
    // Coded as every coded error is (protocol.md, Errors): code, retry class, detail.
    expect(await control.next()).toEqual({
      type: 'error',
      message: expect.stringMatching(/^subscription 9 evicted: slow subscriber \(slow_consumer\): /),
      code: 'limit_exceeded',
      retry: 'retry_after',
      detail: { reason: 'slow_consumer' },
    });
    await until(() => offsetsOf(fast).length === TOTAL, 'the other subscriber to get everything');
    expect(node.stats.disconnects.slow_consumer).toBe(1);
  });
});
