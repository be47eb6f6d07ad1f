// When the broker does not come back within FELIX_RECONNECT_ATTEMPTS, the client gives up: status
// `error` after the attempts (on every connection still reconnecting, each with its own error), everything
// outstanding rejects with connection_closed, `closed` resolves with the error and the status iteration
// ends. Until then nothing is rejected.
import { describe, expect, it } from 'vitest';
import { FelixError } from '../../client/index.js';
import { RestartableBroker, Timeline, client, eventually, followsDocumentedOrder } from './harness.js';

/**
 * Attempts that run out in a few seconds; one publish connection and stream. A stopped broker answers
 * nothing, so an attempt fails only when its handshake's bound runs out. That bound is thus how long a test
 * has to act in the outage before the client gives up (to publish into it, or to start the cache
 * connection's first try and see it fail: its endpoint is created before the bound starts), and it also
 * bounds each handshake and auth with the live broker before the outage. A loaded machine outlasted 300 ms
 * in each of these places; 2 s is ample.
 */
const GIVES_UP_FAST = {
  connectTimeoutMs: 2_000,
  reconnectInitialMs: 20,
  reconnectMaxMs: 50,
  pubConnPool: 1,
  pubStreamsPerConn: 1,
} as const;

/**
 * SIGTERM: the broker closes the connections itself, so the client knows at once (no idle timeout). Returns
 * once the publish connection's first reconnect attempt is under way.
 */
async function stopBroker(broker: RestartableBroker, timeline: Timeline): Promise<void> {
  await broker.kill('SIGTERM');
  await eventually(
    () => timeline.statuses('publish', 0).some((e) => e.type === 'reconnecting'),
    'the first reconnect attempt',
  );
}

describe('reconnect attempts run out', () => {
  it('closes the client with connection_closed after the documented events', async () => {
    const broker = await RestartableBroker.start();
    const timeline = new Timeline();
    const c = await client(broker.address, { ...GIVES_UP_FAST, reconnectAttempts: 2, eventConnPool: 1 });
    timeline.follow(c);
    const sub = await c.subscribe('gone', { onEvent: timeline.onEvent });
    await c.publish('gone', 'before');

    await stopBroker(broker, timeline);
    const outcome = c.publish('gone', 'after').then(
      () => null,
      (error: unknown) => error,
    );
    const closedWith = await c.closed;

    expect(closedWith).toBeInstanceOf(FelixError);
    expect(closedWith?.code).toBe('connection_closed');
    expect(closedWith?.message).toMatch(/gave up after 2 reconnect attempts/);
    const rejected = await outcome;
    expect(rejected).toBeInstanceOf(FelixError);
    expect((rejected as FelixError).code).toBe('connection_closed');
    // Issued while the connection was being sought, it was never sent: sending it again is safe.
    expect((rejected as FelixError).retry).toBe('retry');
    expect(c.isClosed).toBe(true);
    expect(sub.isClosed).toBe(true);
    expect((await sub.closed)?.code).toBe('connection_closed');

    // The connection whose attempts ran out ends its events with `error`, and so does the other, which
    // was still reconnecting when the client gave up: every connection's episode is complete.
    const errors = timeline.statuses().filter((e) => e.type === 'error');
    expect(errors.map((e) => e.pool).sort()).toEqual(['event', 'publish']);
    const [failed, other] = errors as [(typeof errors)[0], (typeof errors)[0]];
    expect(failed.error).toBe(closedWith);
    // The other's error is its own: its connection, its attempts, and why its latest attempt failed (or
    // why it was lost), as its cause; not a copy of the first one's.
    expect(other.error.code).toBe('connection_closed');
    expect(other.error.message).toMatch(
      new RegExp(`^${other.pool} connection 0: gave up after \\d+ reconnect attempts?, with the client \\(`),
    );
    expect(other.error.message).not.toContain(`${failed.pool} connection`);
    expect(other.error.cause).toBeInstanceOf(FelixError);
    expect((other.error.cause as FelixError).message).toContain(`${other.pool} connection 0`);
    expect(other.error.message).toContain((other.error.cause as FelixError).message);
    expect(timeline.statuses(failed.pool, 0).map((e) => e.type)).toEqual([
      'draining',
      'disconnect',
      'reconnecting',
      'reconnecting',
      'error',
    ]);
    for (const pool of ['publish', 'event']) {
      expect(followsDocumentedOrder(timeline.statuses(pool, 0)), pool).toBe(true);
    }
    // The iteration ended with the client: nothing more after the error.
    const after = c.status();
    expect(await after.next()).toEqual({ value: undefined, done: true });
  }, 30_000);

  it("fails a cache request that waited through the outage with its cache connection's own error", async () => {
    const broker = await RestartableBroker.start();
    const timeline = new Timeline();
    const c = await client(broker.address, {
      ...GIVES_UP_FAST,
      reconnectAttempts: 2,
      cacheConnPool: 1,
      cacheStreamsPerConn: 1,
    });
    timeline.follow(c);
    await c.publish('s', 'x');

    await stopBroker(broker, timeline);
    // The cache connection is first opened now, in the outage: it tries, then reconnects, and is still at
    // it when the publish connection's attempts run out and the client gives up.
    const read = c.cache.get('default', 'c', 'k').then(
      () => null,
      (e: unknown) => e as FelixError,
    );
    const closedWith = await c.closed;
    expect(closedWith?.message).toMatch(/^publish connection 0: gave up after 2 reconnect attempts/);

    const error = await read;
    expect(error).toBeInstanceOf(FelixError);
    expect(error?.code).toBe('connection_closed');
    // Never sent: safe to send again.
    expect(error?.retry).toBe('retry');
    expect(error?.message).toMatch(
      /^cache connection 0: gave up after \d+ reconnect attempts?, with the client/,
    );
    expect(error?.message).toContain('cannot open cache connection 0');
    expect(error?.message).not.toContain('publish connection');
    // The status events end the cache connection's episode with the same error.
    const cacheError = timeline.statuses('cache', 0).find((e) => e.type === 'error');
    expect(cacheError?.type === 'error' && cacheError.error.message).toBe(error?.message);
  }, 30_000);

  it('rejects what is on a connection that has not noticed with an error naming that connection', async () => {
    const broker = await RestartableBroker.start();
    const c = await client(broker.address, {
      ...GIVES_UP_FAST,
      reconnectAttempts: 1,
      eventConnPool: 2,
      cacheConnPool: 1,
      cacheStreamsPerConn: 1,
      cacheStreamMaxInflight: 1,
    });
    // On event connection 0, which will not notice either.
    const sub = await c.subscribe('s', { onEvent: () => undefined });
    await c.publish('s', 'x');
    await c.cache.put('default', 'c', 'k', 'v');

    // kill -9: the publish, cache and first event connections do not notice (no close, the idle timeout is
    // far off).
    await broker.kill('SIGKILL');
    const settle = (p: Promise<unknown>): Promise<FelixError> =>
      p.then(
        () => {
          throw new Error('expected a rejection');
        },
        (e: unknown) => e as FelixError,
      );
    const published = settle(c.publish('s', 'y'));
    const read = settle(c.cache.get('default', 'c', 'k'));
    // The only cache stream holds its one request in flight (cacheStreamMaxInflight): this one waits.
    const waiting = settle(c.cache.get('default', 'c', 'k2'));
    // A subscription on event connection 1, not opened yet: its connect fails and the client gives up.
    const subscribed = settle(c.subscribe('s2', { onEvent: () => undefined }));
    const closedWith = await c.closed;

    expect(closedWith?.message).toMatch(/^event connection 1: gave up after 1 reconnect attempt /);
    for (const [outcome, connection] of [
      [await published, 'publish connection 0'],
      [await read, 'cache connection 0'],
    ] as const) {
      // Sent and never answered: named for the connection it was on, the client's error as the cause, and
      // what was sent may have been applied.
      expect(outcome).toBeInstanceOf(FelixError);
      expect(outcome.code).toBe('connection_closed');
      expect(outcome.message).toBe(`${connection}: closed as the client gave up: ${closedWith?.message}`);
      expect(outcome.cause).toBe(closedWith);
      expect(outcome.retry).toBe('outcome_unknown');
    }
    // On no connection yet: it says so, and that sending it again is safe.
    const unsent = await waiting;
    expect(unsent.message).toBe(`cache request waiting for a free cache stream: ${closedWith?.message}`);
    expect(unsent.retry).toBe('retry');
    expect((await sub.closed)?.message).toBe(
      `event connection 0: closed as the client gave up: ${closedWith?.message}`,
    );
    expect((await subscribed).code).toBe('connection_closed');
    // Never sent (its connection never opened): safe to send again.
    expect((await subscribed).retry).toBe('retry');
  }, 30_000);

  it('classes a request timeout as outcome unknown', async () => {
    const broker = await RestartableBroker.start();
    // The frozen broker never answers `y`, which fails after this bound; it is ample for the live broker's
    // answer to `x` on a loaded machine.
    const c = await client(broker.address, { requestTimeoutMs: 2_000, pubConnPool: 1, pubStreamsPerConn: 1 });
    await c.publish('s', 'x');
    broker.signal('SIGSTOP');
    try {
      const error = await c.publish('s', 'y').then(
        () => null,
        (e: unknown) => e as FelixError,
      );
      expect(error?.code).toBe('timeout');
      expect(error?.retry).toBe('outcome_unknown');
    } finally {
      broker.signal('SIGCONT');
    }
  }, 30_000);
});

describe('close() while reconnecting', () => {
  it('ends the client as a close: closed resolves undefined and no error status, work waiting fails', async () => {
    const broker = await RestartableBroker.start();
    const timeline = new Timeline();
    // Unlimited attempts (the default), slow enough that close() comes during the backoff.
    const c = await client(broker.address, {
      ...GIVES_UP_FAST,
      reconnectInitialMs: 3000,
      reconnectMaxMs: 5000,
      eventConnPool: 2,
    });
    timeline.follow(c);
    const sub = await c.subscribe('gone', { onEvent: timeline.onEvent });
    await c.publish('gone', 'before');

    await stopBroker(broker, timeline);
    await eventually(
      () => timeline.statuses('event', 0).some((e) => e.type === 'reconnecting'),
      'the event connection reconnecting',
    );
    const waiting = c.publish('gone', 'during').then(
      () => null,
      (e: unknown) => e as FelixError,
    );
    // On event connection 1, whose first connection is being opened when close() comes.
    const subscribing = c.subscribe('later', { onEvent: () => undefined }).then(
      () => null,
      (e: unknown) => e as FelixError,
    );
    await c.close();

    expect(await c.closed).toBeUndefined();
    expect(await sub.closed).toBeUndefined();
    const failed = await waiting;
    expect(failed?.code).toBe('connection_closed');
    expect(failed?.message).toContain('the client closed while reconnecting');
    const unsubscribed = await subscribing;
    expect([unsubscribed?.code, unsubscribed?.retry]).toEqual(['connection_closed', 'retry']);
    expect(unsubscribed?.message).toContain('event connection 1: the client closed while it was connecting');
    // No attempts ran out: no connection reports `error`.
    expect(timeline.statuses().filter((e) => e.type === 'error')).toEqual([]);
  }, 30_000);
});
