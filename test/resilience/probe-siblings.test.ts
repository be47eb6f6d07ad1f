// After a kill -9 and a restart with the same FELIX_RESET_KEY, a client's publishing connection learns of it
// from its next packet; its subscription's connection, which only receives, would learn only at its next
// keep-alive — while the publishers, back already, publish what it would then miss. The SDK probes the
// client's other connections when one is lost, so the subscription resumes with its publishers. The
// keep-alive here is longer than the test waits: only the probe can bring the subscription back.
import { describe, expect, it } from 'vitest';
import { client, eventually, QUICK_RECONNECT, RestartableBroker, Timeline } from './harness.js';

const RESET_KEY = 'b2'.repeat(32);

describe('a restart seen by one connection', () => {
  it('brings back the subscription of a client whose publisher noticed, before any keep-alive', async () => {
    const broker = await RestartableBroker.start({ FELIX_RESET_KEY: RESET_KEY });
    const timeline = new Timeline();
    const c = await client(broker.address, {
      idleTimeoutMs: 300_000,
      keepaliveMs: 120_000,
      ...QUICK_RECONNECT,
    });
    timeline.follow(c);
    await c.subscribe('probe', { start: 'earliest', onEvent: timeline.onEvent, onGap: timeline.onGap });
    await c.publish('probe', 'before');
    await eventually(() => timeline.delivered.length === 1, 'the event published before the kill');

    await broker.kill('SIGKILL');
    await broker.startAgain();
    // The publish connection's next packet meets the new broker's stateless reset; it reconnects and publishes.
    await c.publish('probe', 'after');
    await eventually(() => timeline.delivered.length === 2, 'the subscription to resume and get the event');
    expect(timeline.delivered).toEqual(['before', 'after']);
    const lost = timeline.statuses('event', 0)[0];
    expect(lost?.type === 'disconnect' && lost.error.message).toMatch(/stateless reset/);
  }, 60_000);
});
