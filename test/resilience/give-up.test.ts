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
});
