import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { loadClientConfig } from '../../client/config.js';
import { configErrorOf, writeTempFile } from './helpers.js';

function loadClientFile(contents: string) {
  const path = writeTempFile(contents);
  return { path, load: () => loadClientConfig({ env: { FELIX_CLIENT_CONFIG: path } }) };
}

describe('the YAML file', () => {
  it('rejects an unknown key with a suggestion for a close known key, naming file and line', () => {
    const { path, load } = loadClientFile('event_conn_pool: 4\n# comment\nevent_con_pool: 8\n');
    expect(configErrorOf(load).message).toBe(
      `${path} line 3: unknown key event_con_pool. Did you mean event_conn_pool?`,
    );
  });

  it.each([
    ['fanout_batch_size: 8', 'fanout_batch'],
    ['metrics_bind: 0.0.0.0:1', 'broker_metrics_bind'],
    ['FELIX_QUIC_BIND: 0.0.0.0:1', 'quic_bind'],
    ['quicBind: 0.0.0.0:1', 'quic_bind'],
  ])('suggests the right key for %j', (line, suggestion) => {
    const path = writeTempFile(`${line}\n`);
    const error = configErrorOf(() => loadBrokerConfig({ env: { FELIX_BROKER_CONFIG: path } }));
    expect(error.message).toContain(`Did you mean ${suggestion}?`);
  });

  it("suggests a close key of the other side's file, and says it belongs there", () => {
    const path = writeTempFile('pubConnPool: 4\n');
    const error = configErrorOf(() => loadBrokerConfig({ env: { FELIX_BROKER_CONFIG: path } }));
    expect(error.message).toBe(
      `${path} line 1: unknown key pubConnPool. Did you mean pub_conn_pool? It is a client setting, which ` +
        "the broker does not read; put it in the client's file (FELIX_CLIENT_CONFIG).",
    );
  });

  it('suggests nothing when no key is close', () => {
    const { load } = loadClientFile('colour: blue\n');
    expect(configErrorOf(load).message).toMatch(/unknown key colour\.$/);
  });

  it("says when a key belongs in the other side's file", () => {
    const { path, load } = loadClientFile('quic_bind: 0.0.0.0:5000\n');
    expect(configErrorOf(load).message).toBe(
      `${path} line 1: quic_bind is a broker setting, which the client does not read; ` +
        "put it in the broker's file (FELIX_BROKER_CONFIG).",
    );
    const brokerFile = writeTempFile('pub_conn_pool: 2\n');
    expect(
      configErrorOf(() => loadBrokerConfig({ env: { FELIX_BROKER_CONFIG: brokerFile } })).message,
    ).toContain(
      "pub_conn_pool is a client setting, which the broker does not read; put it in the client's file (FELIX_CLIENT_CONFIG)",
    );
  });

  it('accepts keys both sides read in either file', () => {
    const { load } = loadClientFile('max_frame_bytes: 8MiB\n');
    expect(load().config.maxFrameBytes).toBe(8 * 1024 * 1024);
  });

  it('refuses a file that cannot be read, naming the variable that pointed to it', () => {
    const error = configErrorOf(() =>
      loadClientConfig({ env: { FELIX_CLIENT_CONFIG: '/nonexistent/client.yml' } }),
    );
    expect(error.message).toMatch(
      /^Cannot read the configuration file \/nonexistent\/client\.yml \(from FELIX_CLIENT_CONFIG\)/,
    );
    const fromOption = configErrorOf(() => loadClientConfig({ env: {}, configPath: '/nonexistent/x.yml' }));
    expect(fromOption.message).toContain('(from option configPath)');
  });

  it('refuses an empty FELIX_CLIENT_CONFIG instead of reading no file', () => {
    expect(configErrorOf(() => loadClientConfig({ env: { FELIX_CLIENT_CONFIG: '' } })).setting).toBe(
      'FELIX_CLIENT_CONFIG',
    );
  });

  it.each([
    ['invalid YAML', 'event_conn_pool: [1\n', /is not valid YAML/],
    ['duplicate keys', 'event_conn_pool: 1\nevent_conn_pool: 2\n', /Map keys must be unique/],
    ['a list at the top level', '- event_conn_pool\n', /must be a mapping/],
    ['a scalar at the top level', 'hello\n', /must be a mapping/],
  ])('refuses %s', (_, contents, message) => {
    expect(configErrorOf(loadClientFile(contents).load).message).toMatch(message);
  });

  it('accepts an empty file or one with only comments', () => {
    expect(loadClientFile('').load().config.eventConnPool).toBe(8);
    expect(loadClientFile('# nothing here\n').load().config.eventConnPool).toBe(8);
  });
});
