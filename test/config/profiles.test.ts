import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { loadClientConfig } from '../../client/config.js';
import { KiB, MiB } from '../../config/units.js';
import { configErrorOf } from './helpers.js';

describe('FELIX_PROFILE', () => {
  it('balanced is exactly the defaults (DESIGN §4 seed values)', () => {
    const explicit = loadClientConfig({ env: { FELIX_PROFILE: 'balanced' } });
    const implicit = loadClientConfig({ env: {} });
    expect(explicit.config).toEqual(implicit.config);
    expect(Object.values(explicit.provenance).every(({ source }) => source === 'default')).toBe(true);
    expect(explicit.config).toMatchObject({
      eventConnPool: 8,
      eventConnRecvWindow: 256 * MiB,
      eventStreamRecvWindow: 64 * MiB,
      eventSendWindow: 256 * MiB,
      publishChunkBytes: 16_384,
      cacheConnPool: 8,
      cacheStreamsPerConn: 4,
      pubConnPool: 4,
      pubStreamsPerConn: 2,
      disableTimings: false,
    });
    expect(loadBrokerConfig({ env: {} }).config.eventBatchMaxDelayUs).toBe(250);
  });

  it('high-memory raises the windows and chunk and turns timings off (DESIGN §4)', () => {
    const { config, provenance } = loadClientConfig({ env: { FELIX_PROFILE: 'high-memory' } });
    expect(config).toMatchObject({
      eventConnRecvWindow: 512 * MiB,
      eventStreamRecvWindow: 128 * MiB,
      eventSendWindow: 512 * MiB,
      cacheConnRecvWindow: 512 * MiB,
      cacheStreamRecvWindow: 128 * MiB,
      cacheSendWindow: 512 * MiB,
      publishChunkBytes: 32 * KiB,
      disableTimings: true,
      // not part of the profile: unchanged
      eventConnPool: 8,
      pubConnPool: 4,
    });
    expect(provenance.publishChunkBytes.source).toBe('profile');
    expect(provenance.eventConnPool.source).toBe('default');
  });

  it('high-memory applies on the broker too', () => {
    const { config } = loadBrokerConfig({ env: { FELIX_PROFILE: 'high-memory' } });
    expect(config).toMatchObject({
      brokerConnRecvWindow: 512 * MiB,
      brokerStreamRecvWindow: 128 * MiB,
      brokerSendWindow: 512 * MiB,
      disableTimings: true,
    });
  });

  it.each(['High-Memory', 'fast', '', 'balanced '])('refuses %j naming the allowed profiles', (raw) => {
    const error = configErrorOf(() => loadClientConfig({ env: { FELIX_PROFILE: raw } }));
    expect(error.message).toBe(
      `Invalid FELIX_PROFILE (from the environment): got ${JSON.stringify(raw)}; allowed: one of balanced, high-memory.`,
    );
  });

  it('refuses an invalid profile option naming the option', () => {
    expect(configErrorOf(() => loadBrokerConfig({ env: {}, profile: 'huge' })).message).toContain(
      'Invalid FELIX_PROFILE (option profile): got "huge"',
    );
  });
});
