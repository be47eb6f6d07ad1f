// The SDK's side of authentication against a broker with FELIX_AUTH_JWKS: a refused token fails connect()
// with auth_failed and the broker's reason; a token provider is asked again when the broker closes the
// connection because the token expired, and publishing carries on with the fresh token; a subscribe sent
// right behind a refused auth (the SDK does not wait for auth_ok) is never acted on.
import { describe, expect, it } from 'vitest';
import { connect, type FelixClient, type StatusEvent } from '../../client/index.js';
import { until } from '../broker/raw-client.js';
import { cliMint } from '../cli/run-cli.js';
import { metric } from '../e2e/sdk-harness.js';
import { jwtBroker as authBroker, expiringToken, T1_PERMS as PERMS } from './jwt-broker.js';

describe('SDK authentication', () => {
  it('fails connect() with auth_failed and the broker’s reason for a bad token', async () => {
    const { broker } = await authBroker();
    const err = await connect({ broker, token: 'not.a.token', onWarning: () => {} }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('auth_failed');
    expect(err?.message).toContain('malformed');
  });

  it('a reconnect whose slow token provider outlasts the auth deadline gives way to the next attempt', async () => {
    const { key, node } = await authBroker({ FELIX_AUTH_TIMEOUT_MS: '2000' });
    const lasting = await cliMint(key, '--tenant', 't1', ...PERMS, '--ttl', '1h');
    // Nothing here races a clock that a slow machine could lose. The first token is minted when asked and
    // outlives its auth by seconds; when it expires the broker closes the connection. The reconnect's first
    // attempt is the slow one: its provider answers only once the broker has closed that connection at the
    // auth deadline and the next attempt has asked in turn, so its failure comes while the next attempt
    // authenticates, which it must leave alone. The next attempt answers as soon as that failure has run its
    // course, long before its own auth deadline.
    let asked = 0;
    let nextAsked!: () => void;
    const nextAttemptAsked = new Promise<void>((resolve) => (nextAsked = resolve));
    let slowAnswered!: () => void;
    const slowAttemptAnswered = new Promise<void>((resolve) => (slowAnswered = resolve));
    const client: FelixClient = await connect({
      broker: `127.0.0.1:${node.quicAddress.port}`,
      onWarning: () => {},
      pubConnPool: 1,
      pubStreamsPerConn: 1,
      reconnectInitialMs: 20,
      reconnectMaxMs: 50,
      tokenProvider: async () => {
        switch (++asked) {
          case 1:
            // Minted now, when it is needed: it outlives this auth and expires soon after.
            return expiringToken(key, 2);
          case 2:
            await nextAttemptAsked;
            slowAnswered();
            return lasting;
          case 3:
            nextAsked();
            await slowAttemptAnswered;
            // The slow attempt's auth fails ('it closed before auth') in promise jobs, which all run before the
            // event loop's next turn.
            await new Promise((resolve) => setImmediate(resolve));
            return lasting;
          default:
            return lasting;
        }
      },
    });
    const status: StatusEvent[] = [];
    void (async () => {
      for await (const e of client.status()) status.push(e);
    })();
    await until(() => status.some((e) => e.type === 'disconnect'), 'the first token to expire');
    // Sent during the outage: it waits for the connection that works.
    await client.publish('s', 'through the outage');
    expect(asked).toBe(3);
    // Closed for its token (the disconnect metric counts subscribers: this client has none).
    expect(closedFor(status)).toEqual(['publish connection 0 closed by the broker: token_expired']);
    expect(await metric(node, 'felix_auth_timeout_closes_total')).toBe(1);
    await client.close();
  });

  it('asks the token provider again after token_expired and keeps publishing', async () => {
    const { key, broker } = await authBroker();
    let asked = 0;
    const client: FelixClient = await connect({
      broker,
      onWarning: () => {},
      pubConnPool: 1,
      pubStreamsPerConn: 1,
      // Short-lived tokens: the broker closes the connection when each one expires.
      tokenProvider: async () => {
        asked++;
        return cliMint(key, '--tenant', 't1', ...PERMS, '--ttl', '2s');
      },
    });
    const status: StatusEvent[] = [];
    void (async () => {
      for await (const e of client.status()) status.push(e);
    })();
    await client.publish('s', 'before');
    const askedBefore = asked;
    // The first token expires: the broker closes the connection, the SDK reconnects with a new token.
    await until(() => status.some((e) => e.type === 'reconnect'), 'a reconnect after token_expired');
    await client.publish('s', 'after');
    expect(asked).toBeGreaterThan(askedBefore);
    expect(status.map((e) => e.type)).toContain('reconnect');
    expect(closedFor(status)[0]).toBe('publish connection 0 closed by the broker: token_expired');
    await client.close();
  });

  it('a subscribe written behind a refused auth fails with auth_failed and is never opened', async () => {
    const { key, node, broker } = await authBroker();
    let refuse = false;
    let asked = 0;
    const client: FelixClient = await connect({
      broker,
      onWarning: () => {},
      pubConnPool: 1,
      eventConnPool: 1,
      // Good tokens while the client connects; then one the broker refuses, for the subscription's stream.
      tokenProvider: async () => {
        asked++;
        return refuse ? 'not.a.token' : cliMint(key, '--tenant', 't1', ...PERMS);
      },
    });
    await client.publish('s', 'x');
    refuse = true;
    const asksBefore = asked;
    const err = await client.subscribe('s').then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(asked).toBeGreaterThan(asksBefore);
    expect(err?.code).toBe('auth_failed');
    // The broker refused the auth and read nothing behind it: no subscription was ever opened.
    expect(node.stats.subscriptionsOpened).toBe(0);
    // A good token still subscribes on the same connection.
    refuse = false;
    const sub = await client.subscribe('s');
    expect(node.stats.subscriptionsOpened).toBe(1);
    await sub.unsubscribe();
    await client.close();
  });
});

/** Why the broker closed each connection, in order: the `disconnect` events' messages. */
function closedFor(status: readonly StatusEvent[]): string[] {
  return status.flatMap((e) => (e.type === 'disconnect' ? [e.error.message] : []));
}
