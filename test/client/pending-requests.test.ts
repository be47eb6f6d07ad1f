import { describe, expect, it, vi } from 'vitest';
import { FelixError } from '../../client/errors.js';
import { PendingReply, PendingRequests } from '../../client/pending-requests.js';

function outcome<T>(promise: Promise<T>): { value?: T; error?: unknown; settled: boolean } {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: unknown) => Object.assign(state, { error, settled: true }),
  );
  return state;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('PendingRequests', () => {
  it('resolves each request by its own id when answers come out of order', async () => {
    const pending = new PendingRequests(60_000, 'test stream');
    const replies = [1, 2, 3, 4].map((id) => {
      const reply = new PendingReply<string>();
      pending.add(id, reply);
      return outcome(reply.promise);
    });
    for (const id of [3, 1, 4, 2]) pending.take(id)!.partDone(`answer ${id}`);
    await tick();
    expect(replies.map((r) => r.value)).toEqual(['answer 1', 'answer 2', 'answer 3', 'answer 4']);
    expect(pending.size).toBe(0);
    pending.dispose();
  });

  it('fails each request at its own timeout, not at a later sweep (on a simulated clock)', async () => {
    vi.useFakeTimers();
    try {
      const pending = new PendingRequests(1000, 'test stream');
      const first = new PendingReply<void>();
      const firstState = outcome(first.promise);
      pending.add(1, first);
      vi.advanceTimersByTime(400);
      const second = new PendingReply<void>();
      const secondState = outcome(second.promise);
      pending.add(2, second);
      vi.advanceTimersByTime(599); // 999 ms after the first
      await Promise.resolve();
      expect(firstState.settled).toBe(false);
      vi.advanceTimersByTime(1); // its timeout
      await Promise.resolve();
      expect((firstState.error as FelixError).code).toBe('timeout');
      expect(secondState.settled).toBe(false);
      vi.advanceTimersByTime(399); // 999 ms after the second
      await Promise.resolve();
      expect(secondState.settled).toBe(false);
      vi.advanceTimersByTime(1);
      await Promise.resolve();
      expect((secondState.error as FelixError).code).toBe('timeout');
      pending.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it('ignores an answer to an unknown (already timed out) id', () => {
    const pending = new PendingRequests(60_000, 'test stream');
    expect(pending.take(99)).toBeUndefined();
  });

  it('settles a multi-frame request after its last part, and rejects it on any failure', async () => {
    const pending = new PendingRequests(60_000, 'test stream');
    const whole = new PendingReply<void>(3);
    const state = outcome(whole.promise);
    pending.add(10, whole);
    pending.add(11, whole);
    pending.add(12, whole);
    pending.take(12)!.partDone(undefined);
    pending.take(10)!.partDone(undefined);
    await tick();
    expect(state.settled).toBe(false);
    pending.take(11)!.partDone(undefined);
    await tick();
    expect(state).toEqual({ settled: true, value: undefined });

    const failing = new PendingReply<void>(2);
    const failed = outcome(failing.promise);
    pending.add(20, failing);
    pending.add(21, failing);
    pending.take(20)!.fail(new FelixError('publish_rejected', 'no'));
    pending.take(21)!.partDone(undefined);
    await tick();
    expect((failed.error as FelixError).code).toBe('publish_rejected');
    pending.dispose();
  });

  it('times out only the requests past their deadline, oldest first, with a typed error', async () => {
    let now = 1000;
    const pending = new PendingRequests(500, 'publish stream 0', () => now);
    const early = new PendingReply<void>();
    const early2 = new PendingReply<void>();
    pending.add(1, early);
    pending.add(2, early2);
    now = 1200;
    const late = new PendingReply<void>();
    pending.add(3, late);
    const states = [early, early2, late].map((r) => outcome(r.promise));
    now = 1500;
    expect(pending.sweep()).toBe(2);
    await tick();
    expect(states.map((s) => (s.error as FelixError | undefined)?.code)).toEqual([
      'timeout',
      'timeout',
      undefined,
    ]);
    expect((states[0]!.error as FelixError).message).toContain('publish stream 0');
    expect(pending.size).toBe(1);
    now = 1700;
    expect(pending.sweep()).toBe(1);
    pending.dispose();
  });

  it('fails everything outstanding when the stream ends', async () => {
    const pending = new PendingRequests(60_000, 'test stream');
    const states = [1, 2].map((id) => {
      const reply = new PendingReply<void>();
      pending.add(id, reply);
      return outcome(reply.promise);
    });
    pending.failAll(new FelixError('connection_closed', 'gone'));
    await tick();
    expect(states.map((s) => (s.error as FelixError).code)).toEqual([
      'connection_closed',
      'connection_closed',
    ]);
    expect(pending.size).toBe(0);
  });
});
