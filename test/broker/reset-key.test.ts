// Where the stateless reset key comes from: the same key after a restart is the whole point, so each
// source is checked by resolving it twice, as two runs of the broker would.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadBrokerConfig } from '../../broker/config.js';
import { resolveResetKey } from '../../broker/reset-key.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'felix-reset-key-'));
const configWith = (env: Record<string, string>) => loadBrokerConfig({ env }).config;

describe('stateless reset key', () => {
  it('takes FELIX_RESET_KEY as given', () => {
    const hex = '0123456789abcdef'.repeat(4);
    const key = resolveResetKey(configWith({ FELIX_RESET_KEY: hex }));
    expect(key.key.toString('hex')).toBe(hex);
    expect(key.survivesRestart).toBe(true);
  });

  it('refuses a FELIX_RESET_KEY that is not 16 to 64 bytes of hex, without echoing it', () => {
    expect(() => configWith({ FELIX_RESET_KEY: 'abc' })).toThrow(/FELIX_RESET_KEY/);
    expect(() => configWith({ FELIX_RESET_KEY: 'zz'.repeat(16) })).not.toThrow(/zzzz/);
  });

  it('creates FELIX_RESET_KEY_FILE once, owner-readable only, and reads the same key after', () => {
    const path = join(dir(), 'sub', 'reset.key');
    const first = resolveResetKey(configWith({ FELIX_RESET_KEY_FILE: path }));
    const second = resolveResetKey(configWith({ FELIX_RESET_KEY_FILE: path }));
    expect(first.key.length).toBe(32);
    expect(second.key.equals(first.key)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim()).toBe(first.key.toString('hex'));
  });

  it('refuses a key file holding something else, naming the setting', () => {
    const path = join(dir(), 'reset.key');
    writeFileSync(path, 'not a key\n');
    expect(() => resolveResetKey(configWith({ FELIX_RESET_KEY_FILE: path }))).toThrow(
      /FELIX_RESET_KEY_FILE: .* does not hold a stateless reset key/,
    );
  });

  it('derives the key from the TLS key file, the same on every start and not the TLS key itself', () => {
    const d = dir();
    const keyPath = join(d, 'key.pem');
    const certPath = join(d, 'cert.pem');
    writeFileSync(
      keyPath,
      '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n',
    );
    writeFileSync(certPath, 'unused here');
    const env = { FELIX_TLS_KEY: keyPath, FELIX_TLS_CERT: certPath };
    const a = resolveResetKey(configWith(env));
    const b = resolveResetKey(configWith(env));
    expect(a.key.equals(b.key)).toBe(true);
    expect(a.source).toMatch(/FELIX_TLS_KEY/);
    expect(readFileSync(keyPath).includes(a.key)).toBe(false);
  });

  it('keeps a key file in the durable storage directory when nothing else is configured', () => {
    const storage = dir();
    const a = resolveResetKey(configWith({ FELIX_DURABLE_STORAGE_DIR: storage }));
    const b = resolveResetKey(configWith({ FELIX_DURABLE_STORAGE_DIR: storage }));
    expect(a.key.equals(b.key)).toBe(true);
    expect(a.source).toBe(join(storage, '.stateless-reset.key'));
  });

  it('keeps it under a name no tenant can have: a tenant named stateless-reset.key is no obstacle', () => {
    const storage = dir();
    // The durable streams of tenant "stateless-reset.key" (a valid name) live in this directory.
    mkdirSync(join(storage, 'stateless-reset.key', 'ns', 's'), { recursive: true });
    const a = resolveResetKey(configWith({ FELIX_DURABLE_STORAGE_DIR: storage }));
    const b = resolveResetKey(configWith({ FELIX_DURABLE_STORAGE_DIR: storage }));
    expect(a.key.equals(b.key)).toBe(true);
    expect(statSync(join(storage, 'stateless-reset.key')).isDirectory()).toBe(true);
  });

  it("takes over an earlier version's stateless-reset.key, keeping its key and freeing the tenant name", () => {
    const storage = dir();
    const hex = 'a5'.repeat(32);
    writeFileSync(join(storage, 'stateless-reset.key'), `${hex}\n`, { mode: 0o600 });
    // Even while the key comes from elsewhere: a later start from the directory must find the same key.
    resolveResetKey(configWith({ FELIX_DURABLE_STORAGE_DIR: storage, FELIX_RESET_KEY: 'b6'.repeat(16) }));
    expect(existsSync(join(storage, 'stateless-reset.key'))).toBe(false);
    const key = resolveResetKey(configWith({ FELIX_DURABLE_STORAGE_DIR: storage }));
    expect(key.key.toString('hex')).toBe(hex);
    expect(statSync(join(storage, '.stateless-reset.key')).mode & 0o777).toBe(0o600);
  });

  it('reports a key file that cannot be read as a start-up error naming the setting and the file', () => {
    const path = join(dir(), 'reset.key');
    mkdirSync(path);
    const resolve = (): unknown => resolveResetKey(configWith({ FELIX_RESET_KEY_FILE: path }));
    expect(resolve).toThrow(ConfigError);
    expect(resolve).toThrow(`Cannot use FELIX_RESET_KEY_FILE (${path}): read failed (EISDIR).`);
  });

  it("derives it from the host's machine id when nothing else is configured: the same at every start", () => {
    const idFile = join(dir(), 'machine-id');
    writeFileSync(idFile, '0123456789abcdef0123456789abcdef\n');
    const a = resolveResetKey(configWith({}), [join(dir(), 'missing'), idFile]);
    const b = resolveResetKey(configWith({ FELIX_QUIC_BIND: '127.0.0.1:0' }), [idFile]);
    expect(a.survivesRestart).toBe(true);
    expect(a.source).toBe(`derived from ${idFile}`);
    expect(a.key.length).toBe(32);
    expect(a.key.equals(b.key)).toBe(true);
    // Not the id itself, and another host's id gives another key.
    expect(a.key.toString('hex')).not.toContain('0123456789abcdef');
    writeFileSync(idFile, 'fedcba9876543210fedcba9876543210\n');
    expect(resolveResetKey(configWith({}), [idFile]).key.equals(a.key)).toBe(false);
  });

  it('prefers every configured source to the machine id', () => {
    const idFile = join(dir(), 'machine-id');
    writeFileSync(idFile, '0123456789abcdef0123456789abcdef\n');
    const storage = dir();
    expect(resolveResetKey(configWith({ FELIX_DURABLE_STORAGE_DIR: storage }), [idFile]).source).toBe(
      join(storage, '.stateless-reset.key'),
    );
  });

  it('is random for this run only when nothing outlives the process and the host has no machine id', () => {
    const junk = join(dir(), 'machine-id');
    writeFileSync(junk, 'uninitialized\n');
    const a = resolveResetKey(configWith({}), [join(dir(), 'missing'), junk]);
    const b = resolveResetKey(configWith({}), [junk]);
    expect(a.survivesRestart).toBe(false);
    expect(a.source).toBe('random (this run only)');
    expect(a.key.equals(b.key)).toBe(false);
  });
});
