// A reconnect whose auth the broker refuses is a failed attempt, not a reconnect: the attempts keep
// counting (and backing off) until a stream authenticates, what waits keeps waiting for a connection that
// works, and FELIX_RECONNECT_ATTEMPTS ends them with the broker's refusal — a revoked credential must not
// make a client reconnect at attempt 1 forever.
import { describe, expect, it } from 'vitest';
import {
  connect,
  type ConnectOptions,
  type FelixClient,
  type FelixError,
  type StatusEvent,
} from '../../client/index.js';
import { until } from '../broker/raw-client.js';
import { cliMint } from '../cli/run-cli.js';
import { jwtBroker, T1_PERMS } from './jwt-broker.js';

/**
 * A broker with JWT auth, a token that lasts and one that expires in 3 s (the broker then closes its
 * connections): minted last, so that a slow machine still connects with it before it expires.
 */
async function authBroker() {
  const { key, broker } = await jwtBroker();
  const lasting = await cliMint(key, '--tenant', 't1', ...T1_PERMS, '--ttl', '1h');
  const shortLived = await cliMint(key, '--tenant', 't1', ...T1_PERMS, '--ttl', '3s');
  return { broker, shortLived, lasting };
}

const OPTIONS: ConnectOptions = {
  onWarning: () => {},
  pubConnPool: 1,
  pubStreamsPerConn: 1,
  eventConnPool: 1,
  reconnectInitialMs: 10,
  reconnectMaxMs: 40,
};

let bad = 0;
/** A token the broker refuses, new each time: a provider trying another, not repeating the refused one. */
function badToken(): string {
  return `not.a.token.${++bad}`;
}

function watch(client: FelixClient): { status: StatusEvent[]; done: Promise<void> } {
  const status: StatusEvent[] = [];
  const done = (async () => {
    for await (const e of client.status()) status.push(e);
  })();
  return { status, done };
}

describe('SDK reconnect with a refused token', () => {
  it('counts each refused auth as an attempt and gives up after FELIX_RECONNECT_ATTEMPTS with the refusal', async () => {
    const { broker, shortLived } = await authBroker();
    let asked = 0;
    const client = await connect({
      ...OPTIONS,
      broker,
      reconnectAttempts: 4,
      // The first token expires (the broker closes the connection); every later one is refused — each a
      // new token, so that the refusals are no repeat of the same credentials.
      tokenProvider: () => (asked++ === 0 ? shortLived : `not.a.token.${asked}`),
    });
    const { status, done } = watch(client);
    await client.publish('s', 'before');
    await until(() => status.some((e) => e.type === 'disconnect'), 'the token to expire', 10_000);
    // Sent during the outage: it waits for a connection that works, and fails only when the client gives up.
    const during = client.publish('s', 'during').then(
      () => undefined,
      (e: unknown) => e as { code: string },
    );
    const closedWith = await client.closed;
    const types = status.map((e) => e.type);
    console.log(`status after the token expired: ${types.join(' ')}; token asked ${asked} times`);
    // One episode: disconnect, four attempts, error — no `reconnect` for a connection whose auth failed.
    expect(types).toEqual([
      'disconnect',
      'reconnecting',
      'reconnecting',
      'reconnecting',
      'reconnecting',
      'error',
    ]);
    expect(status.flatMap((e) => (e.type === 'reconnecting' ? [e.attempt] : []))).toEqual([1, 2, 3, 4]);
    expect(asked).toBe(5);
    expect(closedWith?.code).toBe('connection_closed');
    expect(closedWith?.message).toContain('gave up after 4 reconnect attempts');
    expect(closedWith?.message).toContain('malformed');
    expect((await during)?.code).toBe('connection_closed');
    await client.close();
    await done;
  }, 40_000);

  it('keeps publishes and subscriptions waiting through refused attempts, and resumes once a token is accepted', async () => {
    const { broker, shortLived, lasting } = await authBroker();
    let phase: 'expiring' | 'refused' | 'accepted' = 'expiring';
    const client = await connect({
      ...OPTIONS,
      broker,
      tokenProvider: () => (phase === 'expiring' ? shortLived : phase === 'refused' ? badToken() : lasting),
    });
    const { status, done } = watch(client);
    const received: string[] = [];
    await client.subscribe('s', { onEvent: (e) => received.push(Buffer.from(e.payload).toString()) });
    await client.publish('s', 'before');
    phase = 'refused';
    const attempts = (pool: string) =>
      status.filter((e) => e.type === 'reconnecting' && e.pool === pool).length;
    // Both connections' tokens expire; each reconnect is refused at least twice before a token is accepted.
    await until(() => attempts('publish') >= 2 && attempts('event') >= 2, 'refused attempts', 10_000);
    const during = client.publish('s', 'during');
    phase = 'accepted';
    await during;
    await until(() => received.includes('during'), 'the subscription to resume and receive', 10_000);
    for (const pool of ['publish', 'event']) {
      const mine = status.filter((e) => e.pool === pool).map((e) => e.type);
      // One episode per connection: a disconnect, the attempts, one reconnect — no reconnect per handshake.
      expect(mine[0]).toBe('disconnect');
      expect(mine.at(-1)).toBe('reconnect');
      expect(mine.filter((t) => t === 'disconnect')).toHaveLength(1);
      expect(mine.filter((t) => t === 'reconnect')).toHaveLength(1);
      const reconnect = status.find((e) => e.pool === pool && e.type === 'reconnect') as Extract<
        StatusEvent,
        { type: 'reconnect' }
      >;
      expect(reconnect.attempts).toBe(attempts(pool));
      expect(reconnect.attempts).toBeGreaterThanOrEqual(2);
    }
    expect(received).toEqual(['before', 'during']);
    await client.close();
    await done;
  }, 40_000);

  it('keeps a subscribe made during the outage on a connection not opened before waiting, as new work', async () => {
    const { broker, shortLived, lasting } = await authBroker();
    let phase: 'expiring' | 'refused' | 'accepted' = 'expiring';
    const client = await connect({
      ...OPTIONS,
      broker,
      eventConnPool: 2,
      tokenProvider: () => (phase === 'expiring' ? shortLived : phase === 'refused' ? badToken() : lasting),
    });
    const { status, done } = watch(client);
    const received: string[] = [];
    await client.subscribe('a', { onEvent: (e) => received.push(Buffer.from(e.payload).toString()) });
    phase = 'refused';
    await until(
      () => status.filter((e) => e.type === 'reconnecting' && e.pool === 'event').length >= 2,
      'refused attempts',
      10_000,
    );
    // Round robin: event connection 1, never opened, is opened now, in the outage, and refused.
    const second = client.subscribe('b', {
      onEvent: (e) => received.push(Buffer.from(e.payload).toString()),
    });
    await until(
      () => status.some((e) => e.type === 'disconnect' && e.pool === 'event' && e.connection === 1),
      'the new connection refused',
      10_000,
    );
    phase = 'accepted';
    const sub = await second;
    await client.publish('b', 'to b');
    await until(() => received.includes('to b'), 'the event on the late subscription', 10_000);
    const mine = status.filter((e) => e.pool === 'event' && e.connection === 1).map((e) => e.type);
    // Its first connection failed (disconnect), then its attempts, then reconnect: the documented order.
    expect(mine[0]).toBe('disconnect');
    expect(mine.at(-1)).toBe('reconnect');
    expect(sub.isClosed).toBe(false);
    await client.close();
    await done;
  }, 40_000);
});

describe('SDK reconnect refused twice in a row for the same token', () => {
  it('ends the client with the refusal when a fixed token has expired, instead of reconnecting forever', async () => {
    const { broker, shortLived } = await authBroker();
    // A fixed token and unlimited attempts (the default).
    const client = await connect({ ...OPTIONS, broker, token: shortLived });
    const { status, done } = watch(client);
    const sub = await client.subscribe('s', { onEvent: () => {} });
    await client.publish('s', 'before');
    await until(() => status.some((e) => e.type === 'disconnect'), 'the token to expire', 10_000);
    const during = client.publish('s', 'during').then(
      () => undefined,
      (e: unknown) => e as FelixError,
    );
    const closedWith = await client.closed;
    // The broker's refusal, not a timeout or an attempt count: nothing will make this token valid again.
    expect(closedWith).toMatchObject({ code: 'auth_failed', brokerCode: 'unauthenticated', retry: 'fatal' });
    expect(closedWith?.message).toMatch(/refused the same token on two attempts in a row/);
    expect(closedWith?.message).toContain('expired');
    expect(closedWith?.message).toContain('a fixed token is never refreshed: use tokenProvider');
    expect(await during).toMatchObject({ code: 'auth_failed', brokerCode: 'unauthenticated' });
    // Whichever connection gave up first, the others end with the same refusal, not "attempts ran out".
    const subEnded = await sub.closed;
    expect(subEnded).toMatchObject({ code: 'auth_failed', brokerCode: 'unauthenticated', retry: 'fatal' });
    expect(subEnded?.message).not.toContain('FELIX_RECONNECT_ATTEMPTS');
    // The second attempt's `reconnecting` says why the first failed; the connection ends with `error`.
    const gaveUp = status.find((e) => e.type === 'error' && e.error === closedWith)!;
    const own = status.filter((e) => e.pool === gaveUp.pool && e.connection === gaveUp.connection);
    expect(own.map((e) => e.type)).toEqual(['disconnect', 'reconnecting', 'reconnecting', 'error']);
    const second = own[2] as Extract<StatusEvent, { type: 'reconnecting' }>;
    expect(second.attempt).toBe(2);
    expect(second.error).toMatchObject({ code: 'auth_failed', brokerCode: 'unauthenticated' });
    expect(second.error?.message).toContain('expired');
    expect((own[1] as Extract<StatusEvent, { type: 'reconnecting' }>).error).toBeUndefined();
    await done;
  }, 40_000);

  it('ends it too when a token provider returns the refused token again', async () => {
    const { broker, shortLived } = await authBroker();
    let asked = 0;
    const client = await connect({
      ...OPTIONS,
      broker,
      tokenProvider: () => {
        asked++;
        return shortLived;
      },
    });
    await client.publish('s', 'before');
    const closedWith = await client.closed;
    expect(closedWith).toMatchObject({ code: 'auth_failed', brokerCode: 'unauthenticated' });
    expect(closedWith?.message).toMatch(/publish connection 0: gave up after 2 reconnect attempts/);
    // It has a provider: no advice to use one.
    expect(closedWith?.message).toContain('the tokenProvider returned it again');
    expect(closedWith?.message).not.toContain('use tokenProvider');
    // Asked at connect, then once per attempt.
    expect(asked).toBe(3);
  }, 40_000);
});
