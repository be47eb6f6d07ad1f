import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { brokerSide } from '../../config/broker-settings.js';
import { loadClientConfig } from '../../client/config.js';
import { generateSelfSignedCertificate } from '../../transport/index.js';
import { configErrorOf, writeTempFile } from './helpers.js';

const broker = (env: Record<string, string>) => () => loadBrokerConfig({ env });
const client = (env: Record<string, string>) => () => loadClientConfig({ env });

describe('rules between settings', () => {
  it.each([
    ['broker', 'FELIX_BROKER'],
    ['event', 'FELIX_EVENT'],
    ['cache', 'FELIX_CACHE'],
    ['pub', 'FELIX_PUB'],
  ])('%s: the stream window cannot exceed the connection window', (family, prefix) => {
    const env = { [`${prefix}_CONN_RECV_WINDOW`]: '32MiB', [`${prefix}_STREAM_RECV_WINDOW`]: '64MiB' };
    const load = family === 'broker' ? broker(env) : client(env);
    const error = configErrorOf(load);
    expect(error.message).toBe(
      `Inconsistent settings: ${prefix}_STREAM_RECV_WINDOW must not exceed ${prefix}_CONN_RECV_WINDOW: ` +
        'a stream can never use more than its connection window. ' +
        `Current values: ${prefix}_STREAM_RECV_WINDOW=64 MiB (environment), ` +
        `${prefix}_CONN_RECV_WINDOW=32 MiB (environment).`,
    );
    expect(error.setting).toBe(`${prefix}_STREAM_RECV_WINDOW, ${prefix}_CONN_RECV_WINDOW`);
    // Equal windows are fine.
    const equal = { ...env, [`${prefix}_STREAM_RECV_WINDOW`]: '32MiB' };
    expect(() => (family === 'broker' ? broker(equal) : client(equal))()).not.toThrow();
  });

  it('reports every broken rule, one line each, and names every setting involved', () => {
    // 128 MiB frames outgrow both a connection's partial-frame bound and its publish budget.
    const error = configErrorOf(broker({ FELIX_MAX_FRAME_BYTES: '128MiB' }));
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^Inconsistent settings: FELIX_MAX_FRAME_BYTES must not exceed FELIX_CONN_PARTIAL_FRAME_BYTES: .*\.$/,
    );
    expect(lines[1]).toMatch(
      /^Inconsistent settings: FELIX_MAX_FRAME_BYTES must not exceed FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: .*\.$/,
    );
    expect(error.setting).toBe(
      'FELIX_MAX_FRAME_BYTES, FELIX_CONN_PARTIAL_FRAME_BYTES, FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES',
    );
  });

  it('names where each involved value came from', () => {
    const path = writeTempFile('event_conn_recv_window: 32MiB\n');
    const error = configErrorOf(client({ FELIX_CLIENT_CONFIG: path }));
    expect(error.message).toContain(
      `FELIX_EVENT_STREAM_RECV_WINDOW=64 MiB (built-in default), FELIX_EVENT_CONN_RECV_WINDOW=32 MiB (${path} line 1)`,
    );
  });

  it('a publish chunk must fit a frame with its envelope', () => {
    expect(() =>
      client({ FELIX_MAX_FRAME_BYTES: '64KiB', FELIX_PUBLISH_CHUNK_BYTES: '63KiB' })(),
    ).not.toThrow();
    expect(
      configErrorOf(client({ FELIX_MAX_FRAME_BYTES: '64KiB', FELIX_PUBLISH_CHUNK_BYTES: '64KiB' })).message,
    ).toContain('FELIX_PUBLISH_CHUNK_BYTES plus 1024 bytes must not exceed FELIX_MAX_FRAME_BYTES');
  });

  it('an event batch must fit a frame with its envelope', () => {
    const env = { FELIX_MAX_FRAME_BYTES: '64KiB', FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: '64KiB' };
    expect(configErrorOf(broker({ ...env, FELIX_EVENT_BATCH_MAX_BYTES: '64KiB' })).message).toContain(
      'FELIX_EVENT_BATCH_MAX_BYTES plus 1024 bytes must not exceed FELIX_MAX_FRAME_BYTES',
    );
  });

  it("one connection's publish budget cannot exceed the whole budget", () => {
    const error = configErrorOf(broker({ FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: '128MiB' }));
    expect(error.message).toContain(
      'FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES must not exceed FELIX_BROKER_PUBLISH_INFLIGHT_BYTES',
    );
  });

  it("a maximal frame must fit one connection's publish budget", () => {
    const error = configErrorOf(broker({ FELIX_MAX_FRAME_BYTES: '32MiB' }));
    expect(error.message).toContain(
      'FELIX_MAX_FRAME_BYTES must not exceed FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES',
    );
    expect(() =>
      broker({ FELIX_MAX_FRAME_BYTES: '32MiB', FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: '32MiB' })(),
    ).not.toThrow();
  });

  it('the largest cache entry must fit a frame in base64', () => {
    // 12 MiB in base64 is 16 MiB: with the key and envelope it no longer fits a 16 MiB frame.
    expect(configErrorOf(broker({ FELIX_CACHE_MAX_VALUE_BYTES: '12MiB' })).message).toContain(
      'FELIX_CACHE_MAX_VALUE_BYTES in base64',
    );
    expect(() => broker({ FELIX_CACHE_MAX_VALUE_BYTES: '11MiB' })()).not.toThrow();
  });

  it('the largest cache entry must fit the cache', () => {
    const error = configErrorOf(
      broker({ FELIX_CACHE_MAX_BYTES: '2MiB', FELIX_CACHE_MAX_VALUE_BYTES: '2MiB' }),
    );
    expect(error.message).toContain('must not exceed FELIX_CACHE_MAX_BYTES');
    // What an entry costs besides its key and value counts too: key + value alone at the bound is refused,
    // and leaving room for the path and the bookkeeping is not.
    const tight = { FELIX_CACHE_MAX_BYTES: '1MiB', FELIX_CACHE_MAX_KEY_BYTES: '16' };
    expect(
      configErrorOf(broker({ ...tight, FELIX_CACHE_MAX_VALUE_BYTES: String(1024 * 1024 - 16) })).message,
    ).toContain('at most 768 bytes, and 400 bytes of bookkeeping');
    expect(() =>
      broker({ ...tight, FELIX_CACHE_MAX_VALUE_BYTES: String(1024 * 1024 - 16 - 768 - 400) })(),
    ).not.toThrow();
  });

  it("with the default key and value limits the cache's smallest size is the one its doc names", () => {
    // 4 KiB key + 4 MiB value + 768 bytes of path + 400 of bookkeeping: the number configuration.md gives.
    const smallest = 4199568;
    const doc = brokerSide.settings.cacheMaxBytes.doc;
    expect(doc).toContain(`anything under ${smallest} bytes (about 4.01 MiB) is refused`);
    expect(configErrorOf(broker({ FELIX_CACHE_MAX_BYTES: String(smallest - 1) })).message).toContain(
      'must not exceed FELIX_CACHE_MAX_BYTES',
    );
    expect(() => broker({ FELIX_CACHE_MAX_BYTES: String(smallest) })()).not.toThrow();
  });

  it('a TLS certificate needs its key, and the other way round', () => {
    const pem = writeTempFile('pem', 'x.pem');
    const halves: Record<string, string>[] = [{ FELIX_TLS_CERT: pem }, { FELIX_TLS_KEY: pem }];
    for (const env of halves) {
      expect(configErrorOf(broker(env)).message).toContain(
        'FELIX_TLS_CERT and FELIX_TLS_KEY must be set together',
      );
    }
    expect(broker({ FELIX_TLS_CERT: pem, FELIX_TLS_KEY: pem })().config.tlsCert).toBe(pem);
  });

  it('the top of FELIX_CACHE_MAX_VALUE_BYTES is reachable: with a 1-byte key and the largest frame it starts', () => {
    const top = brokerSide.settings.cacheMaxValueBytes.kind.range!.max;
    const MAX_FRAME = String(2 ** 32 - 1);
    const env = (value: number) => ({
      FELIX_CACHE_MAX_VALUE_BYTES: String(value),
      FELIX_CACHE_MAX_KEY_BYTES: '1',
      FELIX_CACHE_MAX_BYTES: '4GiB',
      FELIX_MAX_FRAME_BYTES: MAX_FRAME,
      // The frame-size rules of the publish path, opened as far as the frame.
      FELIX_PARTIAL_FRAME_BYTES: MAX_FRAME,
      FELIX_CONN_PARTIAL_FRAME_BYTES: MAX_FRAME,
      FELIX_TENANT_PARTIAL_FRAME_BYTES: MAX_FRAME,
      FELIX_BROKER_PUBLISH_INFLIGHT_BYTES: MAX_FRAME,
      FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: MAX_FRAME,
      FELIX_BROKER_PUBLISH_TENANT_INFLIGHT_BYTES: MAX_FRAME,
    });
    expect(broker(env(top))().config.cacheMaxValueBytes).toBe(top);
    expect(top).toBe(3 * 1024 ** 3 - 771);
    expect(configErrorOf(broker(env(top + 1))).message).toContain(
      'Invalid FELIX_CACHE_MAX_VALUE_BYTES (from the environment): got "3221224702"; allowed: a byte size from 1 B to 3 GiB − 771 B',
    );
  });

  it('FELIX_TLS_INSECURE cannot be combined with a CA', async () => {
    // A real certificate: FELIX_TLS_CA must hold PEM certificates that parse.
    const pem = writeTempFile((await generateSelfSignedCertificate()).certPem, 'ca.pem');
    expect(configErrorOf(client({ FELIX_TLS_CA: pem, FELIX_TLS_INSECURE: '1' })).message).toContain(
      'FELIX_TLS_INSECURE cannot be on while FELIX_TLS_CA is set',
    );
  });

  it('turning auto-creation off requires declared tenants', () => {
    const error = configErrorOf(broker({ FELIX_AUTO_CREATE_STREAMS: '0' }));
    expect(error.message).toContain('with FELIX_AUTO_CREATE_STREAMS off, the YAML file must declare tenants');
    expect(error.message).toContain('tenants=none (built-in default)');
    const path = writeTempFile(
      'auto_create_streams: false\ntenants:\n  acme:\n    namespaces:\n      a:\n        streams: [s]\n',
    );
    expect(loadBrokerConfig({ env: { FELIX_BROKER_CONFIG: path } }).config.autoCreateStreams).toBe(false);
  });
});
