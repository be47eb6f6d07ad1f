import { describe, expect, expectTypeOf, it } from 'vitest';
import type { BindAddress } from '../../config/kinds.js';
import { loadSide } from '../../config/load.js';
import {
  bindAddress,
  byteSize,
  defineSettings,
  duration,
  filePath,
  flag,
  integer,
  oneOf,
  text,
} from '../../config/setting.js';
import { defineSide, type Catalogue } from '../../config/side.js';
import { GiB, KiB, MiB } from '../../config/units.js';
import { configErrorOf, writeTempFile } from './helpers.js';

// One setting of every kind, so each parser is exercised through the real loader and its messages.
const settings = defineSettings({
  workers: integer({ env: 'FELIX_WORKERS', default: 4, min: 1, max: 64, unit: 'workers', doc: 'test' }),
  bufferSize: byteSize({ env: 'FELIX_BUFFER_SIZE', default: 64 * KiB, min: KiB, max: GiB, doc: 'test' }),
  flushDelayUs: duration({ env: 'FELIX_FLUSH_DELAY_US', default: 250, min: 0, max: 1000, doc: 'test' }),
  waitMs: duration({ env: 'FELIX_WAIT_MS', default: 10, min: 1, max: 60_000, doc: 'test' }),
  enabled: flag({ env: 'FELIX_ENABLED', default: false, doc: 'test' }),
  mode: oneOf({ env: 'FELIX_MODE', values: ['fast', 'safe'], default: 'safe', doc: 'test' }),
  label: text({ env: 'FELIX_LABEL', pattern: /^[a-z]+$/, describe: 'lower-case letters', doc: 'test' }),
  listen: bindAddress({ env: 'FELIX_LISTEN', default: '127.0.0.1:7000', doc: 'test' }),
  keyFile: filePath({ env: 'FELIX_KEY_FILE', doc: 'test' }),
});
const side = defineSide({ side: 'broker', settings, sections: {}, checks: [] });
const catalogue: Catalogue = {
  knownEnvNames: new Set(Object.values(settings).map((setting) => setting.env)),
  yamlKeyReaders: new Map(),
};

function fromEnv(env: Record<string, string>) {
  return loadSide(side, catalogue, { env }).config;
}

describe('the typed result', () => {
  it('infers each property type from the schema', () => {
    const config = fromEnv({});
    expectTypeOf(config.workers).toEqualTypeOf<number>();
    expectTypeOf(config.enabled).toEqualTypeOf<boolean>();
    expectTypeOf(config.mode).toEqualTypeOf<'fast' | 'safe'>();
    expectTypeOf(config.label).toEqualTypeOf<string | null>();
    expectTypeOf(config.listen).toEqualTypeOf<BindAddress>();
    expectTypeOf(config.keyFile).toEqualTypeOf<string | null>();
  });

  it('holds the defaults when nothing is set, and is frozen', () => {
    const config = fromEnv({});
    expect(config).toEqual({
      workers: 4,
      bufferSize: 64 * KiB,
      flushDelayUs: 250,
      waitMs: 10,
      enabled: false,
      mode: 'safe',
      label: null,
      listen: { host: '127.0.0.1', port: 7000 },
      keyFile: null,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listen)).toBe(true);
    expect(() => Object.assign(config, { workers: 5 })).toThrow(TypeError);
  });
});

describe('integer', () => {
  it.each([
    ['1', 1],
    ['64', 64],
    ['007', 7],
  ])('accepts %j', (raw, expected) => {
    expect(fromEnv({ FELIX_WORKERS: raw }).workers).toBe(expected);
  });

  it.each(['0', '65', '-1', '1.5', '0x10', '1e1', ' 4', '4 ', '', 'four'])(
    'refuses %j naming setting, value and range',
    (raw) => {
      const error = configErrorOf(() => fromEnv({ FELIX_WORKERS: raw }));
      expect(error.setting).toBe('FELIX_WORKERS');
      expect(error.value).toBe(raw);
      expect(error.message).toBe(
        `Invalid FELIX_WORKERS (from the environment): got ${JSON.stringify(raw)}; ` +
          'allowed: an integer from 1 to 64 (workers).',
      );
    },
  );
});

describe('byte size', () => {
  it.each([
    ['65536', 64 * KiB],
    ['1024', KiB],
    ['64KiB', 64 * KiB],
    ['64 KiB', 64 * KiB],
    ['64kib', 64 * KiB],
    ['256MiB', 256 * MiB],
    ['1GiB', GiB],
    ['4096B', 4 * KiB],
  ])('accepts %j', (raw, expected) => {
    expect(fromEnv({ FELIX_BUFFER_SIZE: raw }).bufferSize).toBe(expected);
  });

  it.each(['64KB', '64MB', '1.5MiB', '2GiB', '1023', '0', '-1KiB', 'MiB', '64 MiB extra'])(
    'refuses %j',
    (raw) => {
      const error = configErrorOf(() => fromEnv({ FELIX_BUFFER_SIZE: raw }));
      expect(error.message).toContain(
        `Invalid FELIX_BUFFER_SIZE (from the environment): got ${JSON.stringify(raw)}`,
      );
      expect(error.allowed).toBe(
        'a byte size from 1 KiB to 1 GiB, written as a number of bytes or with a suffix TiB, GiB, MiB, KiB, B (e.g. 64KiB)',
      );
    },
  );
});

describe('duration', () => {
  it('reads the unit the name says', () => {
    const config = fromEnv({ FELIX_FLUSH_DELAY_US: '0', FELIX_WAIT_MS: '60000' });
    expect(config.flushDelayUs).toBe(0);
    expect(config.waitMs).toBe(60_000);
  });

  it('names the unit in words when refusing', () => {
    expect(configErrorOf(() => fromEnv({ FELIX_FLUSH_DELAY_US: '1001' })).allowed).toBe(
      'an integer number of microseconds from 0 to 1000',
    );
    expect(configErrorOf(() => fromEnv({ FELIX_WAIT_MS: '0' })).allowed).toBe(
      'an integer number of milliseconds from 1 to 60000',
    );
  });

  it('refuses suffixed durations, since the unit is in the name', () => {
    expect(configErrorOf(() => fromEnv({ FELIX_WAIT_MS: '10ms' })).value).toBe('10ms');
  });

  it('cannot be declared under a name without its unit', () => {
    expect(() => duration({ env: 'FELIX_WAIT', default: 1, min: 0, max: 2, doc: 'test' })).toThrow(
      /_MS or _US/,
    );
  });
});

describe('boolean', () => {
  it.each([
    ['1', true],
    ['true', true],
    ['0', false],
    ['false', false],
  ])('accepts %j', (raw, expected) => {
    expect(fromEnv({ FELIX_ENABLED: raw }).enabled).toBe(expected);
  });

  it.each(['yes', 'no', 'on', 'TRUE', 'True', '2', ''])('refuses %j', (raw) => {
    const error = configErrorOf(() => fromEnv({ FELIX_ENABLED: raw }));
    expect(error.message).toBe(
      `Invalid FELIX_ENABLED (from the environment): got ${JSON.stringify(raw)}; allowed: 1, 0, true or false.`,
    );
  });
});

describe('enum', () => {
  it('accepts a listed value', () => {
    expect(fromEnv({ FELIX_MODE: 'fast' }).mode).toBe('fast');
  });

  it.each(['FAST', 'quick', ''])('refuses %j listing the allowed values', (raw) => {
    expect(configErrorOf(() => fromEnv({ FELIX_MODE: raw })).allowed).toBe('one of fast, safe');
  });
});

describe('string', () => {
  it('accepts text matching its pattern', () => {
    expect(fromEnv({ FELIX_LABEL: 'abc' }).label).toBe('abc');
  });

  it.each(['ABC', 'a b', ''])('refuses %j with its description', (raw) => {
    expect(configErrorOf(() => fromEnv({ FELIX_LABEL: raw })).allowed).toBe('lower-case letters');
  });
});

describe('bind address', () => {
  it.each([
    ['0.0.0.0:5000', { host: '0.0.0.0', port: 5000 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['broker.internal:8080', { host: 'broker.internal', port: 8080 }],
    ['[::1]:5000', { host: '::1', port: 5000 }],
    ['[::]:5000', { host: '::', port: 5000 }],
  ])('accepts %j', (raw, expected) => {
    expect(fromEnv({ FELIX_LISTEN: raw }).listen).toEqual(expected);
  });

  it.each([
    '5000',
    '0.0.0.0',
    '0.0.0.0:65536',
    '999.1.1.1:80',
    '::1:5000',
    '[1.2.3.4]:80',
    'host:port',
    ':5000',
    'a b:1',
  ])('refuses %j', (raw) => {
    const error = configErrorOf(() => fromEnv({ FELIX_LISTEN: raw }));
    expect(error.setting).toBe('FELIX_LISTEN');
    expect(error.allowed).toContain('host:port');
  });

  it('takes the typed form from options and checks it the same way', () => {
    const load = (listen: BindAddress) =>
      loadSide(side, catalogue, { env: {}, overrides: { listen } }).config;
    expect(load({ host: '::1', port: 9 }).listen).toEqual({ host: '::1', port: 9 });
    expect(configErrorOf(() => load({ host: '127.0.0.1', port: 70_000 })).message).toContain('option listen');
  });
});

describe('file path', () => {
  it('accepts an existing file', () => {
    const path = writeTempFile('key', 'key.pem');
    expect(fromEnv({ FELIX_KEY_FILE: path }).keyFile).toBe(path);
  });

  it('refuses a missing file or a directory at start-up, not at first use', () => {
    const directory = writeTempFile('x').replace(/\/config\.yml$/, '');
    for (const raw of ['/nonexistent/felix/key.pem', directory, '']) {
      const error = configErrorOf(() => fromEnv({ FELIX_KEY_FILE: raw }));
      expect(error.allowed).toContain('the path of an existing file');
    }
  });
});

describe('YAML values', () => {
  it('accepts native YAML types and suffixed sizes', () => {
    const path = writeTempFile(
      [
        'workers: 8',
        'buffer_size: 256MiB',
        'enabled: true',
        'mode: fast',
        'listen: "[::1]:1"',
        'wait_ms: 1000',
        'flush_delay_us: 007',
      ].join('\n'),
    );
    const config = loadSide(side, catalogue, { env: {}, configPath: path }).config;
    expect(config).toMatchObject({
      workers: 8,
      bufferSize: 256 * MiB,
      enabled: true,
      mode: 'fast',
      waitMs: 1000,
      flushDelayUs: 7,
    });
    expect(config.listen).toEqual({ host: '::1', port: 1 });
  });

  it('names the YAML key, file and line of a bad value', () => {
    const path = writeTempFile('mode: fast\nworkers: 2.5\n');
    const error = configErrorOf(() => loadSide(side, catalogue, { env: {}, configPath: path }));
    expect(error.message).toBe(
      `Invalid FELIX_WORKERS (YAML key workers in ${path} line 2): got "2.5"; allowed: an integer from 1 to 64 (workers).`,
    );
  });

  // "Decimal digits only", as in the environment: YAML would read each of these as a whole number.
  it.each([
    ['wait_ms', '1e3'],
    ['wait_ms', '0x10'],
    ['wait_ms', '0o20'],
    ['wait_ms', '+5'],
    ['workers', '8.0'],
    ['buffer_size', '1e6'],
  ])('refuses %s: %s, a number not written as decimal digits, showing it as written', (key, written) => {
    const path = writeTempFile(`${key}: ${written}\n`);
    const error = configErrorOf(() => loadSide(side, catalogue, { env: {}, configPath: path }));
    expect(error.value).toBe(written);
    expect(error.message).toContain(`(YAML key ${key} in ${path} line 1): got "${written}"`);
  });

  it.each([
    ['enabled: yes', 'FELIX_ENABLED'],
    ['workers:', 'FELIX_WORKERS'],
    ['workers: [1, 2]', 'FELIX_WORKERS'],
  ])('refuses %j', (line, setting) => {
    const path = writeTempFile(line);
    expect(configErrorOf(() => loadSide(side, catalogue, { env: {}, configPath: path })).setting).toBe(
      setting,
    );
  });
});
