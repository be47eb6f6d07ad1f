// The stop watch's timing rule alone (transport/stop-watch.ts), on fake connections and fake time: a look
// right after a read of a quiet connection, a read during the wait looked at once the wait is over, a
// wait that grows with the streams watched, and a handler's throw charged to its own connection.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  STOP_LOOK_MS_PER_STREAM,
  STOP_LOOK_TICK_MS,
  StopWatch,
  type StopWatched,
} from '../../transport/stop-watch.js';

class FakeConnection implements StopWatched {
  looks = 0;
  closed = false;
  stopLookWaiting = false;
  stopLookDueAt = 0;
  stopLookMissed = false;
  throwOnLook = false;
  constructor(public stopWatchCount: number) {}
  lookForStops(): void {
    this.looks++;
    if (this.throwOnLook) throw new Error('handler threw');
  }
}

describe('StopWatch', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('looks at once after a read, and after a read during the wait once the wait is over', () => {
    const failed: unknown[] = [];
    const watch = new StopWatch<FakeConnection>((_, e) => failed.push(e));
    const c = new FakeConnection(1);
    watch.afterRead(c);
    expect(c.looks).toBe(1);
    // Reads within the wait: no look now, one once it is over.
    watch.afterRead(c);
    watch.afterRead(c);
    expect(c.looks).toBe(1);
    vi.advanceTimersByTime(STOP_LOOK_TICK_MS);
    expect(c.looks).toBe(2);
    // No read during that wait: the next tick looks at nothing, and the next read looks at once.
    vi.advanceTimersByTime(STOP_LOOK_TICK_MS * 4);
    expect(c.looks).toBe(2);
    watch.afterRead(c);
    expect(c.looks).toBe(3);
    expect(failed).toEqual([]);
    watch.close();
  });

  it('costs nothing for a connection that watches no stream', () => {
    const watch = new StopWatch<FakeConnection>(() => undefined);
    const c = new FakeConnection(0);
    watch.afterRead(c);
    expect(c.looks).toBe(0);
    expect(c.stopLookWaiting).toBe(false);
  });

  it('waits longer between looks the more streams a connection watches', () => {
    const watch = new StopWatch<FakeConnection>(() => undefined);
    const many = new FakeConnection(10_000);
    watch.afterRead(many);
    watch.afterRead(many);
    const waitMs = 10_000 * STOP_LOOK_MS_PER_STREAM;
    vi.advanceTimersByTime(waitMs - STOP_LOOK_TICK_MS);
    expect(many.looks).toBe(1);
    vi.advanceTimersByTime(STOP_LOOK_TICK_MS * 2);
    expect(many.looks).toBe(2);
    watch.close();
  });

  it('hands a throwing look to the failure hook, and forgets a closed connection', () => {
    const failed: FakeConnection[] = [];
    const watch = new StopWatch<FakeConnection>((c) => failed.push(c));
    const bad = new FakeConnection(1);
    const gone = new FakeConnection(1);
    watch.afterRead(bad);
    watch.afterRead(gone);
    bad.throwOnLook = true;
    watch.afterRead(bad);
    watch.afterRead(gone);
    gone.closed = true;
    vi.advanceTimersByTime(STOP_LOOK_TICK_MS);
    expect(failed).toEqual([bad]);
    expect(gone.looks).toBe(1);
    expect(gone.stopLookWaiting).toBe(false);
    watch.close();
  });
});
