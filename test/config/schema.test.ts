import { describe, expect, it } from 'vitest';
import { brokerSide } from '../../config/broker-settings.js';
import { catalogue, catalogueEntries } from '../../config/catalogue.js';
import { clientSide } from '../../config/client-settings.js';
import { defineSettings, integer } from '../../config/setting.js';
import { TRANSPORT_RANGES } from '../../transport/settings.js';

const sidesOf = new Map<string, string>(
  catalogueEntries().map(({ setting, sides }) => [setting.env, sides.join('+')]),
);

describe('the settings catalogue', () => {
  it.each([
    // DESIGN §4 and the brief: these names must exist, read by these sides.
    ['FELIX_PUB_CONN_POOL', 'client'],
    ['FELIX_PUB_STREAMS_PER_CONN', 'client'],
    ['FELIX_PUB_SHARDING', 'client'],
    ['FELIX_EVENT_CONN_POOL', 'client'],
    ['FELIX_EVENT_CONN_RECV_WINDOW', 'client'],
    ['FELIX_EVENT_STREAM_RECV_WINDOW', 'client'],
    ['FELIX_EVENT_SEND_WINDOW', 'broker+client'],
    ['FELIX_EVENT_BATCH_MAX_DELAY_US', 'broker'],
    ['FELIX_EVENT_BATCH_MAX_EVENTS', 'broker'],
    ['FELIX_EVENT_BATCH_MAX_BYTES', 'broker'],
    ['FELIX_FANOUT_BATCH', 'broker'],
    ['FELIX_PUBLISH_CHUNK_BYTES', 'client'],
    ['FELIX_CACHE_CONN_POOL', 'client'],
    ['FELIX_CACHE_STREAMS_PER_CONN', 'client'],
    ['FELIX_CACHE_CONN_RECV_WINDOW', 'client'],
    ['FELIX_CACHE_STREAM_RECV_WINDOW', 'client'],
    ['FELIX_CACHE_SEND_WINDOW', 'client'],
    ['FELIX_DISABLE_TIMINGS', 'broker+client'],
    ['FELIX_QUIC_BIND', 'broker'],
    ['FELIX_BROKER_METRICS_BIND', 'broker'],
    ['FELIX_SUB_QUEUE_CAPACITY', 'broker'],
    ['FELIX_SUB_QUEUE_POLICY', 'broker'],
    ['FELIX_TLS_CERT', 'broker'],
    ['FELIX_TLS_KEY', 'broker'],
    ['FELIX_TLS_CA', 'client'],
    ['FELIX_TLS_INSECURE', 'client'],
    ['FELIX_MAX_FRAME_BYTES', 'broker+client'],
    ['FELIX_MAX_UDP_PAYLOAD', 'broker+client'],
    ['FELIX_UDP_SEND_BUFFER', 'broker+client'],
    ['FELIX_UDP_RECV_BUFFER', 'broker+client'],
    ['FELIX_CC', 'broker+client'],
    ['FELIX_IDLE_TIMEOUT_MS', 'broker+client'],
    ['FELIX_LOG_LEVEL', 'broker+client'],
    ['FELIX_SHUTDOWN_DRAIN_TIMEOUT_MS', 'broker'],
    ['FELIX_CACHE_MAX_BYTES', 'broker'],
  ])('has %s, read by %s', (env, sides) => {
    expect(sidesOf.get(env)).toBe(sides);
  });

  it('declares each environment name once: a shared setting is one object on both sides', () => {
    const bySide = [brokerSide, clientSide].flatMap((side) => Object.values(side.settings));
    for (const setting of bySide) {
      const sameName = bySide.filter((other) => other.env === setting.env);
      expect(new Set(sameName).size, setting.env).toBe(1);
    }
  });

  it('gives every alias to one setting only', () => {
    const names = catalogueEntries().flatMap(({ setting }) => [setting.env, ...setting.envAliases]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('knows the loader variables and every alias', () => {
    for (const name of ['FELIX_PROFILE', 'FELIX_BROKER_CONFIG', 'FELIX_CLIENT_CONFIG', 'FELIX_SUB_CONNS']) {
      expect(catalogue.knownEnvNames.has(name), name).toBe(true);
    }
  });

  it('documents every setting', () => {
    for (const { setting } of catalogueEntries()) expect(setting.doc.length, setting.env).toBeGreaterThan(40);
  });

  it('refuses a property not named after its setting', () => {
    expect(() =>
      defineSettings({
        pool: integer({ env: 'FELIX_EVENT_POOL', default: 1, min: 1, max: 2, unit: 'x', doc: '' }),
      }),
    ).toThrow('setting FELIX_EVENT_POOL must be declared as "eventPool", not "pool"');
  });

  it('refuses a default outside its own range', () => {
    expect(() => integer({ env: 'FELIX_X', default: 0, min: 1, max: 2, unit: 'x', doc: '' })).toThrow(
      'FELIX_X: default 0 is not an integer from 1 to 2 (x)',
    );
  });
});

describe('ranges agree with the transport', () => {
  const transportRangeOf: Record<string, { min: number; max: number }> = {
    ConnRecvWindow: TRANSPORT_RANGES.connRecvWindow,
    StreamRecvWindow: TRANSPORT_RANGES.streamRecvWindow,
    SendWindow: TRANSPORT_RANGES.sendWindow,
    maxUdpPayload: TRANSPORT_RANGES.maxUdpPayload,
    udpSendBuffer: TRANSPORT_RANGES.udpSendBuffer,
    udpRecvBuffer: TRANSPORT_RANGES.udpRecvBuffer,
    idleTimeoutMs: TRANSPORT_RANGES.idleTimeoutMs,
  };

  const settings = { ...brokerSide.settings, ...clientSide.settings };
  const cases = Object.entries(settings).flatMap(([key, setting]) => {
    const suffix = Object.keys(transportRangeOf).find((name) => key.endsWith(name));
    return suffix === undefined ? [] : [[setting.env, setting.kind.range, transportRangeOf[suffix]] as const];
  });

  it('covers every transport knob', () => {
    expect(cases.length).toBe(4 * 3 + 4);
  });

  it.each(cases)('%s accepts nothing the transport would refuse', (_, range, transport) => {
    expect(range).toBeDefined();
    expect(range!.min).toBeGreaterThanOrEqual(transport.min);
    expect(range!.max).toBeLessThanOrEqual(transport.max);
  });
});
