// The SDK's side of authentication against a broker with FELIX_AUTH_JWKS: a refused token fails connect()
// with auth_failed and the broker's reason; a token provider is asked again when the broker closes the
// connection because the token expired, and publishing carries on with the fresh token; a subscribe sent
// right behind a refused auth (the SDK does not wait for auth_ok) is never acted on.
import { describe, expect, it } from 'vitest';
import { connect, type FelixClient, type StatusEvent } from '../../client/index.js';
import { until } from '../broker/raw-client.js';
import { cliMint } from '../cli/run-cli.js';
import { metric } from '../e2e/sdk-harness.js';
import { jwtBroker as authBroker, T1_PERMS as PERMS } from './jwt-broker.js';

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
    const { key, node } = await authBroker({ FELIX_AUTH_TIMEOUT_MS: '1000' });
    const shortLived = await cliMint(key, '--tenant', 't1', ...PERMS, '--ttl', '2s');
    const lasting = await cliMint(key, '--tenant', 't1', ...PERMS, '--ttl', '1h');
    // The first token expires (the broker closes the connection); the provider then takes 1.5 s — past the
    // 1 s auth deadline, so that connection is closed too — and 0.9 s for the next, which succeeds. The slow
    // attempt's failure comes while the next one is still authenticating: it must leave that one alone.
    const delays = [0, 1500, 900];
    let asked = 0;
    const client: FelixClient = await connect({
      broker: `127.0.0.1:${node.quicAddress.port}`,
      onWarning: () => {},
      pubConnPool: 1,
      pubStreamsPerConn: 1,
      reconnectInitialMs: 20,
      reconnectMaxMs: 50,
      tokenProvider: async () => {
        const delay = delays[asked++] ?? 0;
        await new Promise((r) => setTimeout(r, delay));
        return asked === 1 ? shortLived : lasting;
      },
    });
    const status: StatusEvent[] = [];
    void (async () => {
      for await (const e of client.status()) status.push(e);
    })();
    await until(() => status.some((e) => e.type === 'disconnect'), 'the first token to expire');
    // Sent during the outage: it waits for the connection that works.
    await client.publish('s', 'through the outage');
    expect(asked).toBeGreaterThanOrEqual(3);
    expect(node.stats.disconnects.token_expired).toBe(1);
    expect(await metric(node, 'felix_auth_timeout_closes_total')).toBe(1);
    await client.close();
  });

  it('asks the token provider again after token_expired and keeps publishing', async () => {
    const { key, node, broker } = await authBroker();
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
    expect(node.stats.disconnects.token_expired).toBeGreaterThanOrEqual(1);
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
