// The benchmark programs refuse a bad setting or flag as a usage error, in one line with exit 2, before
// they start a broker: a bad client FELIX_* setting (cachedemo's and slowdemo's connect() alone would
// check it only once their broker was up; latencydemo's loader checks it first, one a flag overrides included), a bad
// FELIX_CACHE_BENCH_* variable even when its flag wins, flags that contradict each other. The built
// programs, run as a user runs them; whether a broker process was started is recorded from outside
// (test/support/demo-process.ts).
import { describe, expect, it } from 'vitest';
import { expectUsageError, runDemoProcess, startedBroker } from '../support/demo-process.js';

const CACHE_TINY = ['--payloads', '64', '--ops', 'put', '--keys', '1', '--warmup', '1', '--samples', '5'];
const LATENCY_TINY = ['--warmup', '1', '--total', '5', '--idle-ms', '2000'];
const BAD_POOL = (demo: string, name: string): string =>
  `${demo}: Invalid ${name} (from the environment): got "abc"; allowed: an integer from 1 to 256 (connections).`;

describe('demo usage errors', () => {
  it.each([
    [
      'cachedemo',
      'a bad client setting',
      CACHE_TINY,
      { FELIX_CACHE_CONN_POOL: 'abc' },
      BAD_POOL('cachedemo', 'FELIX_CACHE_CONN_POOL'),
    ],
    [
      'cachedemo',
      'client settings that contradict each other',
      CACHE_TINY,
      { FELIX_RECONNECT_INITIAL_MS: '5000', FELIX_RECONNECT_MAX_MS: '100' },
      expect.stringMatching(
        /^cachedemo: Inconsistent settings: FELIX_RECONNECT_INITIAL_MS must not exceed FELIX_RECONNECT_MAX_MS/,
      ),
    ],
    [
      'cachedemo',
      'a bad FELIX_CACHE_BENCH_* variable its flag overrides (every FELIX_* layer is validated)',
      ['--concurrency', '1', ...CACHE_TINY],
      { FELIX_CACHE_BENCH_CONCURRENCY: 'lots' },
      'cachedemo: invalid FELIX_CACHE_BENCH_CONCURRENCY="lots": expected an integer from 1 to 1000000',
    ],
    // On/off variables take the settings' boolean format (1, 0, true, false): Felix's parser read these as
    // off, so `VALIDATE_EACH=yes` silently compared nothing.
    ...(
      [
        ['FELIX_CACHE_BENCH_VALIDATE_EACH', 'yes'],
        ['FELIX_CACHE_BENCH_CONN_STATS', 'on'],
        ['FELIX_CACHE_BENCH_TIMINGS', 'abc'],
        ['FELIX_CACHE_BENCH_VALIDATE_EACH', 'TRUE'],
        // Empty is a bad value, not "use the default", as for every FELIX_* setting.
        ['FELIX_CACHE_BENCH_VALIDATE_EACH', ''],
      ] as const
    ).map(
      ([name, value]) =>
        [
          'cachedemo',
          `${name}=${JSON.stringify(value)} (an on/off variable takes 1, 0, true or false)`,
          CACHE_TINY,
          { [name]: value },
          `cachedemo: invalid ${name}=${JSON.stringify(value)}: expected 1, 0, true or false`,
        ] as const,
    ),
    [
      'cachedemo',
      'an empty numeric FELIX_CACHE_BENCH_* variable',
      CACHE_TINY,
      { FELIX_CACHE_BENCH_CONCURRENCY: '' },
      'cachedemo: invalid FELIX_CACHE_BENCH_CONCURRENCY="": expected an integer from 1 to 1000000',
    ],
    // --duration-ms replaces --samples, which was dropped without a word.
    [
      'cachedemo',
      '--duration-ms with --samples',
      [...CACHE_TINY, '--duration-ms', '200'],
      {},
      'cachedemo: --duration-ms and --samples exclude each other (--duration-ms measures for a time instead ' +
        'of a number of samples)',
    ],
    [
      'cachedemo',
      'both variables, even when a flag makes the choice',
      CACHE_TINY,
      { FELIX_CACHE_BENCH_SAMPLES: '5', FELIX_CACHE_BENCH_DURATION_MS: '200' },
      'cachedemo: FELIX_CACHE_BENCH_DURATION_MS and FELIX_CACHE_BENCH_SAMPLES exclude each other ' +
        '(FELIX_CACHE_BENCH_DURATION_MS measures for a time instead of a number of samples)',
    ],
    // Nothing to compare without get_hit: the flag was taken and did nothing.
    [
      'cachedemo',
      '--validate-each without get_hit in --ops',
      [...CACHE_TINY, '--validate-each'],
      {},
      'cachedemo: --validate-each checks get_hit values, but --ops (put) has no get_hit',
    ],
    [
      'cachedemo',
      '--broker-cpu-prof with --broker (that broker is not started here, so it cannot be profiled)',
      ['--broker', '127.0.0.1:9', '--broker-cpu-prof', 'prof', ...CACHE_TINY],
      {},
      "error: option '--broker-cpu-prof <dir>' cannot be used with option '--broker <addr>'",
    ],
    [
      'latencydemo',
      'a bad client setting',
      LATENCY_TINY,
      { FELIX_CACHE_CONN_POOL: 'abc' },
      BAD_POOL('latencydemo', 'FELIX_CACHE_CONN_POOL'),
    ],
    [
      'latencydemo',
      'a bad client setting its flag overrides',
      ['--pub-conns', '1', ...LATENCY_TINY],
      { FELIX_PUB_CONN_POOL: 'abc' },
      BAD_POOL('latencydemo', 'FELIX_PUB_CONN_POOL'),
    ],
    // Flags of a mode not asked for were dropped without a word (--payloads 0,256 ran payload 0).
    [
      'latencydemo',
      '--payloads without --matrix',
      ['--payloads', '0,256', '--fanouts', '5', ...LATENCY_TINY],
      {},
      "--payloads needs --matrix (it lists the matrix's payloads)",
    ],
    [
      'latencydemo',
      '--fanouts with --all (its sweep has cases of its own)',
      ['--all', '--fanouts', '5'],
      {},
      "--fanouts needs --matrix (it lists the matrix's fanouts)",
    ],
    [
      'latencydemo',
      '--payload with --matrix (which takes --payloads)',
      ['--matrix', '--payload', '256', ...LATENCY_TINY],
      {},
      '--payload and --matrix exclude each other (--matrix takes --payloads)',
    ],
    // Felix's run_all sets these per case and ignores the flags: --total 50000 ran 2000 and 5000.
    [
      'latencydemo',
      "--total with --all (its sweep sets each case's)",
      ['--all', '--total', '50000'],
      {},
      "--total and --all exclude each other (--all sets each case's payload, fanout, batch, warmup and total)",
    ],
    // The demo's broker takes FELIX_FANOUT_BATCH from --batch: the variable was replaced without a word,
    // while the JSON report's `env` still showed it.
    [
      'latencydemo',
      'a FELIX_FANOUT_BATCH its broker would not get',
      LATENCY_TINY,
      { FELIX_FANOUT_BATCH: '64' },
      "latencydemo: FELIX_FANOUT_BATCH=64 in the environment, but the demo's broker takes FELIX_FANOUT_BATCH " +
        "from --batch (1), as Felix's: unset it, or give --batch 64 (--rate and --broker keep the broker's own)",
    ],
    // The acked mode (batch 1 without --binary) awaits each publish's ack: no window applies.
    [
      'latencydemo',
      '--pub-window at batch 1 without --binary',
      ['--pub-window', '4', ...LATENCY_TINY],
      {},
      '--pub-window bounds unacknowledged batches: at batch 1 without --binary each publish awaits its ack ' +
        '(give --batch above 1, or --binary)',
    ],
    [
      'latencydemo',
      '--broker-node-flags with --broker (that broker is not spawned here, so it cannot take them)',
      ['--broker', '127.0.0.1:9', '--broker-node-flags', '--cpu-prof', ...LATENCY_TINY],
      {},
      "error: option '--broker-node-flags <flags>' cannot be used with option '--broker <addr>'",
    ],
    // slowdemo's runs connect in processes of their own, each after starting its broker.
    [
      'slowdemo',
      'a bad client setting',
      ['--duration', '1', '--warmup', '0'],
      { FELIX_PUB_CONN_POOL: 'abc' },
      BAD_POOL('slowdemo', 'FELIX_PUB_CONN_POOL'),
    ],
  ] as const)('%s refuses %s before starting a broker', async (demo, _what, args, env, message) => {
    expectUsageError(await runDemoProcess(demo, args, env), [message]);
  });

  it('cachedemo starts its broker once the settings are good (what the checks above compare with)', async () => {
    const run = await runDemoProcess('cachedemo', [...CACHE_TINY, '--concurrency', '1'], {
      FELIX_CACHE_CONN_POOL: '2',
      FELIX_CACHE_BENCH_CONCURRENCY: '4',
      FELIX_CACHE_BENCH_CONN_STATS: '1',
      FELIX_CACHE_BENCH_TIMINGS: 'false',
      FELIX_CACHE_BENCH_DURATION_MS: '2000',
    });
    expect(run.code, run.stderr).toBe(0);
    // The flag wins over a good variable; --samples over a variable's duration, which it replaces.
    expect(run.stdout).toContain('concurrency=1 ');
    expect(run.stdout).toContain(' samples=5 ');
    // 1 turns an on/off variable on, false leaves it off.
    expect(run.stdout).toContain('cache_conn_counts=[');
    expect(run.stdout).toContain('timings=false ');
    expect(startedBroker(run.programs)).toBe(true);
  });
});
