// Issue 12 (b): the broker process is SIGKILLed and started again on the same port. The SDK reconnects,
// resubscribes, and reports the history the restart lost as a gap in the stream's new epoch — in that
// order, which is what is asserted (never a duration).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MACHINE_ID_FILES } from '../../broker/reset-key.js';
import {
  client,
  eventually,
  followsDocumentedOrder,
  QUICK_RECONNECT,
  RestartableBroker,
  Timeline,
} from './harness.js';

// A SIGKILLed broker sends nothing. The restarted one, given the same FELIX_RESET_KEY, answers the old
// connections' packets with a QUIC stateless reset, so the client learns at once — not at its idle timeout,
// which is set long here: were no reset recognised, the disconnect would say "idle timeout" and this test
// would fail on it. Keep-alives make the client send soon after the restart even when it has nothing to say.
const RESET_KEY = 'a1'.repeat(32);
const LONG_IDLE = { idleTimeoutMs: 30_000, keepaliveMs: 300 } as const;

// The quick start configures no key: the broker derives one from the host's machine id. Without one (a
// container with no /etc/machine-id) the key is random per run and that case cannot be shown here.
const MACHINE_ID = MACHINE_ID_FILES.find((path) => {
  try {
    return /^[0-9a-f]{32}$/.test(readFileSync(path, 'utf8').trim());
  } catch {
    return false;
  }
});
const KEY_SOURCES = [
  { source: 'FELIX_RESET_KEY', env: { FELIX_RESET_KEY: RESET_KEY }, skip: null },
  {
    source: 'no key configured (derived from the machine id)',
    env: {},
    skip: MACHINE_ID === undefined ? `this host has no machine id (${MACHINE_ID_FILES.join(', ')})` : null,
  },
] as const;

describe.each(KEY_SOURCES)('SIGKILL and a restart on the same port, $source', ({ env, skip }) => {
  it('reconnects, resubscribes, and reports the lost history as a gap with the new epoch', async (context) => {
    if (skip !== null) {
      console.warn(`skipped: ${skip}`);
      context.skip();
    }
    const broker = await RestartableBroker.start(env);
    const timeline = new Timeline();
    const c = await client(broker.address, {
      ...LONG_IDLE,
      ...QUICK_RECONNECT,
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
    // The event connection: lost (to the restarted broker's stateless reset), attempts, back — in that order.
    const events = timeline.statuses('event', 0);
    expect(followsDocumentedOrder(events)).toBe(true);
    expect(events.map((e) => e.type)).toContain('reconnect');
    const lost = events[0]!;
    expect(lost.type === 'disconnect' && lost.error.code).toBe('connection_closed');
    expect(lost.type === 'disconnect' && lost.error.message).toMatch(/stateless reset/);
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
