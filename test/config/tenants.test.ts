import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';
import { configErrorOf, writeTempFile } from './helpers.js';

function loadTenants(yaml: string) {
  const path = writeTempFile(yaml);
  return { path, load: () => loadBrokerConfig({ env: { FELIX_BROKER_CONFIG: path } }) };
}

const DECLARED = `
auto_create_streams: false
tenants:
  acme:
    namespaces:
      orders:
        streams: [created, shipped]
        caches: [sessions]
      billing:
        streams: [invoices]
  beta-2:
    namespaces:
      kv:
        caches: [hot.keys]
`;

describe('the tenants block', () => {
  it('declares tenants, namespaces, streams and caches in file order, frozen', () => {
    const { path, load } = loadTenants(DECLARED);
    const loaded = load();
    expect(loaded.config.tenants).toEqual([
      {
        id: 'acme',
        namespaces: [
          { name: 'orders', streams: ['created', 'shipped'], caches: ['sessions'] },
          { name: 'billing', streams: ['invoices'], caches: [] },
        ],
      },
      { id: 'beta-2', namespaces: [{ name: 'kv', streams: [], caches: ['hot.keys'] }] },
    ]);
    expect(Object.isFrozen(loaded.config.tenants[0].namespaces[0].streams)).toBe(true);
    expect(loaded.provenance.tenants).toEqual({ source: 'yaml', detail: `${path} line 3` });
    expect(loaded.report.find((line) => line.key === 'tenants')?.value).toBe(
      '2 tenants, 3 namespaces, 3 streams, 2 caches',
    );
  });

  it('can be given as an option in the YAML shape', () => {
    const loaded = loadBrokerConfig({
      env: {},
      overrides: { tenants: { t: { namespaces: { n: { streams: ['s'] } } } } },
    });
    expect(loaded.config.tenants).toEqual([
      { id: 't', namespaces: [{ name: 'n', streams: ['s'], caches: [] }] },
    ]);
  });

  it.each([
    ['a list instead of a mapping', 'tenants: [acme]', 1, 'tenants must be a mapping'],
    ['a tenant without namespaces', 'tenants:\n  acme:', 2, 'tenants.acme must be a mapping, got no value.'],
    [
      'an empty namespaces mapping',
      'tenants:\n  acme:\n    namespaces: {}',
      3,
      'tenants.acme.namespaces declares no namespace.',
    ],
    [
      'a misspelt field',
      'tenants:\n  acme:\n    namespace:\n      a:\n        streams: [s]',
      3,
      'tenants.acme has an unknown field namespace. Did you mean namespaces?',
    ],
    [
      'a namespace with nothing in it',
      'tenants:\n  acme:\n    namespaces:\n      a: {}',
      4,
      'tenants.acme.namespaces.a declares no streams and no caches.',
    ],
    [
      'a misspelt list',
      'tenants:\n  acme:\n    namespaces:\n      a:\n        stream: [s]',
      5,
      'tenants.acme.namespaces.a has an unknown field stream. Did you mean streams?',
    ],
    [
      'a stream name with a space',
      'tenants:\n  acme:\n    namespaces:\n      a:\n        streams: ["bad name"]',
      5,
      'tenants.acme.namespaces.a.streams[0] is not a valid name ("bad name")',
    ],
    [
      'a bad name on its own line of a list',
      'tenants:\n  acme:\n    namespaces:\n      a:\n        streams:\n          - s\n          - "bad name"',
      7,
      'tenants.acme.namespaces.a.streams[1] is not a valid name ("bad name")',
    ],
    [
      'a duplicate stream',
      'tenants:\n  acme:\n    namespaces:\n      a:\n        streams: [s, s]',
      5,
      'tenants.acme.namespaces.a.streams lists s twice.',
    ],
    [
      'a stream that is not a string',
      'tenants:\n  acme:\n    namespaces:\n      a:\n        streams: [1]',
      5,
      'tenants.acme.namespaces.a.streams[0] must be a name, got 1.',
    ],
    [
      'a retention in decimal units',
      'tenants:\n  acme:\n    namespaces:\n      a:\n        streams:\n          - { name: e, durable: true, retention_bytes: 10GB }',
      6,
      'tenants.acme.namespaces.a.streams[0].retention_bytes must be a byte size: a whole number of bytes, or one with B, KiB, MiB, GiB or TiB (10GiB), got "10GB".',
    ],
    [
      'a tenant id that is too long',
      `tenants:\n  ${'x'.repeat(256)}:\n    namespaces:\n      a:\n        caches: [c]`,
      2,
      'is not a valid name',
    ],
  ])('refuses %s, naming its line', (_, yaml, line, problem) => {
    const { path, load } = loadTenants(yaml);
    const error = configErrorOf(load);
    expect(error.message).toContain(`Invalid tenants (YAML key tenants in ${path} line ${line}): `);
    expect(error.message).toContain(problem);
    // One full stop at the end, none after a question.
    expect(error.message).not.toMatch(/\?\.$|\.\.$/);
    expect(error.setting).toBe('tenants');
  });
});
