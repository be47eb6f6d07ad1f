import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { loadClientConfig } from '../../client/config.js';
import { configErrorOf } from './helpers.js';

describe('FELIX_* variables nobody reads', () => {
  it('are returned as warnings with a suggestion, not errors', () => {
    const loaded = loadClientConfig({ env: { FELIX_EVENT_CONN_POLL: '4', PATH: '/usr/bin' } });
    expect(loaded.warnings).toEqual([
      'FELIX_EVENT_CONN_POLL is set but no felix-ts setting has that name, so it changes nothing. ' +
        'Did you mean FELIX_EVENT_CONN_POOL?',
    ]);
    expect(loaded.config.eventConnPool).toBe(8);
  });

  it('suggest every candidate when a word is missing', () => {
    const [warning] = loadBrokerConfig({ env: { FELIX_METRICS_BIND: '0.0.0.0:1' } }).warnings;
    expect(warning).toContain('Did you mean FELIX_BROKER_METRICS_BIND?');
  });

  it('are listed in name order, one warning each', () => {
    const loaded = loadBrokerConfig({ env: { FELIX_ZZZ: '1', FELIX_AAA: '1' } });
    expect(loaded.warnings.map((warning) => warning.split(' ')[0])).toEqual(['FELIX_AAA', 'FELIX_ZZZ']);
  });

  it("do not include the other side's settings, since both share environments", () => {
    expect(loadBrokerConfig({ env: { FELIX_PUB_CONN_POOL: '2', FELIX_TLS_CA: '/x' } }).warnings).toEqual([]);
    expect(loadClientConfig({ env: { FELIX_QUIC_BIND: 'bad', FELIX_BROKER_CONFIG: '/x' } }).warnings).toEqual(
      [],
    );
  });

  it("ignore the other side's values entirely, even invalid ones", () => {
    expect(
      loadClientConfig({ env: { FELIX_SUB_QUEUE_POLICY: 'nonsense' } }).config.clientSubQueuePolicy,
    ).toBe('block');
  });

  it('do not include FELIX_PROFILE and the file variables', () => {
    expect(loadClientConfig({ env: { FELIX_PROFILE: 'balanced' } }).warnings).toEqual([]);
  });
});

describe("Felix's alternative names", () => {
  it('are read as the same setting, and reported under the name used', () => {
    const loaded = loadBrokerConfig({ env: { FELIX_SUBSCRIBER_QUEUE_CAPACITY: '64' } });
    expect(loaded.config.subQueueCapacity).toBe(64);
    expect(loaded.provenance.subQueueCapacity).toEqual({
      source: 'env',
      detail: 'environment as FELIX_SUBSCRIBER_QUEUE_CAPACITY',
    });
    expect(loaded.warnings).toEqual([]);
  });

  it('name themselves in errors', () => {
    expect(configErrorOf(() => loadClientConfig({ env: { FELIX_SUB_CONNS: '0' } })).message).toContain(
      'Invalid FELIX_EVENT_CONN_POOL (from the environment as FELIX_SUB_CONNS): got "0"',
    );
  });

  it('cannot be set together with the main name, even to the same value', () => {
    const error = configErrorOf(() =>
      loadBrokerConfig({ env: { FELIX_SUB_QUEUE_CAPACITY: '64', FELIX_SUBSCRIBER_QUEUE_CAPACITY: '64' } }),
    );
    expect(error.message).toBe(
      'FELIX_SUB_QUEUE_CAPACITY and FELIX_SUBSCRIBER_QUEUE_CAPACITY are both set, but they name the same setting; ' +
        'set only FELIX_SUB_QUEUE_CAPACITY.',
    );
  });
});

describe('explicit options', () => {
  it('name the option in errors', () => {
    const error = configErrorOf(() => loadClientConfig({ env: {}, overrides: { pubSharding: 'random' } }));
    expect(error.message).toBe(
      'Invalid FELIX_PUB_SHARDING (option pubSharding): got "random"; allowed: one of hash_stream, rr.',
    );
  });

  it('accept typed values and text alike', () => {
    const loaded = loadClientConfig({ env: {}, overrides: { tlsInsecure: true, maxFrameBytes: '32MiB' } });
    expect(loaded.config.tlsInsecure).toBe(true);
    expect(loaded.config.maxFrameBytes).toBe(32 * 1024 * 1024);
  });
});
