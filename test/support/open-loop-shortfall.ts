// An open-loop run that could not start its work at the asked rate is marked INVALID by the demos: that is a
// judgement about this machine's speed at that moment, which a test must not assert (a busy CI host falls
// short now and then). Tests of the real programs assert everything else exactly and tolerate that one
// reason, saying in their output when it happened.

/**
 * The invalid reasons that depend on the machine's speed (both demos word them this way): a rate fallen
 * short, and a sender that fell behind its schedule for a while.
 */
const RATE_SHORTFALL =
  /open loop achieved [\d.]+ (?:ops|msg)\/s of the \d+ asked \([\d.]+% short|open loop: the (?:publisher|starter) fell [\d.]+ ms behind its schedule/;

/**
 * The reasons that are not a rate shortfall (a test expects none), and whether a shortfall was reported
 * (printed, so a run that tolerated one says so).
 */
export function withoutRateShortfall(reasons: readonly string[], where: string): string[] {
  const others = reasons.filter((reason) => !RATE_SHORTFALL.test(reason));
  if (others.length < reasons.length) {
    console.log(`${where}: open loop fell short of its rate on this host (a speed judgement, not asserted)`);
  }
  return others;
}

/** The exit code a demo gives an invalid run, which a shortfall alone may cause. */
export const EXIT_INVALID_RUN = 3;
