import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { loadClientConfig } from '../../client/config.js';
import { MiB } from '../../config/units.js';
import { configErrorOf, writeTempFile } from './helpers.js';

// FELIX_EVENT_CONN_RECV_WINDOW is the one setting every layer can touch: it has a default (256 MiB),
// a high-memory value (512 MiB), a YAML key, an env name and a connect option.
describe('precedence, lowest first: default < profile < YAML < env < options', () => {
  const yaml = () => writeTempFile('event_conn_recv_window: 300MiB\n');

  it('uses the default when nothing else is set', () => {
    const loaded = loadClientConfig({ env: {} });
    expect(loaded.config.eventConnRecvWindow).toBe(256 * MiB);
    expect(loaded.provenance.eventConnRecvWindow).toEqual({ source: 'default', detail: 'built-in default' });
  });

  it('profile beats default', () => {
    const loaded = loadClientConfig({ env: { FELIX_PROFILE: 'high-memory' } });
    expect(loaded.config.eventConnRecvWindow).toBe(512 * MiB);
    expect(loaded.provenance.eventConnRecvWindow).toEqual({
      source: 'profile',
      detail: 'profile high-memory',
    });
  });

  it('YAML beats profile', () => {
    const path = yaml();
    const loaded = loadClientConfig({ env: { FELIX_PROFILE: 'high-memory', FELIX_CLIENT_CONFIG: path } });
    expect(loaded.config.eventConnRecvWindow).toBe(300 * MiB);
    expect(loaded.provenance.eventConnRecvWindow).toEqual({ source: 'yaml', detail: `${path} line 1` });
    expect(loaded.configPath).toBe(path);
  });

  it('env beats YAML', () => {
    const env = {
      FELIX_PROFILE: 'high-memory',
      FELIX_CLIENT_CONFIG: yaml(),
      FELIX_EVENT_CONN_RECV_WINDOW: '320MiB',
    };
    const loaded = loadClientConfig({ env });
    expect(loaded.config.eventConnRecvWindow).toBe(320 * MiB);
    expect(loaded.provenance.eventConnRecvWindow).toEqual({ source: 'env', detail: 'environment' });
  });

  it('options beat env', () => {
    const env = {
      FELIX_PROFILE: 'high-memory',
      FELIX_CLIENT_CONFIG: yaml(),
      FELIX_EVENT_CONN_RECV_WINDOW: '320MiB',
    };
    const loaded = loadClientConfig({ env, overrides: { eventConnRecvWindow: 340 * MiB } });
    expect(loaded.config.eventConnRecvWindow).toBe(340 * MiB);
    expect(loaded.provenance.eventConnRecvWindow).toEqual({
      source: 'override',
      detail: 'option eventConnRecvWindow',
    });
  });

  it('skips options left undefined, as CLI parsers leave unset flags', () => {
    const loaded = loadClientConfig({
      env: { FELIX_EVENT_CONN_POOL: '3' },
      overrides: { eventConnPool: undefined },
    });
    expect(loaded.config.eventConnPool).toBe(3);
  });

  it('validates a layer even when a higher one replaces it', () => {
    const error = configErrorOf(() =>
      loadClientConfig({ env: { FELIX_EVENT_CONN_POOL: 'eight' }, overrides: { eventConnPool: 8 } }),
    );
    expect(error.setting).toBe('FELIX_EVENT_CONN_POOL');
  });

  it('reads the file path from the configPath option before FELIX_CLIENT_CONFIG', () => {
    const loaded = loadClientConfig({
      env: { FELIX_CLIENT_CONFIG: '/nonexistent/client.yml' },
      configPath: writeTempFile('event_conn_pool: 2\n'),
    });
    expect(loaded.config.eventConnPool).toBe(2);
  });

  it('reads the profile from the profile option before FELIX_PROFILE', () => {
    const loaded = loadClientConfig({ env: { FELIX_PROFILE: 'high-memory' }, profile: 'balanced' });
    expect(loaded.profile).toBe('balanced');
    expect(loaded.config.eventConnRecvWindow).toBe(256 * MiB);
  });

  it('refuses a bad FELIX_PROFILE even when the profile option replaces it', () => {
    expect(() => loadClientConfig({ env: { FELIX_PROFILE: 'fast' }, profile: 'balanced' })).toThrow(
      /Invalid FELIX_PROFILE \(from the environment\): got "fast"/,
    );
  });

  it('refuses an empty FELIX_BROKER_CONFIG even when the configPath option replaces it (its file is not read)', () => {
    const path = writeTempFile('fanout_batch: 8\n');
    expect(() => loadBrokerConfig({ env: { FELIX_BROKER_CONFIG: '' }, configPath: path })).toThrow(
      /FELIX_BROKER_CONFIG/,
    );
    expect(
      loadBrokerConfig({ env: { FELIX_BROKER_CONFIG: '/nonexistent.yml' }, configPath: path }).config
        .fanoutBatch,
    ).toBe(8);
  });

  it('applies the same layering on the broker side with FELIX_BROKER_CONFIG', () => {
    const path = writeTempFile('sub_queue_capacity: 100\nfanout_batch: 8\n');
    const loaded = loadBrokerConfig({
      env: { FELIX_BROKER_CONFIG: path, FELIX_SUB_QUEUE_CAPACITY: '200' },
      overrides: { fanoutBatch: '16' },
      overrideLabel: (key) => `flag --${key}`,
    });
    expect(loaded.config.subQueueCapacity).toBe(200);
    expect(loaded.config.fanoutBatch).toBe(16);
    expect(loaded.provenance.fanoutBatch).toEqual({ source: 'override', detail: 'flag --fanoutBatch' });
  });

  it('ignores the other side’s file variable', () => {
    const loaded = loadClientConfig({ env: { FELIX_BROKER_CONFIG: '/nonexistent/broker.yml' } });
    expect(loaded.configPath).toBeNull();
  });
});

describe('the start-up report', () => {
  it('has one line per value with its origin', () => {
    const loaded = loadBrokerConfig({ env: { FELIX_QUIC_BIND: '127.0.0.1:0' } });
    const line = loaded.report.find((entry) => entry.key === 'quicBind');
    expect(line).toEqual({
      key: 'quicBind',
      name: 'FELIX_QUIC_BIND',
      value: '127.0.0.1:0',
      source: 'env',
      detail: 'environment',
    });
    expect(loaded.report.map((entry) => entry.key)).toEqual(Object.keys(loaded.config));
    expect(loaded.report.find((entry) => entry.key === 'tenants')).toMatchObject({
      name: 'tenants',
      value: 'none',
    });
  });
});
