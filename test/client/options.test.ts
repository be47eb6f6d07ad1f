import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../client/config.js';
import { parseBroker, resolveOptions } from '../../client/options.js';
import { transportSettingsFor } from '../../client/transport-settings.js';

const MiB = 1024 * 1024;

describe('connect options', () => {
  it('has defaults for everything', () => {
    const resolved = resolveOptions({ env: {} });
    expect(resolved).toMatchObject({
      host: '127.0.0.1',
      port: 5000,
      tenant: 't1',
      token: '',
      namespace: 'default',
      requestTimeoutMs: 30_000,
    });
    expect(resolved.config.pubConnPool).toBe(4);
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.config)).toBe(true);
  });

  it('merges settings once: options beat the environment, which beats the profile', () => {
    const env = { FELIX_PROFILE: 'high-memory', FELIX_EVENT_CONN_POOL: '3', FELIX_PUB_CONN_POOL: '2' };
    const resolved = resolveOptions({ env, pubConnPool: 6 });
    expect(resolved.config.pubConnPool).toBe(6);
    expect(resolved.config.eventConnPool).toBe(3);
    expect(resolved.config.eventConnRecvWindow).toBe(512 * MiB);
  });

  it('takes the transport settings of each family from its own windows', () => {
    const { config } = resolveOptions({
      env: {},
      pubSendWindow: 8 * MiB,
      eventStreamRecvWindow: 2 * MiB,
      cc: 'bbr',
    });
    expect(transportSettingsFor(config, 'pub')).toMatchObject({
      sendWindow: 8 * MiB,
      congestionControl: 'bbr',
    });
    expect(transportSettingsFor(config, 'event')).toMatchObject({
      streamRecvWindow: 2 * MiB,
      connRecvWindow: 256 * MiB,
    });
  });

  it('refuses an unknown option, suggesting the one meant', () => {
    expect(() => resolveOptions({ env: {}, ...({ pubConnPol: 2 } as object) })).toThrow(
      /Unknown connect option pubConnPol.*pubConnPool/,
    );
  });

  it('refuses a bad setting value, naming the setting', () => {
    expect(() => resolveOptions({ env: {}, pubConnPool: 0 })).toThrow(ConfigError);
    expect(() => resolveOptions({ env: {}, pubConnPool: 0 })).toThrow(/FELIX_PUB_CONN_POOL/);
  });

  it('refuses bad SDK options', () => {
    expect(() => resolveOptions({ env: {}, requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/);
    expect(() => resolveOptions({ env: {}, tenant: '' })).toThrow(/tenant/);
  });

  it('passes unknown FELIX_* variables to onWarning', () => {
    const warnings: string[] = [];
    resolveOptions({ env: { FELIX_PUB_CONN_POLL: '3' }, onWarning: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(/FELIX_PUB_CONN_POLL/);
  });
});

describe('broker address', () => {
  it('parses host:port, bracketed IPv6 and a bare host', () => {
    expect(parseBroker('10.0.0.5:7000')).toEqual({ host: '10.0.0.5', port: 7000 });
    expect(parseBroker('[::1]:5001')).toEqual({ host: '::1', port: 5001 });
    expect(parseBroker('broker.internal')).toEqual({ host: 'broker.internal', port: 5000 });
  });

  it('refuses what cannot be connected to', () => {
    for (const bad of ['', 'host:0', 'host:99999', '::1', 'a b:5000']) {
      expect(() => parseBroker(bad), bad).toThrow(/broker/);
    }
  });
});
