// A broker restarted with a smaller FELIX_MAX_FRAME_BYTES announces it at the reconnected streams' auth:
// from then on the client never sends a frame above it. A request that no longer fits fails at once with
// payload_too_large (fatal) — whether issued after the reconnect or queued during the outage — instead of
// being refused by the broker with an error naming no request and waiting for its timeout.
import { describe, expect, it } from 'vitest';
import type { FelixClient, FelixError } from '../../client/index.js';
import { spawnBroker } from '../e2e/broker-process.js';
import { QUICK_RECONNECT, RestartableBroker, Timeline, client, eventually } from './harness.js';

const SMALL = { FELIX_MAX_FRAME_BYTES: String(256 * 1024), FELIX_CACHE_MAX_VALUE_BYTES: String(128 * 1024) };
// Long enough that a request waiting for it fails the test's assertions, not just its clock.
const OPTIONS = {
  ...QUICK_RECONNECT,
  requestTimeoutMs: 15_000,
  pubStreamsPerConn: 1,
  cacheConnPool: 1,
  cacheStreamsPerConn: 1,
};

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (error) {
    const e = error as FelixError;
    return `${e.code}/${e.brokerCode ?? '-'}/${e.retry ?? '-'}`;
  }
}

/** What a client gets for a 300 KiB publish, a 300 KiB cache put and a small publish. */
async function tryAll(c: FelixClient): Promise<string[]> {
  const big = Buffer.alloc(300 * 1024, 7);
  return Promise.all([
    outcome(c.publish('s', big)),
    outcome(c.cache.put('default', 'c', 'k', big)),
    outcome(c.publish('s', 'small')),
  ]);
}

describe('a broker restarted with smaller frames', () => {
  it('gets from a reconnected client what a new client sends it', async () => {
    const broker = await RestartableBroker.start();
    const timeline = new Timeline();
    const old = await client(broker.address, OPTIONS);
    timeline.follow(old);
    await old.publish('s', 'hello');
    await old.cache.put('default', 'c', 'k', 'v');

    // SIGTERM: the connections close at once, and the client seeks new ones.
    await broker.kill('SIGTERM');
    await eventually(() => timeline.statuses('cache', 0).some((e) => e.type === 'disconnect'), 'disconnect');
    // Queued during the outage, encoded for the old broker's frames.
    const queued = [
      outcome(old.cache.put('default', 'c', 'q', Buffer.alloc(300 * 1024, 1))),
      outcome(old.publish('s', Buffer.alloc(300 * 1024, 2))),
    ];
    broker.current = await spawnBroker({ ...SMALL, FELIX_QUIC_BIND: broker.address });

    const fresh = await client(broker.address, OPTIONS);
    const expected = await tryAll(fresh);

    // Nothing above the new limit was sent: both fail at once as too large, not after a timeout.
    expect(await Promise.all(queued)).toEqual(['payload_too_large/-/fatal', 'payload_too_large/-/fatal']);
    await old.publish('s', 'after the restart');
    expect(await tryAll(old)).toEqual(expected);
    expect(await tryAll(old)).toEqual(expected);
    expect(expected[1]).toBe('payload_too_large/-/fatal');
    expect(expected[2]).toBe('resolved');
  }, 60_000);
});
