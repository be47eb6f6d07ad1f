// Unaccounted-delivery detection: the arithmetic, gap attribution to phases, and the subscribers' tallies
// driven through the SDK's callbacks without a broker.
import { describe, expect, it } from 'vitest';
import type { FelixClient, FelixEvent, GapInfo, SubscribeOptions } from '../../client/index.js';
import {
  invalidRunLine,
  judgeDeliveries,
  sendWindowWarning,
  splitGap,
} from '../../latencydemo/accounting.js';
import { buildCaseReport } from '../../latencydemo/case-report.js';
import { planCases } from '../../latencydemo/cases.js';
import { parseCommandLine } from '../../latencydemo/cli.js';
import { planStreams } from '../../latencydemo/publish-plan.js';
import { caseIntro, caseResults, parseTextReport } from '../../latencydemo/report.js';
import { allocatePayload, writeStamp } from '../../latencydemo/stamp.js';
import { SubscriberGroup } from '../../latencydemo/subscribers.js';

const defaults = {
  pubConns: 4,
  pubStreamsPerConn: 2,
  pubSharding: 'hash_stream',
  subConns: 1,
  largestMessageBytes: 16_776_192,
} as const;

describe('delivery accounting', () => {
  it('is valid only when every expected delivery was received or reported dropped', () => {
    expect(judgeDeliveries({ expected: 400, received: 400, reportedDrops: 0 })).toEqual({
      unaccounted: 0,
      valid: true,
    });
    expect(judgeDeliveries({ expected: 400, received: 390, reportedDrops: 10 }).valid).toBe(true);
    expect(judgeDeliveries({ expected: 400, received: 390, reportedDrops: 4 })).toEqual({
      unaccounted: 6,
      valid: false,
    });
    expect(judgeDeliveries({ expected: 400, received: 401, reportedDrops: 0 })).toEqual({
      unaccounted: -1,
      valid: false,
    });
  });

  it('says INVALID RUN with the numbers', () => {
    expect(invalidRunLine({ expected: 400, received: 400, reportedDrops: 0 })).toBeUndefined();
    expect(invalidRunLine({ expected: 400, received: 390, reportedDrops: 4 })).toBe(
      'INVALID RUN: 6 of 400 expected deliveries unaccounted (received 390, reported dropped 4)',
    );
    expect(invalidRunLine({ expected: 400, received: 402, reportedDrops: 0 })).toMatch(
      /^INVALID RUN: 2 deliveries more than the 400 expected/,
    );
  });

  it('makes drops invalid when the demo sized the queues, and warns of them when the bounds are the user’s', () => {
    const [c] = planCases(parseCommandLine(['--total', '300', '--batch', '64'], defaults));
    const measured = (dropsInvalid: boolean) =>
      buildCaseReport(c!, {
        sampleTotal: 300,
        primaryReceived: 213,
        deliveredTotal: 213,
        reportedDrops: 87,
        dropsInvalid,
        primary: null,
        all: null,
        elapsedMs: 100,
        warnings: [],
      });
    const sized = measured(true);
    expect(sized).toMatchObject({ unaccounted: 0, reported_drops: 87, valid: false });
    expect(sized.invalid_reasons).toEqual([
      expect.stringMatching(/^the broker dropped 87 of 300 measured deliveries although the demo sized/),
    ]);
    const text = caseResults(sized);
    expect(text).toMatch(/\nINVALID RUN: the broker dropped 87 of 300 measured deliveries/);
    expect(parseTextReport(caseIntro(c!) + text)).toEqual([sized]);
    const userBounds = measured(false);
    expect(userBounds).toMatchObject({ valid: true, invalid_reasons: [] });
    expect(userBounds.warnings).toEqual([expect.stringMatching(/^the broker dropped 87 of 300 measured/)]);
  });

  it('splits a gap in offsets between the warmup and the measured phase', () => {
    const phases = { warmup: 20, measured: 200 };
    expect(splitGap(3, 7, phases)).toEqual({ warmup: 4, measured: 0 });
    expect(splitGap(18, 25, phases)).toEqual({ warmup: 2, measured: 5 });
    expect(splitGap(30, 40, phases)).toEqual({ warmup: 0, measured: 10 });
    expect(splitGap(215, 230, phases)).toEqual({ warmup: 0, measured: 5 });
  });

  it('warns when a batched run fits in the send window', () => {
    const MiB = 1024 * 1024;
    expect(sendWindowWarning(1, 10_000, 4096, 256 * MiB)).toBeUndefined();
    expect(sendWindowWarning(64, 100_000, 4096, 256 * MiB)).toBeUndefined();
    const warning = sendWindowWarning(64, 10_000, 4096, 256 * MiB);
    expect(warning).toMatch(/^batched run smaller than the send window: 10000 events × 4112 B = 39\.2 MiB/);
    expect(warning).toContain('FELIX_EVENT_SEND_WINDOW 256.0 MiB');
    expect(warning).toContain('--total 65281 or more');
  });
});

interface FakeSubscription {
  readonly stream: string;
  readonly options: SubscribeOptions;
}

/** A client whose subscribe() only records the callbacks, so the test delivers events itself. */
function fakeClient(subs: FakeSubscription[]): FelixClient {
  return {
    subscribe: (stream: string, options: SubscribeOptions) => {
      subs.push({ stream, options });
      return Promise.resolve({ closed: new Promise(() => undefined) });
    },
  } as unknown as FelixClient;
}

const payload = allocatePayload(8);
function deliver(sub: FakeSubscription, seq: number, offset: number): void {
  writeStamp(payload, performance.now() - 0.25, seq);
  const event: FelixEvent = {
    tenant: 't1',
    namespace: 'default',
    stream: sub.stream,
    payload,
    offset,
    gap: 0,
  };
  sub.options.onEvent!(event);
}
function gap(sub: FakeSubscription, expected: number, offset: number): void {
  const info: GapInfo = { expected, offset, missed: offset - expected };
  sub.options.onGap!(info);
}

describe('subscriber tallies', () => {
  async function group(fanout: number): Promise<{ group: SubscriberGroup; subs: FakeSubscription[] }> {
    const subs: FakeSubscription[] = [];
    const g = new SubscriberGroup(planStreams(4, 10, 1, 1, undefined), fanout, 4);
    await g.subscribeAll(fakeClient(subs));
    return { group: g, subs };
  }

  it('subscribe from offset 0, fanout times per stream', async () => {
    const { subs } = await group(3);
    expect(subs.map((s) => [s.stream, s.options.start])).toEqual([
      ['latency', { offset: 0 }],
      ['latency', { offset: 0 }],
      ['latency', { offset: 0 }],
    ]);
  });

  it('count everything received as accounted and time only measured events', async () => {
    const { group: g, subs } = await group(2);
    for (const sub of subs) for (let seq = 0; seq < 14; seq++) deliver(sub, seq, seq);
    expect(g.warmupAccounted).toBe(8);
    expect(g.measuredReceived).toBe(20);
    expect(g.primaryReceived).toBe(10);
    expect(g.otherLatencies.totalCount).toBe(10);
    expect(g.primaryLatencies.totalCount).toBe(10);
    const { primary, all } = g.latencies();
    expect(primary!.p50Ns).toBeGreaterThan(0);
    expect(all!.maxNs).toBeGreaterThanOrEqual(primary!.maxNs);
    expect(g.primaryDoneAt).toBeGreaterThan(0);
    expect(
      judgeDeliveries({ expected: 20, received: g.measuredReceived, reportedDrops: g.measuredDropped }).valid,
    ).toBe(true);
  });

  it('account drops the broker reported, and leave silent losses unaccounted', async () => {
    const { group: g, subs } = await group(2);
    const [first, second] = subs as [FakeSubscription, FakeSubscription];
    // The first subscriber loses offsets 2..5 (two warmup, two measured events) and sees the gap.
    for (const seq of [0, 1]) deliver(first, seq, seq);
    gap(first, 2, 6);
    for (let seq = 6; seq < 14; seq++) deliver(first, seq, seq);
    // The second loses the last two events: nothing after them reveals a gap.
    for (let seq = 0; seq < 12; seq++) deliver(second, seq, seq);
    expect(g.warmupAccounted).toBe(8);
    expect(g.measuredDropped).toBe(2);
    expect(g.measuredReceived).toBe(8 + 8);
    const verdict = judgeDeliveries({
      expected: 20,
      received: g.measuredReceived,
      reportedDrops: g.measuredDropped,
    });
    expect(verdict).toEqual({ unaccounted: 2, valid: false });
  });

  it("count a delivery whose stamp is not this run's as out of range, never feeding it to the histogram", async () => {
    // An earlier run's event on a durable stream carries its process's clock: a negative latency, or one
    // of days, or (damaged) no number at all. The WebAssembly histogram aborts on such a value.
    const { group: g, subs } = await group(2);
    const [first, second] = subs as [FakeSubscription, FakeSubscription];
    for (let seq = 0; seq < 4; seq++) for (const sub of subs) deliver(sub, seq, seq);
    const stamped = (sub: FakeSubscription, sentAt: number, seq: number): void => {
      writeStamp(payload, sentAt, seq);
      sub.options.onEvent!({
        tenant: 't1',
        namespace: 'default',
        stream: sub.stream,
        payload,
        offset: seq,
        gap: 0,
      });
    };
    stamped(first, performance.now() + 60_000, 4);
    stamped(second, performance.now() - 86_400_000, 4);
    stamped(first, NaN, 5);
    for (let seq = 6; seq < 14; seq++) for (const sub of subs) deliver(sub, seq, seq);
    stamped(second, performance.now() - 1, 5);
    expect(g.outOfRangeLatencies).toBe(3);
    expect(g.measuredReceived).toBe(20);
    expect(g.primaryLatencies.totalCount + g.otherLatencies.totalCount).toBe(17);
    const latencies = g.latencies();
    expect(latencies.primary!.maxNs).toBeLessThan(60_000 * 1e6);

    const [c] = planCases(parseCommandLine(['--warmup', '4', '--total', '10', '--fanout', '2'], defaults));
    const report = buildCaseReport(c!, {
      sampleTotal: 10,
      primaryReceived: g.primaryReceived,
      deliveredTotal: g.measuredReceived,
      reportedDrops: 0,
      outOfRangeLatencies: g.outOfRangeLatencies,
      primary: latencies.primary,
      all: latencies.all,
      elapsedMs: 5,
      warnings: [],
    });
    expect(report.valid).toBe(false);
    expect(report.invalid_reasons).toEqual([
      '3 deliveries carried a send time this run did not stamp (latency negative or over 1 h): left out of the latencies',
    ]);
    expect(caseResults(report)).toContain('\nINVALID RUN: 3 deliveries carried a send time');
  });

  it('end a wait when its phase is complete, or after the idle time without events', async () => {
    const { group: g, subs } = await group(1);
    const warmup = g.waitFor('warmup', 10_000);
    for (let seq = 0; seq < 4; seq++) deliver(subs[0]!, seq, seq);
    await expect(warmup).resolves.toBe(true);
    deliver(subs[0]!, 4, 4);
    await expect(g.waitFor('measured', 30)).resolves.toBe(false);
  });
});
