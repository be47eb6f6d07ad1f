// Issue 12 item 7, CI-sized: the soak (bench/soak/soak.ts, `npm run soak` for long runs) for 16 seconds,
// with a SIGTERM and a SIGKILL restart and a lossy phase. Nothing acked may be lost without a reported gap,
// nothing delivered twice — except, across the SIGKILL, a publish that was unanswered when it hit (appended
// and resent: at-least-once into the stream's new epoch, as protocol.md says) — and no payload or cache
// value may come back wrong.
import { describe, expect, it } from 'vitest';
import { runSoak } from '../../bench/soak/soak.js';
import { BROKER_MAIN } from '../e2e/broker-process.js';

describe('soak, short', () => {
  it('survives SIGTERM and SIGKILL restarts and a lossy path with every acked message accounted for', async () => {
    const report = await runSoak({
      durationMs: 16_000,
      restartEveryMs: 4_000,
      lossPhaseMs: 4_000,
      rate: 200,
      seed: 5,
      brokerMain: BROKER_MAIN,
    });
    console.log(
      `soak 16 s: ${report.acked} acked, ${report.delivered} delivered, ${report.lostInReportedGap} in gaps, ` +
        `${report.reconnects} reconnects, restarts ${JSON.stringify(report.restarts)}, cache ${JSON.stringify(report.cache)}, ` +
        `${report.resentAfterKill} unanswered at the SIGKILL delivered again after it`,
    );
    // The run did what it says: both kinds of restart, and work flowed before and after.
    expect(report.restarts.sigterm).toBeGreaterThanOrEqual(1);
    expect(report.restarts.sigkill).toBeGreaterThanOrEqual(1);
    expect(report.reconnects).toBeGreaterThanOrEqual(2);
    expect(report.delivered).toBeGreaterThan(1_000);
    expect(report.cache.ok).toBeGreaterThan(0);
    expect(report.churn.cycles).toBeGreaterThan(0);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ackedLost: 0, duplicates: 0, resentAcrossRestart: 0, corrupted: 0 });
  }, 60_000);
});
