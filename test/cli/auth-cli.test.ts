// `felix-ts auth keygen` and `felix-ts auth mint`, run as the built program (dist/cli/main.js).
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { cliKeygen, cliMint, runCli, scratchDir } from './run-cli.js';

const PUBLISH_ALL = 'stream.publish:stream:t1/*/*';
const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

interface Jwks {
  keys: { kty: string; crv: string; x: string; kid: string; alg: string; use: string; d?: string }[];
}
const readJwks = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Jwks;

describe('felix-ts auth keygen', () => {
  it('writes a 0600 PKCS8 private key and a JWKS holding only the public key, kid = its thumbprint', async () => {
    const dir = join(scratchDir(), 'fresh', 'nested');
    const run = await runCli('auth', 'keygen', '--out', dir);
    expect(run.code).toBe(0);
    const pem = readFileSync(join(dir, 'signing-key.pem'), 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n?$/);
    expect(statSync(join(dir, 'signing-key.pem')).mode & 0o777).toBe(0o600);
    const jwks = readJwks(join(dir, 'jwks.json'));
    expect(jwks.keys).toHaveLength(1);
    const [entry] = jwks.keys;
    expect(entry).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(entry.d).toBeUndefined();
    expect(entry.kid).toBe(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: entry.x }));
    expect(run.stdout).toContain(`FELIX_AUTH_JWKS=${join(dir, 'jwks.json')}`);
    expect(run.stdout).toContain(entry.kid);
  });

  it('takes the kid from --kid', async () => {
    const key = await cliKeygen('--kid', 'dev-1');
    expect(readJwks(key.jwksPath).keys[0].kid).toBe('dev-1');
  });

  it('refuses to overwrite existing key files unless --force', async () => {
    const key = await cliKeygen();
    const before = readFileSync(key.privateKeyPath, 'utf8');
    const refused = await runCli('auth', 'keygen', '--out', key.dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--force');
    expect(readFileSync(key.privateKeyPath, 'utf8')).toBe(before);

    const forced = await runCli('auth', 'keygen', '--out', key.dir, '--force');
    expect(forced.code).toBe(0);
    expect(readFileSync(key.privateKeyPath, 'utf8')).not.toBe(before);
    expect(statSync(key.privateKeyPath).mode & 0o777).toBe(0o600);
  });

  it('refuses when only the JWKS exists, too', async () => {
    const key = await cliKeygen();
    rmSync(key.privateKeyPath);
    const refused = await runCli('auth', 'keygen', '--out', key.dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('jwks.json already exists');
  });
});

describe('felix-ts auth mint', () => {
  it("prints one signed token with Felix's claims, the key's kid and the requested lifetime", async () => {
    const key = await cliKeygen();
    const run = await runCli(
      'auth',
      'mint',
      '--key',
      key.privateKeyPath,
      '--tenant',
      't1',
      '--perm',
      PUBLISH_ALL,
      '--perm',
      'cache.read:cache:t1/web/*',
      '--ttl',
      '15m',
      '--issuer',
      'felix-auth',
      '--audience',
      'felix-broker',
      '--subject',
      'svc-a',
      '--not-before',
      '30s',
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const token = lines[0];
    expect(decodeProtectedHeader(token)).toEqual({
      alg: 'EdDSA',
      typ: 'JWT',
      kid: readJwks(key.jwksPath).keys[0].kid,
    });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      tid: 't1',
      perms: [PUBLISH_ALL, 'cache.read:cache:t1/web/*'],
      iss: 'felix-auth',
      aud: 'felix-broker',
      sub: 'svc-a',
    });
    expect(claims.exp! - claims.iat!).toBe(15 * 60);
    expect(claims.nbf! - claims.iat!).toBe(30);
    expect(Math.abs(claims.iat! * 1000 - Date.now())).toBeLessThan(60_000);
  });

  it('defaults to a one-hour token without nbf, iss or aud', async () => {
    const key = await cliKeygen();
    const claims = decodeJwt(await cliMint(key, '--tenant', 't1', '--perm', PUBLISH_ALL));
    expect(claims.exp! - claims.iat!).toBe(3_600);
    expect(claims).not.toHaveProperty('nbf');
    expect(claims).not.toHaveProperty('iss');
    expect(claims).not.toHaveProperty('aud');
  });

  it('warns on stderr about permissions that can never apply, and still mints', async () => {
    const key = await cliKeygen();
    const run = await runCli(
      'auth',
      'mint',
      '--key',
      key.privateKeyPath,
      '--tenant',
      't1',
      '--perm',
      'stream.publish:stream:t2/*/*',
      '--perm',
      'tenant.manage:tenant:t1',
      '--perm',
      PUBLISH_ALL,
      '--perm',
      'stream.publish:stream:t1',
      '--perm',
      'cache.read:cache:t1/ns/a/b',
      '--perm',
      'cache.write:cache:t1/ns/k',
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('stream.publish:stream:t2/*/* can never apply');
    expect(run.stderr).toContain('tenant.manage is a Felix control-plane action');
    // Without a '*', a pattern is one resource: three names, or it names nothing.
    expect(run.stderr).toContain('stream.publish:stream:t1 names no resource');
    expect(run.stderr).toContain('cache.read:cache:t1/ns/a/b names no resource');
    expect(run.stderr).not.toContain('cache.write:cache:t1/ns/k');
    expect(run.stderr).not.toContain(PUBLISH_ALL + ' ');
    expect(decodeJwt(run.stdout.trim()).perms).toHaveLength(6);
  });

  it('fails with exit status 1 when the key cannot be used', async () => {
    const key = await cliKeygen();
    const missing = await runCli('auth', 'mint', '--key', join(key.dir, 'nope.pem'), '--tenant', 't1');
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toContain('cannot read the signing key');
    const notAKey = await runCli('auth', 'mint', '--key', key.jwksPath, '--tenant', 't1');
    expect(notAKey).toMatchObject({ code: 1, stdout: '' });
    expect(notAKey.stderr).toContain('not an Ed25519 private key');
  });
});

describe('bad arguments are usage errors (exit status 2)', () => {
  it.each([
    [[], 'Usage: felix-ts'],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['auth'], 'Usage: felix-ts auth'],
    [['auth', 'frobnicate'], "unknown command 'frobnicate'"],
    [['auth', 'keygen'], "required option '--out <dir>' not specified"],
    [['auth', 'keygen', '--out', 'x', '--kid', 'has space'], '--kid'],
    [['auth', 'keygen', '--out', 'x', 'extra'], 'too many arguments'],
    [['auth', 'mint', '--tenant', 't1'], "required option '--key <file>' not specified"],
    [['auth', 'mint', '--key', 'k.pem'], "required option '--tenant <tenant>' not specified"],
    [['auth', 'mint', '--key', 'k.pem', '--tenant', 't/1'], 'expected a tenant name'],
    [['auth', 'mint', '--key', 'k.pem', '--tenant', 't1', '--perm', 'stream.publish'], 'invalid permission'],
    [
      ['auth', 'mint', '--key', 'k.pem', '--tenant', 't1', '--perm', 'stream.write:stream:t1/*/*'],
      'unknown action',
    ],
    [['auth', 'mint', '--key', 'k.pem', '--tenant', 't1', '--ttl', '60'], 'duration'],
    [['auth', 'mint', '--key', 'k.pem', '--tenant', 't1', '--ttl', '0s'], 'duration'],
    [['auth', 'mint', '--key', 'k.pem', '--tenant', 't1', '--ttl', '1y'], 'duration'],
    [['auth', 'mint', '--key', 'k.pem', '--tenant', 't1', '--bogus'], "unknown option '--bogus'"],
  ])('felix-ts %j', async (args, complaint) => {
    const run = await runCli(...args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(complaint);
  });
});

describe('help and version', () => {
  it.each([
    [['--help'], ['auth', '--version']],
    [
      ['auth', '--help'],
      ['keygen', 'mint'],
    ],
    [
      ['help', 'auth'],
      ['keygen', 'mint'],
    ],
    [
      ['auth', 'keygen', '--help'],
      ['--out <dir>', '--kid <id>', '--force', 'signing-key.pem', 'jwks.json', 'FELIX_AUTH_JWKS'],
    ],
    [
      ['auth', 'mint', '--help'],
      [
        '--key <file>',
        '--tenant <tenant>',
        '--perm <permission>',
        '--ttl <duration>',
        '--not-before',
        '--issuer',
        '--audience',
        '--subject',
        '--kid',
        '<action>:<kind>:<tenant>/<namespace>/<name>',
        'stream.subscribe',
        'cache.write',
      ],
    ],
  ])('felix-ts %j documents %j', async (args, mentions) => {
    const run = await runCli(...args);
    expect(run.code).toBe(0);
    for (const mention of mentions) expect(run.stdout).toContain(mention);
  });

  it('prints the package version', async () => {
    for (const flag of ['--version', '-V']) {
      expect(await runCli(flag)).toMatchObject({ code: 0, stdout: `${packageVersion}\n` });
    }
  });
});
