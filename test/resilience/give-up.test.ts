// When the broker does not come back within FELIX_RECONNECT_ATTEMPTS, the client gives up: status
// `error` after the attempts, everything outstanding rejects with connection_closed, `closed` resolves with
// the error and the status iteration ends. Until then nothing is rejected.
import { describe, expect, it } from 'vitest';
import { FelixError } from '../../client/index.js';
import { RestartableBroker, Timeline, client, eventually, followsDocumentedOrder } from './harness.js';

describe('reconnect attempts run out', () => {
  it('closes the client with connection_closed after the documented events', async () => {
    const broker = await RestartableBroker.start();
    const timeline = new Timeline();
    const c = await client(broker.address, {
      connectTimeoutMs: 300,
      reconnectInitialMs: 20,
      reconnectMaxMs: 50,
      reconnectAttempts: 2,
      pubConnPool: 1,
      pubStreamsPerConn: 1,
      eventConnPool: 1,
    });
    timeline.follow(c);
    const sub = await c.subscribe('gone', { onEvent: timeline.onEvent });
    await c.publish('gone', 'before');

    // SIGTERM: the broker closes the connections itself, so the client knows at once (no idle timeout).
    await broker.kill('SIGTERM');
    await eventually(
      () => timeline.statuses('publish', 0).some((e) => e.type === 'reconnecting'),
      'the first reconnect attempt',
    );
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
    for (const e of errors) expect(e.error.message).toBe(closedWith?.message);
    const failed = errors[0]!;
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

  it('rejects requests in flight on a connection that has not noticed with the same error, outcome unknown', async () => {
    const broker = await RestartableBroker.start();
    const c = await client(broker.address, {
      connectTimeoutMs: 300,
      reconnectInitialMs: 20,
      reconnectMaxMs: 50,
      reconnectAttempts: 1,
      pubConnPool: 1,
      pubStreamsPerConn: 1,
      eventConnPool: 1,
      cacheConnPool: 1,
      cacheStreamsPerConn: 1,
    });
    await c.publish('s', 'x');
    await c.cache.put('default', 'c', 'k', 'v');

    // kill -9: the publish and cache connections do not notice (no close, the idle timeout is far off).
    await broker.kill('SIGKILL');
    const settle = (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => 'resolved',
        (e: unknown) => e,
      );
    const published = settle(c.publish('s', 'y'));
    const read = settle(c.cache.get('default', 'c', 'k'));
    // A subscription on the event connection, not opened yet: its connect fails and the client gives up.
    const subscribed = settle(c.subscribe('s2', { onEvent: () => undefined }));
    const closedWith = await c.closed;

    expect(closedWith?.code).toBe('connection_closed');
    for (const outcome of [await published, await read]) {
      // Sent and never answered: the client's error, and what was sent may have been applied.
      expect(outcome).toBeInstanceOf(FelixError);
      expect((outcome as FelixError).code).toBe('connection_closed');
      expect((outcome as FelixError).message).toBe(closedWith?.message);
      expect((outcome as FelixError).retry).toBe('outcome_unknown');
    }
    expect(((await subscribed) as FelixError).code).toBe('connection_closed');
  }, 30_000);

  it('classes a request timeout as outcome unknown', async () => {
    const broker = await RestartableBroker.start();
    const c = await client(broker.address, { requestTimeoutMs: 300, pubConnPool: 1, pubStreamsPerConn: 1 });
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
