// The token verifier with keys and tokens made by the built CLI (dist/cli/main.js) as a child process;
// tokens the CLI refuses to make (no tid, bad perms, wrong algorithm) are signed here with the CLI's key.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, importPKCS8, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { Grant } from '../../broker/auth/grant.js';
import { JwksError } from '../../broker/auth/jwks.js';
import {
  TokenVerifier,
  type JwksReloadOutcome,
  type TokenVerifierOptions,
  type VerifyResult,
} from '../../broker/auth/verifier.js';
import { cliKeygen, cliMint, scratchDir, type CliKey } from '../cli/run-cli.js';

const HOUR_MS = 3_600_000;
const PUBLISH_ALL = 'stream.publish:stream:t1/*/*';

const open: TokenVerifier[] = [];
afterEach(() => {
  for (const verifier of open.splice(0)) verifier.close();
});

async function verifierFor(
  jwksPath: string,
  options: Partial<TokenVerifierOptions> = {},
): Promise<TokenVerifier> {
  const verifier = await TokenVerifier.open({ jwksPath, jwksPollMs: 0, ...options });
  open.push(verifier);
  return verifier;
}

function jwksOf(...keys: CliKey[]): string {
  const entries = keys.flatMap(
    (key) => (JSON.parse(readFileSync(key.jwksPath, 'utf8')) as { keys: unknown[] }).keys,
  );
  return `${JSON.stringify({ keys: entries }, null, 2)}\n`;
}

/** Writes a JWKS file the way editors and keygen do: a new file renamed over the old one. */
function replaceFile(path: string, text: string): void {
  const temporary = `${path}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

function kidOf(key: CliKey): string {
  return (JSON.parse(readFileSync(key.jwksPath, 'utf8')) as { keys: { kid: string }[] }).keys[0].kid;
}

/** A token signed with the CLI's key but claims the CLI would refuse to write. */
async function signedWith(
  key: CliKey,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  const privateKey = await importPKCS8(readFileSync(key.privateKeyPath, 'utf8'), 'EdDSA');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', kid: kidOf(key), ...header })
    .setExpirationTime('1h')
    .sign(privateKey);
}

function grantOf(result: VerifyResult | undefined): Grant {
  if (result === undefined || !result.ok) throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result.grant;
}

function expectRejected(result: VerifyResult | undefined, reason: string): void {
  expect(result).toMatchObject({ ok: false, reason });
  if (result !== undefined && !result.ok) expect(result.message).not.toBe('');
}

describe('a token from `felix-ts auth mint`', () => {
  it('verifies against the JWKS from `felix-ts auth keygen`, granting its tenant and permissions', async () => {
    const key = await cliKeygen();
    const before = Date.now();
    const token = await cliMint(
      key,
      '--tenant',
      't1',
      '--perm',
      PUBLISH_ALL,
      '--perm',
      'cache.read:cache:t1/web/*',
      '--ttl',
      '1h',
      '--subject',
      'svc-a',
    );
    const verifier = await verifierFor(key.jwksPath, { clockToleranceMs: 0 });
    const grant = grantOf(await verifier.verify(token));
    expect(grant.tenant).toBe('t1');
    expect(grant.subject).toBe('svc-a');
    expect(grant.kid).toBe(kidOf(key));
    expect(grant.permissions.permissions).toEqual([PUBLISH_ALL, 'cache.read:cache:t1/web/*']);
    // exp has whole seconds: within a second of an hour from the mint.
    expect(grant.expiresAtMs).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + HOUR_MS);
    expect(grant.expiresAtMs).toBeLessThanOrEqual(Date.now() + HOUR_MS);
    expect(grant.allows('stream.publish', 't1', 'any', 'stream')).toBe(true);
    expect(grant.allows('stream.subscribe', 't1', 'any', 'stream')).toBe(false);
    expect(grant.allows('cache.read', 't1', 'web', 'sessions')).toBe(true);
    expect(grant.allows('cache.write', 't1', 'web', 'sessions')).toBe(false);
    expect(grant.allows('stream.publish', 't2', 'any', 'stream')).toBe(false);
  });

  it('carries issuer and audience that a broker requiring them accepts', async () => {
    const key = await cliKeygen();
    const token = await cliMint(
      key,
      '--tenant',
      't1',
      '--perm',
      PUBLISH_ALL,
      '--issuer',
      'felix-auth',
      '--audience',
      'felix-broker',
    );
    const verifier = await verifierFor(key.jwksPath, { issuer: 'felix-auth', audience: 'felix-broker' });
    expect(grantOf(await verifier.verify(token)).tenant).toBe('t1');
  });

  it('with a custom --kid from keygen verifies when mint is given the same --kid', async () => {
    const key = await cliKeygen('--kid', 'dev-2026');
    const token = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL, '--kid', 'dev-2026');
    const verifier = await verifierFor(key.jwksPath);
    expect(grantOf(await verifier.verify(token)).kid).toBe('dev-2026');
  });
});

describe('each rejection has its reason', () => {
  it('bad_signature: signed by another key under a known kid, or altered after signing', async () => {
    const trusted = await cliKeygen();
    const stranger = await cliKeygen();
    const verifier = await verifierFor(trusted.jwksPath);
    const forged = await cliMint(stranger, '--tenant', 't1', '--perm', PUBLISH_ALL, '--kid', kidOf(trusted));
    expectRejected(await verifier.verify(forged), 'bad_signature');

    const genuine = await cliMint(trusted, '--tenant', 't1', '--perm', PUBLISH_ALL);
    const [header, payload, signature] = genuine.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, tid: 't2' })).toString('base64url');
    expectRejected(await verifier.verify(`${header}.${widened}.${signature}`), 'bad_signature');
    expect(grantOf(await verifier.verify(genuine)).tenant).toBe('t1');
  });

  it('unknown_kid: the kid names no key in the JWKS', async () => {
    const key = await cliKeygen();
    const verifier = await verifierFor(key.jwksPath);
    const result = await verifier.verify(
      await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL, '--kid', 'nobody'),
    );
    expectRejected(result, 'unknown_kid');
    expect(!result.ok && result.message).toContain('nobody');
  });

  it('wrong_issuer and wrong_audience, also when the claim is missing', async () => {
    const key = await cliKeygen();
    const verifier = await verifierFor(key.jwksPath, { issuer: 'felix-auth', audience: 'felix-broker' });
    const mint = (...args: string[]) => cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL, ...args);
    expectRejected(
      await verifier.verify(await mint('--issuer', 'someone-else', '--audience', 'felix-broker')),
      'wrong_issuer',
    );
    expectRejected(await verifier.verify(await mint('--audience', 'felix-broker')), 'wrong_issuer');
    expectRejected(
      await verifier.verify(await mint('--issuer', 'felix-auth', '--audience', 'another-broker')),
      'wrong_audience',
    );
    expectRejected(await verifier.verify(await mint('--issuer', 'felix-auth')), 'wrong_audience');
  });

  it('expired: past exp by more than the clock tolerance', async () => {
    const key = await cliKeygen();
    const token = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL, '--ttl', '1m');
    const clock = { now: Date.now() + 2 * HOUR_MS };
    const verifier = await verifierFor(key.jwksPath, { clockToleranceMs: 60_000, now: () => clock.now });
    expectRejected(await verifier.verify(token), 'expired');
    // Within the tolerance it is still accepted.
    const tolerant = await verifierFor(key.jwksPath, { clockToleranceMs: 3 * HOUR_MS, now: () => clock.now });
    expect((await tolerant.verify(token)).ok).toBe(true);
  });

  it('not_yet_valid: before nbf by more than the clock tolerance, and valid once nbf is reached', async () => {
    const key = await cliKeygen();
    const token = await cliMint(
      key,
      '--tenant',
      't1',
      '--perm',
      PUBLISH_ALL,
      '--not-before',
      '1h',
      '--ttl',
      '2h',
    );
    const clock = { now: Date.now() };
    const verifier = await verifierFor(key.jwksPath, {
      clockToleranceMs: 60_000,
      negativeCacheMs: 10 * HOUR_MS,
      now: () => clock.now,
    });
    expectRejected(await verifier.verify(token), 'not_yet_valid');
    expectRejected(verifier.lookup(token), 'not_yet_valid');
    // The rejection is remembered only until nbf, however long rejections are otherwise kept.
    clock.now += HOUR_MS + 1_000;
    expect(verifier.lookup(token)).toBeUndefined();
    expect((await verifier.verify(token)).ok).toBe(true);
  });

  it('missing_tid: no tid, an empty one, or one that is not a string', async () => {
    const key = await cliKeygen();
    const verifier = await verifierFor(key.jwksPath);
    for (const claims of [{ perms: [PUBLISH_ALL] }, { tid: '', perms: [] }, { tid: 7, perms: [] }]) {
      expectRejected(await verifier.verify(await signedWith(key, claims)), 'missing_tid');
    }
  });

  it('bad_perms: missing, not an array of strings, or a permission outside the grammar', async () => {
    const key = await cliKeygen();
    const verifier = await verifierFor(key.jwksPath);
    for (const perms of [
      undefined,
      'stream.publish:stream:t1/*/*',
      [42],
      ['stream.write:stream:t1/*/*'],
      [PUBLISH_ALL, 'nonsense'],
    ]) {
      const result = await verifier.verify(await signedWith(key, { tid: 't1', perms }));
      expectRejected(result, 'bad_perms');
    }
    const result = await verifier.verify(
      await signedWith(key, { tid: 't1', perms: ['stream.write:stream:t1/*/*'] }),
    );
    expect(!result.ok && result.message).toContain('stream.write');
  });

  it('malformed: not a JWT, no token, too long, another algorithm, or no exp', async () => {
    const key = await cliKeygen();
    const verifier = await verifierFor(key.jwksPath);
    const hs256 = await new SignJWT({ tid: 't1', perms: [] })
      .setProtectedHeader({ alg: 'HS256', kid: kidOf(key) })
      .setExpirationTime('1h')
      .sign(new Uint8Array(32));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"tid":"t1","perms":[]}').toString('base64url')}.`;
    const privateKey = await importPKCS8(readFileSync(key.privateKeyPath, 'utf8'), 'EdDSA');
    const noExp = await new SignJWT({ tid: 't1', perms: [] })
      .setProtectedHeader({ alg: 'EdDSA', kid: kidOf(key) })
      .sign(privateKey);
    for (const token of ['', 'not-a-token', 'a.b.c', hs256, none, noExp, 'x'.repeat(70_000)]) {
      expectRejected(await verifier.verify(token), 'malformed');
    }
    // A good token has one spelling: with whitespace around it or padding after its signature it is not one.
    const good = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL);
    grantOf(await verifier.verify(good));
    for (const token of [`${good} `, ` ${good}`, `${good}==`, `${good}\n`]) {
      expectRejected(await verifier.verify(token), 'malformed');
    }
  });

  it('a token without kid is tried against every key, as Felix does', async () => {
    const first = await cliKeygen();
    const second = await cliKeygen();
    const jwks = join(scratchDir(), 'two-keys.json');
    writeFileSync(jwks, jwksOf(first, second));
    const verifier = await verifierFor(jwks);
    const privateKey = await importPKCS8(readFileSync(second.privateKeyPath, 'utf8'), 'EdDSA');
    const token = await new SignJWT({ tid: 't1', perms: [PUBLISH_ALL] })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setExpirationTime('1h')
      .sign(privateKey);
    expect(grantOf(await verifier.verify(token)).kid).toBe(kidOf(second));
    const stranger = await cliKeygen();
    const strangerKey = await importPKCS8(readFileSync(stranger.privateKeyPath, 'utf8'), 'EdDSA');
    const foreign = await new SignJWT({ tid: 't1', perms: [] })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setExpirationTime('1h')
      .sign(strangerKey);
    expectRejected(await verifier.verify(foreign), 'bad_signature');
  });
});

describe('the verification cache', () => {
  it('answers synchronously after the first verify, without checking the signature again', async () => {
    const key = await cliKeygen();
    const token = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL);
    const verifier = await verifierFor(key.jwksPath);
    expect(verifier.lookup(token)).toBeUndefined();
    const verified = await verifier.verify(token);
    expect(verifier.stats().verifications).toBe(1);
    const cached = verifier.lookup(token);
    expect(cached).toBe(verified);
    expect(grantOf(cached).allows('stream.publish', 't1', 'a', 'b')).toBe(true);
    await verifier.verify(token);
    expect(verifier.stats()).toMatchObject({ verifications: 1, grants: 1, hits: 2 });
  });

  it('checks a signature once for many streams verifying the same token at once', async () => {
    const key = await cliKeygen();
    const token = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL);
    const verifier = await verifierFor(key.jwksPath);
    const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(verifier.stats().verifications).toBe(1);
  });

  it('keeps a grant until the token expires, then answers expired synchronously', async () => {
    const key = await cliKeygen();
    const token = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL, '--ttl', '10m');
    const clock = { now: Date.now() };
    const verifier = await verifierFor(key.jwksPath, { clockToleranceMs: 0, now: () => clock.now });
    const grant = grantOf(await verifier.verify(token));
    clock.now = grant.expiresAtMs - 1;
    expect(verifier.lookup(token)?.ok).toBe(true);
    clock.now = grant.expiresAtMs;
    expectRejected(verifier.lookup(token), 'expired');
    expect(verifier.stats().verifications).toBe(1);
  });

  it('remembers a rejection for FELIX_AUTH_NEGATIVE_CACHE_MS', async () => {
    const key = await cliKeygen();
    const token = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL, '--kid', 'nobody');
    const clock = { now: Date.now() };
    const verifier = await verifierFor(key.jwksPath, { negativeCacheMs: 5_000, now: () => clock.now });
    expectRejected(await verifier.verify(token), 'unknown_kid');
    clock.now += 4_999;
    expectRejected(verifier.lookup(token), 'unknown_kid');
    clock.now += 1;
    expect(verifier.lookup(token)).toBeUndefined();
  });

  it('holds at most FELIX_AUTH_CACHE_ENTRIES grants, dropping the least recently used', async () => {
    const key = await cliKeygen();
    const tokens = await Promise.all(
      ['a', 'b', 'c'].map((s) => cliMint(key, '--tenant', 't1', '--subject', s)),
    );
    const verifier = await verifierFor(key.jwksPath, { cacheEntries: 2 });
    await verifier.verify(tokens[0]);
    await verifier.verify(tokens[1]);
    verifier.lookup(tokens[0]); // now the most recently used
    await verifier.verify(tokens[2]);
    expect(verifier.lookup(tokens[0])?.ok).toBe(true);
    expect(verifier.lookup(tokens[1])).toBeUndefined();
    expect(verifier.lookup(tokens[2])?.ok).toBe(true);
    expect(verifier.stats().grants).toBe(2);
  });

  it('keeps grants when flooded with bad tokens', async () => {
    const key = await cliKeygen();
    const good = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL);
    const verifier = await verifierFor(key.jwksPath, { cacheEntries: 4 });
    await verifier.verify(good);
    for (let i = 0; i < 50; i++) await verifier.verify(`garbage.${i}.x`);
    expect(verifier.lookup(good)?.ok).toBe(true);
    expect(verifier.stats().rejections).toBe(4);
  });
});

describe('JWKS rotation without restart', () => {
  it('a key added to the file verifies its tokens after reload(); a removed key’s tokens fail at once', async () => {
    const oldKey = await cliKeygen();
    const newKey = await cliKeygen();
    const jwks = join(scratchDir(), `rotating-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(jwks, jwksOf(oldKey));
    const reloads: JwksReloadOutcome[] = [];
    const verifier = await verifierFor(jwks, { onReload: (outcome) => reloads.push(outcome) });
    const oldToken = await cliMint(oldKey, '--tenant', 't1', '--perm', PUBLISH_ALL);
    const newToken = await cliMint(newKey, '--tenant', 't1', '--perm', PUBLISH_ALL);
    expect((await verifier.verify(oldToken)).ok).toBe(true);
    expectRejected(await verifier.verify(newToken), 'unknown_kid');

    replaceFile(jwks, jwksOf(oldKey, newKey));
    expect(await verifier.reload()).toMatchObject({
      ok: true,
      trigger: 'manual',
      changed: true,
      kids: [kidOf(oldKey), kidOf(newKey)],
    });
    // The remembered unknown_kid rejection is gone with the key change.
    expect((await verifier.verify(newToken)).ok).toBe(true);
    expect((await verifier.verify(oldToken)).ok).toBe(true);

    replaceFile(jwks, jwksOf(newKey));
    await verifier.reload();
    // The old token's grant was cached; the key change must not leave it usable.
    expect(verifier.lookup(oldToken)).toBeUndefined();
    expectRejected(await verifier.verify(oldToken), 'unknown_kid');
    expect((await verifier.verify(newToken)).ok).toBe(true);
    expect(reloads.map((outcome) => outcome.ok)).toEqual([true, true]);
  });

  it('notices a replaced file by itself', async () => {
    const oldKey = await cliKeygen();
    const newKey = await cliKeygen();
    const jwks = join(scratchDir(), `watched-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(jwks, jwksOf(oldKey));
    let announce: (outcome: JwksReloadOutcome) => void = () => {};
    const reloaded = new Promise<JwksReloadOutcome>((resolve) => (announce = resolve));
    const verifier = await verifierFor(jwks, { jwksPollMs: 20, onReload: (outcome) => announce(outcome) });
    const newToken = await cliMint(newKey, '--tenant', 't1', '--perm', PUBLISH_ALL);
    expectRejected(await verifier.verify(newToken), 'unknown_kid');
    replaceFile(jwks, jwksOf(newKey));
    expect(await reloaded).toMatchObject({
      ok: true,
      trigger: 'watch',
      changed: true,
      kids: [kidOf(newKey)],
    });
    expect((await verifier.verify(newToken)).ok).toBe(true);
  });

  it('keeps the keys in force and reports why when the new file cannot be used', async () => {
    const key = await cliKeygen();
    const jwks = join(scratchDir(), `broken-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(jwks, jwksOf(key));
    const verifier = await verifierFor(jwks);
    const token = await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL);
    await verifier.verify(token);
    const privateEntry = JSON.stringify({
      keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'k', x: 'A'.repeat(43), d: 'A'.repeat(43) }],
    });
    for (const [text, complaint] of [
      ['{"keys": [', 'not JSON'],
      ['{"keys": []}', 'empty'],
      [privateEntry, 'private key'],
      [JSON.stringify({ keys: [{ kty: 'RSA', kid: 'r', n: 'x', e: 'AQAB' }] }), 'Ed25519'],
    ]) {
      replaceFile(jwks, text);
      const outcome = await verifier.reload();
      expect(outcome).toMatchObject({ ok: false, trigger: 'manual', kids: [kidOf(key)] });
      expect(!outcome.ok && outcome.error).toContain(complaint);
      expect(verifier.lookup(token)?.ok).toBe(true);
    }
    // Same keys in a reformatted file: nothing to forget.
    replaceFile(jwks, JSON.stringify(JSON.parse(jwksOf(key))));
    expect(await verifier.reload()).toMatchObject({ ok: true, changed: false });
    expect(verifier.lookup(token)?.ok).toBe(true);
  });

  it('refuses to start without a usable JWKS file', async () => {
    await expect(TokenVerifier.open({ jwksPath: join(scratchDir(), 'missing.json') })).rejects.toThrow(
      JwksError,
    );
    const bad = join(scratchDir(), 'bad.json');
    writeFileSync(bad, '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short", "kid": "k"}]}');
    await expect(TokenVerifier.open({ jwksPath: bad })).rejects.toThrow(/keys\[0\] \(kid "k"\).*base64url/);
  });
});
