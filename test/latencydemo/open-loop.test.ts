// latencydemo's open loop (--rate) without a broker: the pacer on a fake clock (each message stamped with
// its scheduled send time, however late it actually went out; the achieved rate and the lag), the
// publisher's streams, the subscribers counting latency from the stamp, the flags and the report.
import { describe, expect, it } from 'vitest';
import type { FelixClient, FelixEvent, SubscribeOptions } from '../../client/index.js';
import { brokerEnvironment } from '../../latencydemo/broker-env.js';
import { buildCaseReport, type CaseReport } from '../../latencydemo/case-report.js';
import { planCases, type CaseConfig } from '../../latencydemo/cases.js';
import { parseCommandLine, type SettingDefaults } from '../../latencydemo/cli.js';
import { OpenLoopPublisher, streamIndex, type OpenLoopReport } from '../../latencydemo/open-loop.js';
import {
  achievedRate,
  pace,
  SPIN_WITHIN_MS,
  START_DELAY_MS,
  TURN_SENDS,
  type PacerClock,
} from '../../latencydemo/pacer.js';
import { planStreams } from '../../latencydemo/publish-plan.js';
import { caseIntro, caseResults, parseTextReport, textHeader } from '../../latencydemo/report.js';
import { allocatePayload, readSentAt, readSeq, writeStamp } from '../../latencydemo/stamp.js';
import { SubscriberGroup, type LatencySummary } from '../../latencydemo/subscribers.js';

/**
 * A clock that only moves when the pacer waits: every sleep overshoots by `lateMs` (a busy process waking
 * late), every turn takes `turnMs`, and `stallAt` adds one long stall before that send.
 */
function fakeClock(lateMs: number, turnMs = 0.01): PacerClock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.t += ms + lateMs;
      return Promise.resolve();
    },
    nextTurn: () => {
      clock.t += turnMs;
      return Promise.resolve();
    },
  };
  return clock;
}

const defaults: SettingDefaults = {
  pubConns: 4,
  pubStreamsPerConn: 2,
  pubSharding: 'hash_stream',
  subConns: 1,
  largestMessageBytes: 16_776_192,
};
const parse = (...args: string[]) => parseCommandLine(args, defaults);

describe('the open-loop pacer', () => {
  it('hands every send its scheduled time, not the time it went out, and reports the lag', async () => {
    const clock = fakeClock(5);
    const sends: { index: number; scheduledAt: number; at: number }[] = [];
    const result = await pace(
      20,
      100,
      (index, scheduledAt) => sends.push({ index, scheduledAt, at: clock.t }),
      {
        clock,
      },
    );
    expect(sends.map((s) => s.index)).toEqual([...Array(20).keys()]);
    // Evenly spaced from the start: 10 ms apart at 100/s, whatever the clock did.
    for (const s of sends) expect(s.scheduledAt).toBeCloseTo(START_DELAY_MS + s.index * 10, 9);
    // Each sleep woke 5 ms late, SPIN_WITHIN_MS of which it had kept in hand: every send is 3 ms behind.
    for (const s of sends) expect(s.at - s.scheduledAt).toBeCloseTo(5 - SPIN_WITHIN_MS, 9);
    expect(result.lagP50Us).toBeGreaterThanOrEqual(2990);
    expect(result.lagMaxUs).toBeLessThanOrEqual(3010);
    expect(result.achievedRate).toBeCloseTo(100, 6);
    expect(result.sent).toBe(20);
  });

  it('after a stall sends everything due at once, each with its own scheduled time, a turn at a time', async () => {
    // One sleep of the first wait overshoots by a full second: 1,000 sends at 1,000/s are then due.
    let stalled = false;
    const clock = fakeClock(0);
    const sleep = clock.sleep;
    clock.sleep = (ms) => {
      if (!stalled) {
        stalled = true;
        return sleep(ms + 1000);
      }
      return sleep(ms);
    };
    const turns: number[] = [];
    let lastTurnAt = -1;
    const scheduled: number[] = [];
    await pace(
      1200,
      1000,
      (_i, scheduledAt) => {
        if (clock.t !== lastTurnAt) turns.push(0);
        lastTurnAt = clock.t;
        turns[turns.length - 1]!++;
        scheduled.push(scheduledAt);
      },
      { clock },
    );
    expect(scheduled).toHaveLength(1200);
    scheduled.forEach((at, i) => expect(at).toBeCloseTo(START_DELAY_MS + i, 9));
    expect(Math.max(...turns)).toBe(TURN_SENDS);
  });

  it('leaves the warmup out of the achieved rate and the lag', async () => {
    const clock = fakeClock(0);
    const result = await pace(30, 1000, () => undefined, { clock, measuredFrom: 10 });
    expect(result.sent).toBe(30);
    expect(result.firstSendAt).toBeGreaterThanOrEqual(START_DELAY_MS + 10);
    expect(result.lastSendAt).toBeGreaterThanOrEqual(START_DELAY_MS + 29);
    expect(achievedRate(20, 0, 19_000)).toBe(1);
    expect(achievedRate(1, 0, 5)).toBe(0);
  });

  it('refuses a rate that is not positive', async () => {
    await expect(pace(1, 0, () => undefined)).rejects.toThrow(RangeError);
  });
});

describe('the open-loop publisher', () => {
  it('publishes single unacknowledged messages stamped with their scheduled time, rotating streams per phase', async () => {
    const published: { stream: string; seq: number; sentAt: number; ack: unknown }[] = [];
    const client = {
      publish: (stream: string, payload: Uint8Array, options?: { ack?: string }) => {
        published.push({ stream, seq: readSeq(payload), sentAt: readSentAt(payload), ack: options?.ack });
        return Promise.resolve();
      },
    } as unknown as Pick<FelixClient, 'publish'>;
    const publisher = new OpenLoopPublisher(
      client,
      { rate: 500, warmup: 3, total: 7, payload: 32, streams: ['a', 'b'] },
      fakeClock(4),
    );
    const result = await publisher.run();
    expect(publisher.published).toBe(10);
    expect(published.map((p) => p.seq)).toEqual([...Array(10).keys()]);
    expect(published.map((p) => p.stream)).toEqual(['a', 'b', 'a', 'a', 'b', 'a', 'b', 'a', 'b', 'a']);
    expect(published.every((p) => p.ack === 'none')).toBe(true);
    published.forEach((p) => expect(p.sentAt).toBeCloseTo(result.startAt + p.seq * 2, 9));
    expect(publisher.warnings).toEqual([]);
  });

  it('puts each phase on the streams where the subscribers expect it', () => {
    const plan = planStreams(5, 11, 1, 3, undefined);
    const counts = plan.map(() => ({ warmup: 0, measured: 0 }));
    for (let seq = 0; seq < 16; seq++) counts[streamIndex(seq, 5, 3)]![seq < 5 ? 'warmup' : 'measured']++;
    expect(counts).toEqual(plan.map((s) => ({ warmup: s.warmup, measured: s.measured })));
  });
});

describe('open-loop latency', () => {
  it('runs from the stamped scheduled time, so time spent behind schedule counts', async () => {
    const subs: SubscribeOptions[] = [];
    const client = {
      subscribe: (_stream: string, options: SubscribeOptions) => {
        subs.push(options);
        return Promise.resolve({ closed: new Promise(() => undefined) });
      },
    } as unknown as FelixClient;
    const group = new SubscriberGroup(planStreams(0, 3, 1, 1, undefined), 1, 0);
    await group.subscribeAll(client);
    const payload = allocatePayload(0);
    // Scheduled 40 ms ago (a publisher that fell behind, or a queue): the latency includes those 40 ms.
    for (let seq = 0; seq < 3; seq++) {
      writeStamp(payload, performance.now() - 40, seq);
      subs[0]!.onEvent!({ payload, offset: seq } as unknown as FelixEvent);
    }
    const { primary } = group.latencies();
    expect(group.measuredReceived).toBe(3);
    expect(primary!.p50Ns).toBeGreaterThanOrEqual(40_000_000 * 0.999);
  });
});

describe('latencydemo --rate flags', () => {
  it('sets the rate, derives --total from --duration and bounds nothing in flight', () => {
    const r = parse('--rate', '5000', '--duration', '2.5', '--payload', '256', '--fanout', '10');
    expect(r.base).toMatchObject({ rate: 5000, total: 12500, batch: 1, binary: false });
    const [c] = planCases(r);
    expect(c).toMatchObject({ name: 'open-loop/f10-r5000-p256', pubWindow: 0, rate: 5000 });
    expect(parse('--rate', '100', '--total', '42').base.total).toBe(42);
    // The warmup is paced too: by default at most a second's worth (1000 at --rate 10 was 100 s).
    expect(parse('--rate', '10', '--duration', '2').base.warmup).toBe(10);
    expect(parse('--rate', '5000', '--duration', '2').base.warmup).toBe(1000);
    expect(parse('--rate', '10', '--warmup', '50', '--total', '20').base.warmup).toBe(50);
    expect(parse('--payload', '16776176').base.payload).toBe(16776176);
    const matrix = planCases(parse('--rate', '100', '--matrix', '--payloads', '0,256', '--fanouts', '1'));
    expect(matrix.map((m) => m.name)).toEqual(['open-loop/f1-r100-p0', 'open-loop/f1-r100-p256']);
  });

  it.each([
    [['--duration', '1'], '--duration needs --rate'],
    [['--rate', '10', '--duration', '1', '--total', '5'], 'exclude each other'],
    [['--rate', '10', '--batch', '64'], '--batch does not apply'],
    [['--rate', '10', '--binary'], 'drop --binary'],
    [['--rate', '10', '--pub-window', '4'], 'drop --pub-window'],
    [['--rate', '10', '--all'], '--rate and --all'],
    [['--rate', '0'], 'expected an integer from 1'],
    [['--rate', '10', '--duration', '0'], 'expected seconds above 0'],
    // One measured message has no rate (achieved rate: 0 over 0 s).
    [['--rate', '100', '--total', '1'], 'at least 2 messages'],
    [['--rate', '3', '--duration', '0.1'], 'at least 2 messages'],
    [['--payload', '16776177'], 'larger than the largest message, 16776192 bytes'],
  ])('refuses %j', (args, message) => {
    let error = '';
    const program = (): void => {
      try {
        parse(...args);
      } catch (e) {
        error = (e as Error).message;
        throw e;
      }
    };
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = () => true;
    try {
      expect(program).toThrow();
    } finally {
      process.stderr.write = write;
    }
    expect(error).toContain(message);
  });

  it("leaves the broker's batching as configured in the open loop", () => {
    const [open] = planCases(parse('--rate', '100'));
    expect(brokerEnvironment({}, open!).FELIX_FANOUT_BATCH).toBeUndefined();
    expect(brokerEnvironment({ FELIX_FANOUT_BATCH: '1' }, open!).FELIX_FANOUT_BATCH).toBe('1');
    const [closed] = planCases(parse('--batch', '8'));
    expect(brokerEnvironment({}, closed!).FELIX_FANOUT_BATCH).toBe('8');
  });
});

describe('the open-loop report', () => {
  /** The report of an open-loop case that delivered every message, with these latencies and this pacing. */
  function deliveredOpenLoop(
    c: CaseConfig,
    latency: LatencySummary,
    elapsedMs: number,
    openLoop: OpenLoopReport,
  ): CaseReport {
    return buildCaseReport(c, {
      sampleTotal: c.total,
      primaryReceived: c.total,
      deliveredTotal: c.total * c.fanout,
      reportedDrops: 0,
      primary: latency,
      all: latency,
      elapsedMs,
      warnings: [],
      openLoop,
    });
  }

  it('prints the rate, the achieved rate and the publisher lag, and reads them back', () => {
    const [c] = planCases(parse('--rate', '5000', '--duration', '2', '--payload', '256'));
    const latency = { p50Ns: 180_000, p99Ns: 900_000, p999Ns: 2_500_000, maxNs: 4_000_000 };
    const report = deliveredOpenLoop(c!, latency, 2001, {
      rate_msgs: 5000,
      achieved_rate_msgs: 4999.87,
      publisher_lag_p50_us: 3,
      publisher_lag_p99_us: 41,
      publisher_lag_max_us: 1234,
    });
    const text = textHeader('spawned', false) + caseIntro(c!) + caseResults(report);
    expect(text).toContain('Expectation: open loop at 5000 msg/s');
    expect(text).toContain(
      '\n  open loop: rate 5000 msg/s, achieved 4999.87 msg/s, publisher lag p50 = 3 us, p99 = 41 us, max = 1.234 ms\n',
    );
    expect(parseTextReport(text)).toEqual([report]);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(report).toMatchObject({ valid: true, invalid_reasons: [] });
  });

  it('makes a run whose publisher fell more than 5% short of --rate an INVALID RUN, saying so', () => {
    const [c] = planCases(parse('--rate', '500000', '--total', '100000'));
    // Publisher lag p99 6.65 s: the latencies are the demo's own queue.
    const latency = { p50Ns: 3e9, p99Ns: 6.6e9, p999Ns: 6.7e9, maxNs: 6.7e9 };
    const measured = (achieved: number, lagMaxUs = 6_700_000) =>
      deliveredOpenLoop(c!, latency, 465, openLoopOf(500_000, achieved, [3_000_000, 6_650_000, lagMaxUs]));
    const short = measured(214_952);
    expect(short.valid).toBe(false);
    expect(short.invalid_reasons).toEqual([
      'open loop achieved 214952.00 msg/s of the 500000 asked (57.0% short, more than 5%): the publisher was ' +
        'saturated, so latencies from its scheduled send times measure queueing in the demo, not the broker',
      "open loop: the publisher fell 6700.0 ms behind its schedule at worst, 3350.0% of the run's messages " +
        '(more than 5%): it was saturated for a while, so latencies from the scheduled times measure queueing ' +
        'in the demo',
    ]);
    const text = textHeader('spawned', false) + caseIntro(c!) + caseResults(short);
    expect(text).toContain('\nINVALID RUN: open loop achieved 214952.00 msg/s of the 500000 asked');
    expect(parseTextReport(text)).toEqual([short]);
    // Within the margin the run stands: on rate, and never more than a few ms behind.
    expect(measured(480_000, 5_000).valid).toBe(true);
  });

  it('makes a run whose publisher fell behind for a while and caught up an INVALID RUN, whatever its achieved rate', () => {
    // Measured by an outside review: 300 000 messages at 100 000 msg/s, 396 ms behind at worst, and an
    // achieved rate (first and last send) above the rate asked.
    const [c] = planCases(parse('--rate', '100000', '--total', '300000'));
    const latency = { p50Ns: 177e6, p99Ns: 400e6, p999Ns: 401e6, maxNs: 402e6 };
    const run = (lagMaxUs: number) =>
      deliveredOpenLoop(c!, latency, 3_000, openLoopOf(100_000, 100_597.78, [151_295, 390_399, lagMaxUs]));
    const caughtUp = run(396_458);
    expect(caughtUp.valid).toBe(false);
    expect(caughtUp.invalid_reasons).toEqual([
      "open loop: the publisher fell 396.5 ms behind its schedule at worst, 13.2% of the run's messages " +
        '(more than 5%): it was saturated for a while, so latencies from the scheduled times measure queueing ' +
        'in the demo',
    ]);
    // 5% of 300 000 messages at 100 000 msg/s is 150 ms: a publisher never further behind stands.
    expect(run(150_000).valid).toBe(true);
    expect(run(151_000).valid).toBe(false);
  });
});

/** An open-loop report of `rate` asked and `achieved`, its publisher lag p50/p99/max (none above max). */
function openLoopOf(rate: number, achieved: number, [p50, p99, max]: readonly [number, number, number]) {
  return {
    rate_msgs: rate,
    achieved_rate_msgs: achieved,
    publisher_lag_p50_us: Math.min(p50, max),
    publisher_lag_p99_us: Math.min(p99, max),
    publisher_lag_max_us: max,
  };
}
