// Issue 12 (b): the broker process is SIGKILLed and started again on the same port. The SDK reconnects,
// resubscribes, and reports the history the restart lost as a gap in the stream's new epoch — in that
// order, which is what is asserted (never a duration).
import { describe, expect, it } from 'vitest';
import { RestartableBroker, Timeline, client, eventually, followsDocumentedOrder } from './harness.js';

// A SIGKILLed broker sends nothing, and until QUIC stateless reset exists (issue 12 item 2, transport work
// to come) a client learns that its connection is gone only from the idle timeout. A short one on the
// client (QUIC takes the smaller of the two sides' values) keeps this test short; keep-alives hold quiet
// connections open meanwhile.
const NOTICE_KILL_QUICKLY = { idleTimeoutMs: 1_500, keepaliveMs: 300 } as const;

describe('SIGKILL and a restart on the same port', () => {
  it('reconnects, resubscribes, and reports the lost history as a gap with the new epoch', async () => {
    const broker = await RestartableBroker.start();
    const timeline = new Timeline();
    const c = await client(broker.address, {
      ...NOTICE_KILL_QUICKLY,
      connectTimeoutMs: 2_000,
      reconnectInitialMs: 50,
      reconnectMaxMs: 500,
      pubConnPool: 1,
      eventConnPool: 1,
    });
    timeline.follow(c);
    const sub = await c.subscribe('kill', {
      start: 'earliest',
      onEvent: timeline.onEvent,
      onGap: timeline.onGap,
    });
    for (let i = 0; i < 5; i++) await c.publish('kill', `before-${i}`);
    await eventually(() => timeline.delivered.length === 5, 'the events published before the kill');
    const firstEpoch = sub.epoch;
    expect(firstEpoch).toBeGreaterThan(0);

    await broker.kill('SIGKILL');
    await broker.startAgain();

    // publish() waits through the reconnect; these land in the new broker's new stream.
    for (let i = 0; i < 3; i++) await c.publish('kill', `after-${i}`);
    await eventually(() => timeline.delivered.length === 8, 'the events published after the restart');

    expect(timeline.delivered).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => `before-${i}`),
      ...[0, 1, 2].map((i) => `after-${i}`),
    ]);
    // The event connection: lost (idle timeout), attempts, back — in that order.
    const events = timeline.statuses('event', 0);
    expect(followsDocumentedOrder(events)).toBe(true);
    expect(events.map((e) => e.type)).toContain('reconnect');
    const lost = events[0]!;
    expect(lost.type === 'disconnect' && lost.error.code).toBe('connection_closed');
    // The gap: after the reconnect, before the first event of the new epoch, of unknown size.
    const gaps = timeline.gaps();
    expect(gaps).toHaveLength(1);
    const [{ gap, before, index }] = gaps as [(typeof gaps)[number]];
    const reconnected = timeline.indexOf((e) => e.pool === 'event' && e.type === 'reconnect');
    expect(reconnected).toBeGreaterThanOrEqual(0);
    expect(index).toBeGreaterThan(reconnected);
    expect(before).toBe(5);
    expect(gap).toMatchObject({ expected: 5, offset: 0, missed: undefined, epochChanged: true });
    expect(gap.epoch).toBe(sub.epoch);
    expect(sub.epoch).not.toBe(firstEpoch);
    const firstAfter = timeline.entries.find(
      (e) => e.kind === 'event' && Buffer.from(e.event.payload).toString() === 'after-0',
    );
    expect(firstAfter?.kind === 'event' && [firstAfter.event.gap, firstAfter.event.epochChanged]).toEqual([
      Number.POSITIVE_INFINITY,
      true,
    ]);
    expect(sub.isClosed).toBe(false);
  }, 60_000);
});
