// cachedemo's settings: Felix's FELIX_CACHE_BENCH_* variables, flags winning over them, bad values named.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addBenchFlags, benchEnvNames, resolveBenchSettings } from '../../cachedemo/settings.js';
import { CACHE_BENCH_ENV_NAMES, catalogue } from '../../config/catalogue.js';

function flags(argv: string[]): Record<string, unknown> {
  const command = addBenchFlags(new Command('cachedemo')).exitOverride();
  command.configureOutput({ writeErr: () => {} });
  command.parse(argv, { from: 'user' });
  return command.opts();
}

describe('cachedemo settings', () => {
  it('defaults: concurrency 32, 1024 keys, five payloads, the three ops, no TTL', () => {
    const s = resolveBenchSettings({}, {});
    expect(s).toMatchObject({
      concurrency: 32,
      keys: 1024,
      payloads: [0, 64, 256, 1024, 4096],
      ops: ['put', 'get_hit', 'get_miss'],
      ttlMs: null,
      durationMs: null,
      validateEach: false,
    });
  });

  it('--help states every default that is a value, the same the settings resolve to', () => {
    const help = addBenchFlags(new Command('cachedemo')).helpInformation().replace(/\s+/g, ' ');
    const s = resolveBenchSettings({}, {});
    expect(help).toContain(`FELIX_CACHE_BENCH_WARMUP; default ${s.warmup})`);
    expect(help).toContain(`FELIX_CACHE_BENCH_CONCURRENCY; default ${s.concurrency})`);
    expect(help).toContain(`FELIX_CACHE_BENCH_PAYLOADS; default ${s.payloads.join(',')})`);
    expect(help).toContain(`FELIX_CACHE_BENCH_OPS; default ${s.ops.join(',')})`);
    // No default to state: absent (no TTL) or off.
    expect(help).toContain('(FELIX_CACHE_BENCH_TTL_MS)');
    expect(help).toContain('(FELIX_CACHE_BENCH_TIMINGS)');
  });

  it("reads Felix's variables, and flags win over them", () => {
    const env = {
      FELIX_CACHE_BENCH_CONCURRENCY: '8',
      FELIX_CACHE_BENCH_PAYLOADS: '16, 32',
      FELIX_CACHE_BENCH_OPS: 'get_miss,get_hit',
      FELIX_CACHE_BENCH_TTL_MS: '5000',
      FELIX_CACHE_BENCH_VALIDATE_EACH: 'true',
      FELIX_CACHE_BENCH_SAMPLES: '100',
    };
    expect(resolveBenchSettings(env, {})).toMatchObject({
      concurrency: 8,
      payloads: [16, 32],
      ops: ['get_miss', 'get_hit'],
      ttlMs: 5000,
      validateEach: true,
      samples: 100,
    });
    const s = resolveBenchSettings(
      env,
      flags(['--concurrency', '4', '--payloads', '256', '--duration-ms', '50']),
    );
    expect(s).toMatchObject({ concurrency: 4, payloads: [256], durationMs: 50, samples: 100 });
  });

  it('refuses a bad value, naming the variable or the flag', () => {
    expect(() => resolveBenchSettings({ FELIX_CACHE_BENCH_CONCURRENCY: '0' }, {})).toThrow(
      'invalid FELIX_CACHE_BENCH_CONCURRENCY="0": expected an integer from 1 to 1000000',
    );
    expect(() => resolveBenchSettings({ FELIX_CACHE_BENCH_OPS: 'put,scan' }, {})).toThrow(
      'invalid FELIX_CACHE_BENCH_OPS="put,scan": expected put, get_hit, get_miss',
    );
    expect(() => flags(['--payloads', '1,,2'])).toThrow('invalid --payloads="1,,2"');
  });

  it('every variable it reads is a known name, so the client loader does not warn about it', () => {
    expect([...benchEnvNames()].sort()).toEqual([...CACHE_BENCH_ENV_NAMES].sort());
    for (const name of CACHE_BENCH_ENV_NAMES) expect(catalogue.knownEnvNames.has(name), name).toBe(true);
  });
});
