// Issue 12 (c): the broker process is frozen (SIGSTOP) past the client's idle timeout, then thawed
// (SIGCONT). The client gives the connections up, reconnects to the same broker once it answers again,
// resubscribes in the same epoch with nothing lost, and publishes that were in flight are sent again and
// suppressed where the broker had them already: every acked message once, in order.
import { describe, expect, it } from 'vitest';
import { RestartableBroker, Timeline, client, eventually, followsDocumentedOrder } from './harness.js';

const IDLE_TIMEOUT_MS = 1_500;

describe('SIGSTOP past the idle timeout, then SIGCONT', () => {
  it('recovers: reconnects, resumes the subscription in the same epoch, delivers every acked message once', async () => {
    const broker = await RestartableBroker.start();
    const timeline = new Timeline();
    const c = await client(broker.address, {
      // A frozen broker answers nothing: the client learns it only from its idle timeout, kept short here.
      idleTimeoutMs: IDLE_TIMEOUT_MS,
      keepaliveMs: 300,
      connectTimeoutMs: 1_000,
      reconnectInitialMs: 50,
      reconnectMaxMs: 500,
      pubConnPool: 1,
      pubStreamsPerConn: 1,
      eventConnPool: 1,
    });
    timeline.follow(c);
    const sub = await c.subscribe('frozen', {
      start: 'earliest',
      onEvent: timeline.onEvent,
      onGap: timeline.onGap,
    });
    for (let i = 0; i < 5; i++) await c.publish('frozen', `m${i}`);
    await eventually(() => timeline.delivered.length === 5, 'the events published before the freeze');
    const epoch = sub.epoch;

    // Publishes caught by the freeze: some may have reached the broker, acks or not.
    const inFlight = [5, 6, 7].map((i) => c.publish('frozen', `m${i}`));
    broker.signal('SIGSTOP');
    try {
      await eventually(
        () => timeline.statuses('event', 0).some((e) => e.type === 'reconnecting'),
        'the client to give the frozen connection up',
      );
      // Published while the broker is unreachable: they wait for the reconnect.
      inFlight.push(...[8, 9].map((i) => c.publish('frozen', `m${i}`)));
    } finally {
      broker.signal('SIGCONT');
    }
    await Promise.all(inFlight);
    await eventually(() => timeline.delivered.length >= 10, 'every acked event');
    // A sentinel proves nothing else is still on its way.
    await c.publish('frozen', 'end');
    await eventually(() => timeline.delivered.includes('end'), 'the sentinel');

    expect(timeline.delivered).toEqual([...Array.from({ length: 10 }, (_, i) => `m${i}`), 'end']);
    expect(timeline.gaps()).toEqual([]);
    expect(sub.epoch).toBe(epoch);
    for (const pool of ['publish', 'event']) {
      const events = timeline.statuses(pool, 0);
      expect(followsDocumentedOrder(events), `${pool}: ${events.map((e) => e.type).join(' ')}`).toBe(true);
      expect(events.at(-1)?.type).toBe('reconnect');
      const lost = events[0];
      expect(lost?.type === 'disconnect' && lost.error.message).toMatch(/idle timeout/);
    }
  }, 60_000);
});
