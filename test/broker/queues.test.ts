import { describe, expect, it } from 'vitest';
import { StreamLog } from '../../broker/core/stream-log.js';
import { SubscriberQueue } from '../../broker/core/subscriber-queue.js';
import type { EventFrame } from '../../broker/core/event-frame.js';

function frames(log: StreamLog, sizes: number[]): EventFrame[] {
  return sizes.map((count) => {
    const f = {
      bytes: Buffer.alloc(0),
      firstOffset: log.reserve(count),
      count,
      timing: null,
      messages: null,
    };
    log.append(f);
    return f;
  });
}

describe('StreamLog (replay ring)', () => {
  it('replays from earliest, from an offset inside a frame, and from the tail', () => {
    const log = new StreamLog(100);
    const fs = frames(log, [3, 3, 3]); // offsets 0..8
    expect(log.oldest).toBe(0);
    expect(log.next).toBe(9);
    const mid = log.replayFrom(4);
    expect(mid.ok && mid.frames).toEqual([fs[1], fs[2]]);
    const tail = log.replayFrom(9);
    expect(tail.ok && tail.frames).toEqual([]);
  });

  it('evicts whole frames beyond capacity and reports too_old and in_future', () => {
    const log = new StreamLog(5);
    frames(log, [2, 2, 2, 2]); // offsets 0..7; the last 5 are 3..7, and 3 shares a frame with 2
    expect(log.oldest).toBe(2);
    expect(log.replayFrom(1)).toMatchObject({ ok: false, error: 'too_old', oldest: 2, next: 8 });
    expect(log.replayFrom(9)).toMatchObject({ ok: false, error: 'in_future', oldest: 2, next: 8 });
    expect(log.replayFrom(3).ok).toBe(true);
  });

  it('always holds the last capacity events, whatever the frame sizes (never fewer, at most a frame more)', () => {
    for (const capacity of [1, 5, 64, 1024]) {
      const log = new StreamLog(capacity);
      let seed = capacity;
      for (let i = 0; i < 500; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const count = 1 + (seed % 80);
        const first = log.reserve(count);
        log.append({ bytes: Buffer.alloc(0), firstOffset: first, count, timing: null, messages: null });
        const held = log.next - log.oldest;
        expect(held).toBeGreaterThanOrEqual(Math.min(capacity, log.next));
        const r = log.replayFrom(log.oldest);
        expect(r.ok).toBe(true);
        const frames = r.ok ? r.frames : [];
        // Evicting the oldest frame would have left fewer than the capacity.
        expect(held - frames[0]!.count).toBeLessThan(capacity);
      }
    }
  });

  it('past its byte bound drops the oldest frames however few events remain, keeping the newest always', () => {
    const log = new StreamLog(1024, 3 * 1024);
    const append = (bytes: number): void =>
      log.append({
        bytes: Buffer.alloc(bytes),
        firstOffset: log.reserve(1),
        count: 1,
        timing: null,
        messages: null,
      });
    for (let i = 0; i < 10; i++) append(1024); // offsets 0..9, 1 KiB each: the last three fit
    expect(log.oldest).toBe(7);
    append(10 * 1024); // larger than the bound alone: it stays, alone
    expect(log.oldest).toBe(10);
    expect(log.replayFrom(10)).toMatchObject({ ok: true });
    expect(log.replayFrom(9)).toMatchObject({ ok: false, error: 'too_old', oldest: 10 });
  });

  it('keeps nothing at capacity 0', () => {
    const log = new StreamLog(0);
    frames(log, [3, 1]);
    expect(log.oldest).toBe(log.next);
  });
});

describe('SubscriberQueue policies', () => {
  const frame = (firstOffset: number, count = 1): EventFrame => ({
    bytes: Buffer.alloc(0),
    firstOffset,
    count,
    timing: null,
    messages: null,
  });

  it('drop_new drops the incoming frame when full and counts it', () => {
    const q = new SubscriberQueue(2, 'drop_new');
    q.enqueue(frame(0), 0);
    q.enqueue(frame(1), 0);
    expect(q.enqueue(frame(2), 0)).toEqual({ dropped: 1, full: true });
    expect(q.droppedTotal).toBe(1);
    expect(q.peek()!.firstOffset).toBe(0);
  });

  it('drop_old really drops the oldest queued frames and keeps the newest', () => {
    const q = new SubscriberQueue(2, 'drop_old');
    q.enqueue(frame(0), 0);
    q.enqueue(frame(1), 0);
    expect(q.enqueue(frame(2), 0).dropped).toBe(1);
    const kept: number[] = [];
    for (let f = q.peek(); f !== undefined; f = q.peek()) {
      kept.push(f.firstOffset);
      q.shift();
    }
    expect(kept).toEqual([1, 2]);
    expect(q.droppedTotal).toBe(1);
  });

  it('block keeps everything and reports full so the producer holds back', () => {
    const q = new SubscriberQueue(2, 'block');
    q.enqueue(frame(0), 0);
    expect(q.enqueue(frame(1), 0).full).toBe(true);
    expect(q.enqueue(frame(2), 0)).toEqual({ dropped: 0, full: true });
    expect(q.depth).toBe(3);
    expect(q.droppedTotal).toBe(0);
  });

  it('tracks drops since catching up and when it became full, reset once back under half the bound', () => {
    const q = new SubscriberQueue(1, 'drop_new');
    q.enqueue(frame(0), 10);
    q.enqueue(frame(1), 20);
    q.enqueue(frame(2), 30);
    expect(q.dropsSinceProgress).toBe(2);
    expect(q.fullSince).toBe(10);
    q.shift();
    // The frame went on to the transport, which still holds it: not caught up yet.
    q.settle(1, 0);
    expect(q.dropsSinceProgress).toBe(2);
    q.settle(0, 0);
    expect(q.dropsSinceProgress).toBe(0);
    expect(q.fullSince).toBe(-1);
  });
});
