// An SDK event connection whose subscriptions have all ended carries no stream. When the broker restarts
// it is not reopened (a connection that authenticates no stream is closed by a broker with
// FELIX_AUTH_TIMEOUT_MS, so reopening it would loop): it waits, silently, for the next subscription.
import { describe, expect, it } from 'vitest';
import {
  client,
  eventually,
  followsDocumentedOrder,
  QUICK_RECONNECT,
  RestartableBroker,
  Timeline,
} from './harness.js';

describe('an idle event connection across a broker restart', () => {
  it('is not reopened until a subscription needs it, and then serves it', async () => {
    const broker = await RestartableBroker.start();
    const timeline = new Timeline();
    const c = await client(broker.address, QUICK_RECONNECT);
    timeline.follow(c);
    const first = await c.subscribe('idle');
    await first.unsubscribe();

    await broker.kill('SIGTERM');
    await broker.startAgain();
    await eventually(
      () => timeline.statuses('publish', 0).some((e) => e.type === 'reconnect'),
      'the publish connection back',
    );
    await c.publish('idle', 'after the restart');
    const again = await c.subscribe('idle', { start: 'earliest' });
    for await (const event of again) {
      expect(Buffer.from(event.payload).toString()).toBe('after the restart');
      break;
    }
    // The publish connection, which had work, went through the documented episode; the idle one none.
    const publish = timeline.statuses('publish', 0);
    expect(publish.at(-1)?.type).toBe('reconnect');
    expect(followsDocumentedOrder(publish)).toBe(true);
    expect(timeline.statuses('event')).toEqual([]);
  });
});
