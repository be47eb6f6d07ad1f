// The write deadline's rule (transport/write-deadline.ts) over generated histories of looks: whatever the
// timing and however slow the path, a peer that answers the broker's PINGs is never closed, a closed peer was silent for the whole
// deadline with two PINGs unanswered, and a peer that falls silent while bytes wait for it is closed soon
// after the deadline. The end-to-end case (real processes) is test/resilience/write-deadline.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONNECTION_CODE_WRITE_DEADLINE } from '../../wire/index.js';
import {
  PROBE_ROUND_TRIPS,
  WRITE_DEADLINE_CLOSE,
  UNANSWERED_PROBES_TO_CLOSE,
  lookAt,
  writeDeadlineLookMs,
  type DeadlineState,
} from '../../transport/write-deadline.js';

interface Look {
  /** Milliseconds since the previous look (timers fire late, never early). */
  readonly gapMs: number;
  /** Bytes wait for the peer at this look. */
  readonly queued: boolean;
  /** The peer sent something since the previous look of its own accord (data, ACKs, keep-alives). */
  readonly spoke: boolean;
}

const deadlines = fc.integer({ min: 40, max: 20_000 });

function looks(lookMs: number): fc.Arbitrary<Look[]> {
  return fc.array(
    fc.record({
      gapMs: fc.integer({ min: lookMs, max: lookMs * 3 }),
      queued: fc.boolean(),
      spoke: fc.boolean(),
    }),
    { maxLength: 200 },
  );
}

/**
 * Runs `history` against a path of round trip `rttMs`; `answersProbes`: the peer answers each PING, which
 * is heard at the first look at least a round trip later. Returns how the look that closed found it.
 */
function run(history: readonly Look[], deadlineMs: number, rttMs: number, answersProbes: boolean) {
  const lookMs = writeDeadlineLookMs(deadlineMs);
  const c: DeadlineState & { queuedBytes: number; owed: boolean } = {
    queuedBytes: 0,
    owed: false,
    heard: false,
    lastHeardAt: 0,
    unansweredProbes: 0,
    firstProbeAt: 0,
  };
  let now = 0;
  let lastSpoke = 0;
  let probesSinceSpoke = 0;
  let answers: number[] = [];
  for (let i = 0; i < history.length; i++) {
    const look = history[i]!;
    now += look.gapMs;
    const answered = answers.some((at) => at <= now);
    answers = answers.filter((at) => at > now);
    const spoke = look.spoke || answered;
    c.heard = spoke;
    // Bytes wait, refused by quiche or written since the peer last spoke: the rule treats both alike.
    c.queuedBytes = look.queued ? 1 : 0;
    if (spoke) {
      lastSpoke = now; // the latest it can have spoken: just before this look
      probesSinceSpoke = 0;
    }
    const verdict = lookAt(c, now, deadlineMs, lookMs, () => rttMs);
    if (verdict === 'close') return { closedAt: i, now, lastSpoke, probesSinceSpoke };
    if (verdict === 'probe') {
      probesSinceSpoke++;
      if (answersProbes) answers.push(now + rttMs);
    }
  }
  return null;
}

const cases = deadlines.chain((d) =>
  fc.tuple(fc.constant(d), fc.integer({ min: 0, max: 2 * d }), looks(writeDeadlineLookMs(d))),
);

describe('the write deadline rule', () => {
  it('never closes a peer that answers its PINGs, whatever else it does and however slow its path', () => {
    fc.assert(
      fc.property(cases, ([deadlineMs, rttMs, history]) => {
        expect(run(history, deadlineMs, rttMs, true)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('closes only after the whole deadline in silence with two PINGs unanswered', () => {
    fc.assert(
      fc.property(cases, ([deadlineMs, rttMs, history]) => {
        const closed = run(history, deadlineMs, rttMs, false);
        if (closed === null) return;
        expect(closed.now - closed.lastSpoke).toBeGreaterThanOrEqual(deadlineMs);
        expect(closed.probesSinceSpoke).toBeGreaterThanOrEqual(UNANSWERED_PROBES_TO_CLOSE);
      }),
      { numRuns: 500 },
    );
  });

  it('closes a peer that falls silent while bytes wait, once the deadline and three round trips have passed', () => {
    fc.assert(
      fc.property(cases, ([deadlineMs, rttMs, before]) => {
        const lookMs = writeDeadlineLookMs(deadlineMs);
        // After whatever came before, the peer speaks once, then never again; bytes wait from then on.
        const after: Look[] = [{ gapMs: lookMs, queued: true, spoke: true }];
        const due = Math.max(deadlineMs, PROBE_ROUND_TRIPS * rttMs + lookMs) + 9 * lookMs;
        for (let t = 0; t <= due; t += 3 * lookMs)
          after.push({ gapMs: 3 * lookMs, queued: true, spoke: false });
        // (It may have been closed already, in a silence of `before`: the property above covers that.)
        expect(run([...before, ...after], deadlineMs, rttMs, false)).not.toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it("closes with the application code docs/protocol.md lists for it (the transport's copy of the wire's)", () => {
    expect(WRITE_DEADLINE_CLOSE).toMatchObject({ code: CONNECTION_CODE_WRITE_DEADLINE, isApp: true });
  });
});
