// Authentication and authorization at the broker, over real QUIC: tokens made by the built CLI
// (`felix-ts auth keygen/mint`), a broker serving FELIX_AUTH_JWKS, and raw protocol streams.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, importPKCS8, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../transport/index.js';
import {
  CONNECTION_CODE_AUTH_TIMEOUT,
  CONNECTION_CODE_TOKEN_EXPIRED,
  KNOWN_FEATURES,
  WireError,
  type DecodedFrame,
} from '../../wire/index.js';
import { RawStream, connectRaw, eventStreams, startBroker, until } from '../broker/raw-client.js';
import { cliKeygen, cliMint, scratchDir, type CliKey } from '../cli/run-cli.js';
import { metric } from '../e2e/sdk-harness.js';

interface Setup {
  node: Awaited<ReturnType<typeof startBroker>>;
  key: CliKey;
  jwksPath: string;
}

async function brokerWithAuth(env: Record<string, string> = {}): Promise<Setup> {
  const key = await cliKeygen();
  const jwksPath = join(scratchDir(), 'jwks.json');
  writeFileSync(jwksPath, readFileSync(key.jwksPath));
  const node = await startBroker({
    FELIX_AUTH_JWKS: jwksPath,
    FELIX_AUTH_ISSUER: 'felix-test',
    FELIX_AUTH_AUDIENCE: 'felix-broker',
    FELIX_AUTH_CLOCK_TOLERANCE_MS: '0',
    FELIX_EVENT_BATCH_MAX_DELAY_US: '0',
    ...env,
  });
  return { node, key, jwksPath };
}

function mint(key: CliKey, tenant: string, perms: string[], ...extra: string[]): Promise<string> {
  return cliMint(
    key,
    '--tenant',
    tenant,
    ...perms.flatMap((p) => ['--perm', p]),
    '--issuer',
    'felix-test',
    '--audience',
    'felix-broker',
    ...extra,
  );
}

/** A token signed with `key` but with claims the CLI would not write. */
async function signed(key: CliKey, claims: JWTPayload, kid?: string): Promise<string> {
  const privateKey = await importPKCS8(readFileSync(key.privateKeyPath, 'utf8'), 'EdDSA');
  const jwks = JSON.parse(readFileSync(key.jwksPath, 'utf8')) as { keys: { kid: string }[] };
  return new SignJWT({ iss: 'felix-test', aud: 'felix-broker', ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: kid ?? jwks.keys[0]!.kid })
    .sign(privateKey);
}

const ALL = [
  'stream.publish:stream:t1/*/*',
  'stream.subscribe:stream:t1/*/*',
  'cache.read:cache:t1/*/*',
  'cache.write:cache:t1/*/*',
];

async function authed(
  setup: Setup,
  token: string,
  tenant = 't1',
): Promise<{ conn: Connection; s: RawStream; reply: DecodedFrame | WireError }> {
  const conn = await connectRaw(setup.node);
  const s = await RawStream.open(conn, null);
  s.send({ type: 'auth', tenant_id: tenant, token, client_flags: 0x3f, client_features: KNOWN_FEATURES });
  return { conn, s, reply: await s.next() };
}

function errorOf(frame: DecodedFrame | WireError): { message: string; code?: string } {
  if (frame instanceof WireError || (frame.type !== 'error' && frame.type !== 'publish_error')) {
    throw new Error(`expected an error, got ${JSON.stringify(frame)}`);
  }
  return frame as { message: string; code?: string };
}

describe('authentication', () => {
  it('admits a valid token and refuses each kind of bad one with its reason, ending that stream only', async () => {
    const setup = await brokerWithAuth();
    const good = await mint(setup.key, 't1', ALL);
    expect((await authed(setup, good)).reply).toMatchObject({ type: 'auth_ok' });

    const other = await cliKeygen();
    const nowS = Math.floor(Date.now() / 1000);
    const cases: [string, Promise<string>, string][] = [
      ['bad_signature', signed(other, { tid: 't1', perms: ALL, exp: nowS + 600 }, undefined), 'unknown_kid'],
      [
        'bad_signature',
        // Right kid, other key: the signature does not verify.
        signed(
          other,
          { tid: 't1', perms: ALL, exp: nowS + 600 },
          (JSON.parse(readFileSync(setup.key.jwksPath, 'utf8')) as { keys: { kid: string }[] }).keys[0]!.kid,
        ),
        'bad_signature',
      ],
      [
        'wrong issuer',
        signed(setup.key, { tid: 't1', perms: ALL, exp: nowS + 600, iss: 'someone-else' }),
        'wrong_issuer',
      ],
      [
        'wrong audience',
        signed(setup.key, { tid: 't1', perms: ALL, exp: nowS + 600, aud: 'another' }),
        'wrong_audience',
      ],
      ['expired', signed(setup.key, { tid: 't1', perms: ALL, exp: nowS - 10 }), 'expired'],
      [
        'not yet valid',
        signed(setup.key, { tid: 't1', perms: ALL, exp: nowS + 600, nbf: nowS + 300 }),
        'not_yet_valid',
      ],
      ['missing tid', signed(setup.key, { perms: ALL, exp: nowS + 600 }), 'missing_tid'],
      [
        'bad perms',
        signed(setup.key, { tid: 't1', perms: ['stream.fly:stream:t1/*/*'], exp: nowS + 600 }),
        'bad_perms',
      ],
      ['garbage', Promise.resolve('not.a.jwt'), 'malformed'],
    ];
    for (const [what, token, reason] of cases) {
      const { s, reply } = await authed(setup, await token);
      const err = errorOf(reply);
      expect(err.code, what).toBe('unauthenticated');
      expect(err.message, what).toContain(`(${reason})`);
      await until(() => s.ended, `${what}: the stream ends`);
    }
    // A token for t1 presented for t2.
    const { reply } = await authed(setup, good, 't2');
    expect(errorOf(reply).message).toContain('tenant_mismatch');
    // The message tells a perms claim of the wrong type from a missing one: they are fixed differently.
    const permsOf = async (perms: unknown): Promise<string> =>
      errorOf((await authed(setup, await signed(setup.key, { tid: 't1', perms, exp: nowS + 600 }))).reply)
        .message;
    expect(await permsOf(ALL[0])).toMatch(
      /^authentication failed \(bad_perms\): the token has a perms claim that is a string: /,
    );
    expect(await permsOf([1])).toContain('has a perms claim that is an array holding a non-string');
    expect(await permsOf(undefined)).toContain('the token has no perms claim');
    // The broker still serves.
    expect((await authed(setup, good)).reply).toMatchObject({ type: 'auth_ok' });
    expect(setup.node.stats.authFailures).toBe(cases.length + 4);
  });

  it('closes the connection with token_expired when the token expires, and a fresh token gets in', async () => {
    const setup = await brokerWithAuth();
    const nowS = Math.floor(Date.now() / 1000);
    const shortLived = await signed(setup.key, { tid: 't1', perms: ALL, exp: nowS + 2 });
    const conn = await connectRaw(setup.node);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      conn.onClose = (info) => resolve({ code: info.code, reason: info.reason });
    });
    const s = await RawStream.open(conn, null);
    s.send({
      type: 'auth',
      tenant_id: 't1',
      token: shortLived,
      client_flags: 0x3f,
      client_features: KNOWN_FEATURES,
    });
    expect(await s.next()).toMatchObject({ type: 'auth_ok' });
    // Two subscriptions on it: the metric counts the subscribers ended, not the connection.
    for (const id of [1, 2]) {
      s.send({
        type: 'subscribe',
        tenant_id: 't1',
        namespace: 'ns',
        stream: `expiring${id}`,
        subscription_id: id,
        start: 'latest',
      });
      expect(await s.next()).toMatchObject({ type: 'subscribed', subscription_id: id });
    }
    expect(await closed).toEqual({ code: CONNECTION_CODE_TOKEN_EXPIRED, reason: 'token_expired' });
    expect(setup.node.stats.disconnects).toEqual({ token_expired: 2 });
    const fresh = await mint(setup.key, 't1', ALL);
    expect((await authed(setup, fresh)).reply).toMatchObject({ type: 'auth_ok' });
  });

  it('follows a JWKS rotation without a restart', async () => {
    const setup = await brokerWithAuth({ FELIX_AUTH_JWKS_POLL_MS: '0' });
    const next = await cliKeygen();
    const nextToken = await mint(next, 't1', ALL);
    expect(errorOf((await authed(setup, nextToken)).reply).message).toContain('unknown_kid');
    // Both keys, then the old one retired: written as editors do (a new file renamed over the old).
    const keys = (path: string) => (JSON.parse(readFileSync(path, 'utf8')) as { keys: unknown[] }).keys;
    const write = (entries: unknown[]): void => {
      writeFileSync(`${setup.jwksPath}.tmp`, JSON.stringify({ keys: entries }));
      renameSync(`${setup.jwksPath}.tmp`, setup.jwksPath);
    };
    write([...keys(setup.key.jwksPath), ...keys(next.jwksPath)]);
    await setup.node.reloadAuth();
    expect((await authed(setup, nextToken)).reply).toMatchObject({ type: 'auth_ok' });
    // Streams let in by each key, held open across the retirement of the old one.
    const oldToken = await mint(setup.key, 't1', ALL);
    const heldOld = await authed(setup, oldToken);
    const heldNew = await authed(setup, nextToken);
    expect([heldOld.reply, heldNew.reply]).toMatchObject([{ type: 'auth_ok' }, { type: 'auth_ok' }]);
    const oldClosed = new Promise<{ code: number; reason: string }>((resolve) => {
      heldOld.conn.onClose = (info) => resolve({ code: info.code, reason: info.reason });
    });
    write(keys(next.jwksPath));
    await setup.node.reloadAuth();
    expect(errorOf((await authed(setup, oldToken)).reply).message).toContain('unknown_kid');
    expect((await authed(setup, nextToken)).reply).toMatchObject({ type: 'auth_ok' });
    // A removed key stops working at once for the streams it already let in, as for new ones.
    expect(await oldClosed).toEqual({ code: CONNECTION_CODE_TOKEN_EXPIRED, reason: 'key_removed' });
    // No subscriber was on it: none is counted as disconnected.
    expect(setup.node.stats.disconnects).toEqual({});
    heldNew.s.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'kept',
      payload: Buffer.from('x'),
      request_id: 5,
      ack: 'per_message',
    });
    expect(await heldNew.s.next()).toEqual({ type: 'publish_ok', request_id: 5 });
  });

  it('ends what a key let in when its kid is given another key (a compromised key replaced in place)', async () => {
    const setup = await brokerWithAuth({ FELIX_AUTH_JWKS_POLL_MS: '0' });
    const entries = (path: string) =>
      (JSON.parse(readFileSync(path, 'utf8')) as { keys: { kid: string; x: string }[] }).keys;
    const [old] = entries(setup.key.jwksPath);
    const held = await authed(setup, await mint(setup.key, 't1', ALL));
    expect(held.reply).toMatchObject({ type: 'auth_ok' });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      held.conn.onClose = (info) => resolve({ code: info.code, reason: info.reason });
    });
    // The same kid, the new key's material: the old key is gone though its kid stays.
    const next = await cliKeygen();
    const [fresh] = entries(next.jwksPath);
    writeFileSync(`${setup.jwksPath}.tmp`, JSON.stringify({ keys: [{ ...old, x: fresh!.x }] }));
    renameSync(`${setup.jwksPath}.tmp`, setup.jwksPath);
    await setup.node.reloadAuth();
    expect(await closed).toEqual({ code: CONNECTION_CODE_TOKEN_EXPIRED, reason: 'key_removed' });
    const exp = Math.floor(Date.now() / 1000) + 600;
    expect(errorOf((await authed(setup, await mint(setup.key, 't1', ALL))).reply).message).toContain(
      'bad_signature',
    );
    const signedByNew = await signed(next, { tid: 't1', perms: ALL, exp }, old!.kid);
    expect((await authed(setup, signedByNew)).reply).toMatchObject({ type: 'auth_ok' });
  });
});

describe('authorization', () => {
  it('allows and denies each permission kind, naming the permission needed', async () => {
    const setup = await brokerWithAuth();
    const matrix: { perms: string[]; allowed: ('publish' | 'subscribe' | 'read' | 'write')[] }[] = [
      { perms: ['stream.publish:stream:t1/ns/s'], allowed: ['publish'] },
      { perms: ['stream.subscribe:stream:t1/ns/*'], allowed: ['subscribe'] },
      { perms: ['cache.read:cache:t1/*/c'], allowed: ['read'] },
      { perms: ['cache.write:cache:t1/ns/*'], allowed: ['write'] },
      { perms: ALL, allowed: ['publish', 'subscribe', 'read', 'write'] },
      { perms: ['stream.publish:stream:t1/other/*', 'cache.read:cache:t1/ns/other'], allowed: [] },
    ];
    for (const row of matrix) {
      const { s, reply } = await authed(setup, await mint(setup.key, 't1', row.perms));
      expect(reply).toMatchObject({ type: 'auth_ok' });
      const outcome = async (op: 'publish' | 'subscribe' | 'read' | 'write'): Promise<DecodedFrame> => {
        const id = Math.floor(Math.random() * 1e9);
        const address = { tenant_id: 't1', namespace: 'ns' };
        if (op === 'publish')
          s.send({
            type: 'publish',
            ...address,
            stream: 's',
            payload: Buffer.from('x'),
            request_id: id,
            ack: 'per_message',
          });
        if (op === 'subscribe') s.send({ type: 'subscribe', ...address, stream: 's', subscription_id: id });
        if (op === 'read') s.send({ type: 'cache_get', ...address, cache: 'c', key: 'k', request_id: id });
        if (op === 'write')
          s.send({
            type: 'cache_put',
            ...address,
            cache: 'c',
            key: 'k',
            value: Buffer.from('v'),
            ttl_ms: null,
            request_id: id,
          });
        return (await s.next()) as DecodedFrame;
      };
      const needed = {
        publish: 'stream.publish:stream:t1/ns/s',
        subscribe: 'stream.subscribe:stream:t1/ns/s',
        read: 'cache.read:cache:t1/ns/c',
        write: 'cache.write:cache:t1/ns/c',
      };
      for (const op of ['publish', 'subscribe', 'read', 'write'] as const) {
        const answer = await outcome(op);
        if (row.allowed.includes(op)) {
          expect(['publish_ok', 'subscribed', 'cache_value', 'cache_ok'], `${row.perms} ${op}`).toContain(
            answer.type,
          );
        } else {
          const err = errorOf(answer);
          expect(err.code, `${row.perms} ${op}`).toBe('forbidden');
          expect(err.message).toContain(needed[op]);
        }
      }
    }
  });

  it('echoes a long tenant or name in its refusals as its first 64 characters and its size, as the SDK does', async () => {
    const setup = await brokerWithAuth();
    const cut = (c: string): string => `${c.repeat(64)}…(300 bytes)`;
    const mismatch = (await authed(setup, await mint(setup.key, 't1', ALL), 'x'.repeat(300))).reply;
    expect(errorOf(mismatch).message).toBe(
      `authentication failed (tenant_mismatch): the token is for tenant t1, not ${cut('x')}`,
    );
    const { s } = await authed(setup, await mint(setup.key, 't1', ['cache.read:cache:t1/*/*']));
    const address = { tenant_id: 't1', namespace: 'ns', stream: 's'.repeat(300) };
    s.send({ type: 'publish', ...address, payload: Buffer.from('x'), request_id: 1, ack: 'per_message' });
    expect(errorOf(await s.next())).toMatchObject({
      code: 'forbidden',
      message: `permission denied: the token does not grant stream.publish:stream:t1/ns/${cut('s')}`,
    });
  });

  it('keeps tenants apart: a t1 token touches nothing of t2, even with wildcard permissions', async () => {
    const setup = await brokerWithAuth();
    // t2's own client puts data there first.
    const t2 = await authed(
      setup,
      await mint(setup.key, 't2', [
        'stream.publish:stream:t2/*/*',
        'cache.write:cache:t2/*/*',
        'cache.read:cache:t2/*/*',
      ]),
      't2',
    );
    t2.s.send({
      type: 'publish',
      tenant_id: 't2',
      namespace: 'ns',
      stream: 's',
      payload: Buffer.from('secret'),
      request_id: 1,
      ack: 'per_message',
    });
    expect(await t2.s.next()).toMatchObject({ type: 'publish_ok' });
    t2.s.send({
      type: 'cache_put',
      tenant_id: 't2',
      namespace: 'ns',
      cache: 'c',
      key: 'k',
      value: Buffer.from('secret'),
      ttl_ms: null,
      request_id: 2,
    });
    expect(await t2.s.next()).toMatchObject({ type: 'cache_ok' });

    const intruder = await mint(setup.key, 't1', [
      'stream.publish:*',
      'stream.subscribe:*',
      'cache.read:*',
      'cache.write:*',
    ]);
    const conn = await connectRaw(setup.node);
    const byId = eventStreams(conn);
    const s = await RawStream.open(conn, null);
    s.send({
      type: 'auth',
      tenant_id: 't1',
      token: intruder,
      client_flags: 0x3f,
      client_features: KNOWN_FEATURES,
    });
    expect(await s.next()).toMatchObject({ type: 'auth_ok' });
    const address = { tenant_id: 't2', namespace: 'ns' };
    const requests: Record<string, unknown>[] = [
      {
        type: 'publish',
        ...address,
        stream: 's',
        payload: Buffer.from('x'),
        request_id: 3,
        ack: 'per_message',
      },
      { type: 'subscribe', ...address, stream: 's', subscription_id: 4, start: 'earliest' },
      { type: 'subscribe', ...address, stream: 's', subscription_id: 5, start: { offset: 0 } },
      { type: 'cache_get', ...address, cache: 'c', key: 'k', request_id: 6 },
      {
        type: 'cache_put',
        ...address,
        cache: 'c',
        key: 'k',
        value: Buffer.from('x'),
        ttl_ms: null,
        request_id: 7,
      },
      { type: 'cache_delete', ...address, cache: 'c', key: 'k', request_id: 8 },
    ];
    for (const r of requests) {
      s.send(r);
      expect(errorOf((await s.next()) as DecodedFrame).code, String(r.type)).toBe('forbidden');
    }
    expect(byId.size).toBe(0);
    // What t2 stored is untouched.
    t2.s.send({ type: 'cache_get', tenant_id: 't2', namespace: 'ns', cache: 'c', key: 'k', request_id: 9 });
    const value = (await t2.s.next()) as DecodedFrame;
    expect(value.type === 'cache_value' && Buffer.from(value.value!).toString()).toBe('secret');
  });
});

describe('the auth deadline (FELIX_AUTH_TIMEOUT_MS)', () => {
  const closeOf = (conn: Connection): Promise<{ code: number; reason: string; byPeer: boolean }> =>
    new Promise((resolve) => {
      conn.onClose = (info) => resolve({ code: info.code, reason: info.reason, byPeer: info.byPeer });
    });

  it('closes a connection none of whose streams authenticated, and keeps one whose stream did', async () => {
    const setup = await brokerWithAuth({ FELIX_AUTH_TIMEOUT_MS: '300' });
    const good = await mint(setup.key, 't1', ALL);
    // Authenticated first, then its stream ended: one auth is enough for the connection's life.
    const kept = await authed(setup, good);
    expect(kept.reply).toMatchObject({ type: 'auth_ok' });
    kept.s.stream.end();
    let keptClosed = false;
    kept.conn.onClose = () => (keptClosed = true);
    // No stream at all; a stream whose auth never completes; a stream whose auth was refused.
    const silent = await connectRaw(setup.node);
    const partial = await connectRaw(setup.node);
    const refused = await authed(setup, `${good.slice(0, -4)}AAAA`);
    expect(errorOf(refused.reply).message).toMatch(/^authentication failed/);
    const closes = [closeOf(silent), closeOf(partial), closeOf(refused.conn)];
    const half = await RawStream.open(partial, null);
    half.write(Buffer.from('FLX1'));
    for (const close of await Promise.all(closes)) {
      expect(close).toEqual({ code: CONNECTION_CODE_AUTH_TIMEOUT, reason: 'auth timeout', byPeer: true });
    }
    // The three were opened after `kept` authenticated and have met their deadline: kept's has long passed.
    expect(keptClosed).toBe(false);
    expect(await metric(setup.node, 'felix_auth_timeout_closes_total')).toBe(3);
    const again = await RawStream.open(kept.conn, { token: good });
    expect(again.frames[0]).toMatchObject({ type: 'auth_ok' });
  });
});
