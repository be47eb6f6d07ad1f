// The write deadline's rule (transport/write-deadline.ts) over generated histories of looks: whatever the
// timing, a peer that answers the broker's PINGs is never closed, a closed peer was silent for the whole
// deadline with two PINGs unanswered, and a peer that falls silent while bytes wait for it is closed soon
// after the deadline. The end-to-end case (real processes) is test/resilience/write-deadline.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
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

/** Runs `history`; `answersProbes`: a PING is answered before the next look. Returns the look that closed. */
function run(history: readonly Look[], deadlineMs: number, answersProbes: boolean) {
  const lookMs = writeDeadlineLookMs(deadlineMs);
  const c = { queuedBytes: 0, heard: false, lastHeardAt: 0, unansweredProbes: 0 } satisfies DeadlineState;
  let now = 0;
  let lastSpoke = 0;
  let probesSinceSpoke = 0;
  let probed = false;
  for (let i = 0; i < history.length; i++) {
    const look = history[i]!;
    now += look.gapMs;
    const spoke = look.spoke || (answersProbes && probed);
    c.heard = spoke;
    c.queuedBytes = look.queued ? 1 : 0;
    probed = false;
    if (spoke) {
      lastSpoke = now; // the latest it can have spoken: just before this look
      probesSinceSpoke = 0;
    }
    const verdict = lookAt(c, now, deadlineMs, lookMs);
    if (verdict === 'close') return { closedAt: i, now, lastSpoke, probesSinceSpoke };
    if (verdict === 'probe') {
      probed = true;
      probesSinceSpoke++;
    }
  }
  return null;
}

describe('the write deadline rule', () => {
  it('never closes a peer that answers its PINGs, whatever else it does', () => {
    fc.assert(
      fc.property(
        deadlines.chain((d) => fc.tuple(fc.constant(d), looks(writeDeadlineLookMs(d)))),
        ([deadlineMs, history]) => {
          expect(run(history, deadlineMs, true)).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('closes only after the whole deadline in silence with two PINGs unanswered', () => {
    fc.assert(
      fc.property(
        deadlines.chain((d) => fc.tuple(fc.constant(d), looks(writeDeadlineLookMs(d)))),
        ([deadlineMs, history]) => {
          const closed = run(history, deadlineMs, false);
          if (closed === null) return;
          expect(closed.now - closed.lastSpoke).toBeGreaterThanOrEqual(deadlineMs);
          expect(closed.probesSinceSpoke).toBeGreaterThanOrEqual(UNANSWERED_PROBES_TO_CLOSE);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('closes a peer that falls silent while bytes wait, within the deadline and three late looks', () => {
    fc.assert(
      fc.property(
        deadlines.chain((d) => fc.tuple(fc.constant(d), looks(writeDeadlineLookMs(d)))),
        ([deadlineMs, before]) => {
          const lookMs = writeDeadlineLookMs(deadlineMs);
          // After whatever came before, the peer speaks once, then never again; bytes wait from then on.
          const after: Look[] = [{ gapMs: lookMs, queued: true, spoke: true }];
          for (let t = 0; t <= deadlineMs + 3 * 3 * lookMs; t += 3 * lookMs)
            after.push({ gapMs: 3 * lookMs, queued: true, spoke: false });
          // (It may have been closed already, in a silence of `before`: the property above covers that.)
          expect(run([...before, ...after], deadlineMs, false)).not.toBeNull();
        },
      ),
      { numRuns: 300 },
    );
  });
});
