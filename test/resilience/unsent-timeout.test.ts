// A request that times out before it was sent (the broker is down, its connection is being sought) is
// rejected `timeout` with class `retry`: "nothing was applied; sending it again is safe". So it must never
// go out later, once the connection is back: an application that resends it would otherwise publish every
// message twice, and a cache write it was told never happened would land over newer ones.
import { describe, expect, it } from 'vitest';
import type { FelixError } from '../../client/index.js';
import { client, QUICK_RECONNECT, RestartableBroker } from './harness.js';

describe('a request that timed out unsent during an outage', () => {
  it('is never sent after the reconnect: publishes, batches and cache writes', async () => {
    const broker = await RestartableBroker.start();
    const c = await client(broker.address, {
      ...QUICK_RECONNECT,
      pubStreamsPerConn: 1,
      cacheConnPool: 1,
      requestTimeoutMs: 1_000,
    });
    await c.publish('unsent', 'warm');
    await c.cache.put('default', 'c', 'k', 'before');

    await broker.kill('SIGTERM');
    // Issued while nothing listens: every one is queued, and times out unsent.
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 8 }, (_, i) => c.publish('unsent', `lost-${i}`)),
      c.publishBatch('unsent', [Buffer.from('batch-a'), Buffer.from('batch-b')]),
      c.cache.put('default', 'c', 'k', 'written-during-outage'),
      c.cache.delete('default', 'c', 'gone'),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as FelixError;
      expect([error.code, error.retry]).toEqual(['timeout', 'retry']);
      expect(error.message).toContain('not sent within');
    }

    await broker.startAgain();
    await c.cache.put('default', 'c', 'gone', 'kept');
    await c.publish('unsent', 'after');
    // The restarted broker's stream holds what reached it: only the publish made after the restart.
    const sub = await c.subscribe('unsent', { start: 'earliest' });
    const seen: string[] = [];
    for await (const event of sub) {
      seen.push(Buffer.from(event.payload).toString());
      if (seen.at(-1) === 'after') break;
    }
    expect(seen).toEqual(['after']);
    // Nothing the outage queued reached the cache either: no put over the key, no delete of the new one.
    expect(await c.cache.get('default', 'c', 'k')).toBeUndefined();
    expect(Buffer.from((await c.cache.get('default', 'c', 'gone'))!).toString()).toBe('kept');
    await broker.kill('SIGTERM');
  }, 60_000);
});
