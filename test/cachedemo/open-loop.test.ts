// cachedemo's open loop (--rate): operations started on a schedule whatever is in flight, latency from
// each one's scheduled start (asserted on a fake clock), the flag, and the real program against its own
// broker over QUIC on loopback with every answer as expected. No timing is asserted.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { invalidRows } from '../../cachedemo/report.js';
import { addBenchFlags, resolveBenchSettings } from '../../cachedemo/settings.js';
import type { OpResult } from '../../cachedemo/suite.js';
import { runOpsAtRate } from '../../cachedemo/workload.js';
import type { PacerClock } from '../../latencydemo/pacer.js';
import { SPIN_WITHIN_MS, START_DELAY_MS } from '../../latencydemo/pacer.js';
import { EXIT_INVALID_RUN, withoutRateShortfall } from '../support/open-loop-shortfall.js';

/** A clock that moves only when the pacer waits or `advance` is called; every sleep wakes `lateMs` late. */
function fakeClock(lateMs: number): PacerClock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.t += ms + lateMs;
      return Promise.resolve();
    },
    nextTurn: () => {
      clock.t += 0.01;
      return Promise.resolve();
    },
  };
  return clock;
}

function flags(argv: string[]): Record<string, unknown> {
  const command = addBenchFlags(new Command('cachedemo')).exitOverride();
  command.configureOutput({ writeErr: () => {} });
  command.parse(argv, { from: 'user' });
  return command.opts();
}

describe('cachedemo open loop', () => {
  it('starts operations on schedule without waiting for earlier ones, latency from the scheduled start', async () => {
    const clock = fakeClock(6);
    const pending: (() => void)[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const keysSeen: string[] = [];
    // Every operation stays unanswered until the whole schedule is out, then all answer 10 ms later.
    const op = (_i: number, key: string): Promise<unknown> => {
      keysSeen.push(key);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      return new Promise((resolve) => pending.push(() => resolve('v')));
    };
    const checked: number[] = [];
    const running = runOpsAtRate(op, {
      rate: 200,
      total: 10,
      durationMs: null,
      keys: ['a', 'b', 'c'],
      check: (keyIndex) => checked.push(keyIndex),
      clock,
    });
    // Let the pacer hand out all ten (the fake clock never blocks).
    for (let i = 0; i < 100 && pending.length < 10; i++) await new Promise((r) => setImmediate(r));
    expect(maxInFlight).toBe(10);
    const lastStart = clock.t;
    clock.t += 10;
    pending.forEach((answer) => answer());
    const stats = await running;
    expect(stats.count).toBe(10);
    expect(keysSeen).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c', 'a']);
    expect(checked).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    // Operation i was due at START_DELAY_MS + 5 i ms (the clock starts at 0) and answered at lastStart + 10:
    // its latency counts from when it was due, not from when it was (late) started.
    const answeredAt = lastStart + 10;
    const dueAt = (i: number) => START_DELAY_MS + 5 * i;
    expect(stats.maxUs).toBeGreaterThanOrEqual(Math.floor((answeredAt - dueAt(0)) * 1000 * 0.999));
    expect(stats.maxUs).toBeLessThanOrEqual(Math.ceil((answeredAt - dueAt(0)) * 1000 * 1.001));
    expect(stats.p50Us).toBeGreaterThanOrEqual(Math.floor((answeredAt - dueAt(5)) * 1000 * 0.999));
    expect(stats.openLoop!.rateOps).toBe(200);
    // Ten starts over 45 ms of schedule, each at most 4 ms late: 9 intervals in 41 to 49 ms.
    expect(stats.openLoop!.achievedRateOps).toBeGreaterThanOrEqual(9000 / 49);
    expect(stats.openLoop!.achievedRateOps).toBeLessThanOrEqual(9000 / 41);
    // A sleep that wakes 6 ms late, SPIN_WITHIN_MS of which was kept in hand, starts an operation 4 ms late.
    expect(stats.openLoop!.startLagMaxUs).toBeGreaterThanOrEqual((6 - SPIN_WITHIN_MS) * 1000 - 10);
  });

  it('runs rate × duration operations when a duration is given, and passes a failure on', async () => {
    const clock = fakeClock(0);
    let calls = 0;
    const stats = await runOpsAtRate(
      () => {
        calls++;
        return Promise.resolve(null);
      },
      { rate: 1000, total: 1, durationMs: 50, keys: ['k'], clock },
    );
    expect(calls).toBe(50);
    expect(stats.count).toBe(50);
    await expect(
      runOpsAtRate(() => Promise.reject(new Error('boom')), {
        rate: 1000,
        total: 5,
        durationMs: null,
        keys: ['k'],
        clock: fakeClock(0),
      }),
    ).rejects.toThrow('boom');
  });

  it('takes --rate as a flag only (null without it)', () => {
    expect(resolveBenchSettings({}, flags([])).rate).toBeNull();
    expect(resolveBenchSettings({}, flags(['--rate', '5000'])).rate).toBe(5000);
    expect(() => flags(['--rate', '0'])).toThrow(/invalid --rate="0"/);
  });

  /** dist/cachedemo/main.js with `args` (and FELIX_* `env` for the broker it starts), as a process. */
  function runDemo(
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const demo = fileURLToPath(new URL('../../dist/cachedemo/main.js', import.meta.url));
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [demo, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (exit) => resolve({ code: exit, stdout: out, stderr: err }));
    });
  }

  it('exits 2 on a bad flag or value, and 3 with its report when the cache is too small for the keys', async () => {
    for (const bad of [['--bogus'], ['--concurrency', '0']]) expect((await runDemo(bad)).code).toBe(2);
    const small = await runDemo(
      ['--payloads', '900', '--keys', '2000', '--warmup', '20', '--samples', '300'],
      {
        FELIX_CACHE_MAX_BYTES: '1MiB',
        FELIX_CACHE_MAX_VALUE_BYTES: '65536',
      },
    );
    expect(small.code, small.stderr).toBe(3);
    expect(small.stdout).toMatch(/INVALID RUN: 900 B values: get_hit needs 2320 entries held at once/);
    expect(small.stderr).not.toMatch(/\n\s+at /);
  });

  it('runs against a broker it starts: every answer as expected, the achieved rate reported', async () => {
    const args = ['--payloads', '64', '--warmup', '20', '--samples', '300', '--keys', '50'];
    const { code, stdout, stderr } = await runDemo([...args, '--rate', '2000', '--json']);
    expect(code === 0 || code === EXIT_INVALID_RUN, stderr).toBe(true);
    const document = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      settings: { rate: number };
      results: { op: string; n: number; unexpected: number; rate_ops: number; achieved_rate_ops: number }[];
      invalid: string[];
    };
    expect(document.settings.rate).toBe(2000);
    expect(document.results.map((r) => r.op)).toEqual(['put', 'get_hit', 'get_miss']);
    for (const r of document.results) {
      expect(r).toMatchObject({ n: 300, unexpected: 0, rate_ops: 2000 });
      expect(r.achieved_rate_ops).toBeGreaterThan(0);
    }
    // Invalid only for falling short of the rate (a judgement of this host's speed), and exit 3 then.
    expect(withoutRateShortfall(document.invalid, 'cachedemo --rate 2000')).toEqual([]);
    expect(code).toBe(document.invalid.length > 0 ? EXIT_INVALID_RUN : 0);
  });
});

describe('cachedemo open loop short of its rate', () => {
  const row = (achievedRateOps: number, startLagMaxUs = 1): OpResult => ({
    op: 'get_hit',
    payload: 256,
    unexpected: 0,
    clientCpuUsPerOp: 1,
    serverCpuUsPerOp: null,
    stats: {
      count: 20_000,
      p50Us: 1,
      p99Us: 1,
      p999Us: 1,
      maxUs: 1,
      avgUs: 1,
      throughputOps: achievedRateOps,
      openLoop: { rateOps: 500_000, achievedRateOps, startLagP99Us: 1, startLagMaxUs },
    },
  });

  it('is an INVALID RUN beyond 5%, saying by how much', () => {
    expect(invalidRows([row(480_000)])).toEqual([]);
    expect(invalidRows([row(214_952)])).toEqual([
      'get_hit 256 B: open loop achieved 214952.00 ops/s of the 500000 asked (57.0% short, more than 5%): ' +
        'operations started late, so latencies from their scheduled starts measure queueing in the demo, not the cache',
    ]);
  });

  it('is an INVALID RUN when its starts fell behind for a while, though the achieved rate held', () => {
    // 20 000 operations at 500 000 ops/s: 5% of them is 2 ms of schedule.
    expect(invalidRows([row(500_000, 2_000)])).toEqual([]);
    expect(invalidRows([row(500_000, 10_000)])).toEqual([
      "get_hit 256 B: open loop: the starter fell 10.0 ms behind its schedule at worst, 25.0% of the run's " +
        'operations (more than 5%): it was saturated for a while, so latencies from the scheduled times ' +
        'measure queueing in the demo',
    ]);
  });
});
