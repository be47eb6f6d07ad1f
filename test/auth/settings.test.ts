import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { authModeOf, verifierOptionsOf } from '../../broker/auth/mode.js';
import { loadClientConfig } from '../../client/config.js';
import { resolveOptions } from '../../client/options.js';
import { ConfigError } from '../../config/errors.js';
import { scratchDir } from '../cli/run-cli.js';

function jwksFile(): string {
  const path = join(scratchDir(), 'settings-jwks.json');
  writeFileSync(path, '{"keys": []}');
  return path;
}

function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('broker auth settings', () => {
  it('default to auto: protected mode without FELIX_AUTH_JWKS, tokens with it', () => {
    const plain = loadBrokerConfig({ env: {} }).config;
    expect(plain).toMatchObject({
      auth: 'auto',
      authJwks: null,
      authIssuer: null,
      authAudience: null,
      authCacheEntries: 100_000,
      authNegativeCacheMs: 5_000,
      authClockToleranceMs: 60_000,
      authJwksPollMs: 1_000,
    });
    expect(authModeOf(plain)).toBe('protected');
    expect(verifierOptionsOf(plain)).toBeUndefined();

    const jwks = jwksFile();
    const withKeys = loadBrokerConfig({
      env: { FELIX_AUTH_JWKS: jwks, FELIX_AUTH_ISSUER: 'felix-auth', FELIX_AUTH_AUDIENCE: 'felix-broker' },
    }).config;
    expect(authModeOf(withKeys)).toBe('jwt');
    expect(verifierOptionsOf(withKeys)).toEqual({
      jwksPath: jwks,
      issuer: 'felix-auth',
      audience: 'felix-broker',
      clockToleranceMs: 60_000,
      cacheEntries: 100_000,
      negativeCacheMs: 5_000,
      jwksPollMs: 1_000,
    });
  });

  it('FELIX_AUTH=none turns authentication off; FELIX_AUTH=jwt requires it', () => {
    expect(authModeOf(loadBrokerConfig({ env: { FELIX_AUTH: 'none' } }).config)).toBe('none');
    expect(
      authModeOf(loadBrokerConfig({ env: { FELIX_AUTH: 'jwt', FELIX_AUTH_JWKS: jwksFile() } }).config),
    ).toBe('jwt');
  });

  it('refuse FELIX_AUTH=jwt without FELIX_AUTH_JWKS, naming both', () => {
    const error = configError(() => loadBrokerConfig({ env: { FELIX_AUTH: 'jwt' } }));
    expect(error.message).toContain('FELIX_AUTH=jwt needs FELIX_AUTH_JWKS');
    expect(error.setting).toBe('FELIX_AUTH, FELIX_AUTH_JWKS');
  });

  it.each([
    [
      { FELIX_AUTH: 'none', FELIX_AUTH_JWKS: 'JWKS' },
      'FELIX_AUTH=none cannot be set together with FELIX_AUTH_JWKS',
    ],
    [{ FELIX_AUTH_ISSUER: 'felix-auth' }, 'FELIX_AUTH_ISSUER needs FELIX_AUTH_JWKS'],
    [{ FELIX_AUTH_AUDIENCE: 'felix-broker' }, 'FELIX_AUTH_AUDIENCE needs FELIX_AUTH_JWKS'],
  ])('refuse contradictions: %j', (env, message) => {
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, v === 'JWKS' ? jwksFile() : v]),
    );
    expect(configError(() => loadBrokerConfig({ env: resolved })).message).toContain(message);
  });

  it.each([
    ['FELIX_AUTH', 'maybe'],
    ['FELIX_AUTH_JWKS', '/nonexistent/jwks.json'],
    ['FELIX_AUTH_ISSUER', ' padded'],
    ['FELIX_AUTH_CACHE_ENTRIES', '-1'],
    ['FELIX_AUTH_NEGATIVE_CACHE_MS', '5s'],
    ['FELIX_AUTH_CLOCK_TOLERANCE_MS', '600001'],
    ['FELIX_AUTH_JWKS_POLL_MS', 'often'],
  ])('refuse a bad %s', (name, value) => {
    expect(configError(() => loadBrokerConfig({ env: { [name]: value } })).setting).toBe(name);
  });
});

describe('the client token setting', () => {
  const TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJ0aWQiOiJ0MSJ9.c2ln';

  it('is read from FELIX_AUTH_TOKEN and never shown in the settings report', () => {
    const loaded = loadClientConfig({ env: { FELIX_AUTH_TOKEN: TOKEN } });
    expect(loaded.config.authToken).toBe(TOKEN);
    const line = loaded.report.find((entry) => entry.name === 'FELIX_AUTH_TOKEN');
    expect(line?.value).toBe('(set, hidden)');
    expect(JSON.stringify(loaded.report)).not.toContain(TOKEN);
  });

  it('is what the SDK sends, set by the token connect option over the environment', () => {
    expect(resolveOptions({ env: {} }).token).toBe('');
    expect(resolveOptions({ env: { FELIX_AUTH_TOKEN: TOKEN } }).token).toBe(TOKEN);
    expect(resolveOptions({ env: { FELIX_AUTH_TOKEN: TOKEN }, token: 'other.token.x' }).token).toBe(
      'other.token.x',
    );
    expect(resolveOptions({ env: { FELIX_AUTH_TOKEN: TOKEN }, authToken: 'other.token.x' }).token).toBe(
      'other.token.x',
    );
    expect(resolveOptions({ env: { FELIX_AUTH_TOKEN: TOKEN }, token: '' }).token).toBe('');
  });

  it('refuses token and authToken together, and a token with spaces', () => {
    expect(() => resolveOptions({ env: {}, token: 'a', authToken: 'b' })).toThrow(/token and authToken/);
    expect(() => resolveOptions({ env: { FELIX_AUTH_TOKEN: 'two words' } })).toThrow(ConfigError);
  });
});
