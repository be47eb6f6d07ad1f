/**
 * What a lossy network does to one direction of one UDP flow, decided datagram by datagram from a seeded
 * PRNG: the n-th datagram of a flow gets the same fate for the same seed, so a failure under impairment can
 * be replayed. (netem is not available on this machine; this is the part of it the tests need.)
 *
 * A datagram is dropped (`lossPercent`), or leaves after `delayMs` ± up to `jitterMs` (uniform), plus
 * `reorderDelayMs` more when it is picked for reordering (`reorderPercent`): datagrams sent after it then
 * overtake it. With `duplicatePercent` a second copy follows, with its own delay. Jitter alone can reorder
 * too, as on a real path.
 */
import { Prng } from '../../scripts/hostile/prng.js';

export interface ImpairmentSettings {
  /** Percent of datagrams dropped, 0–100. */
  readonly lossPercent: number;
  /** One-way delay every datagram gets, in ms. */
  readonly delayMs: number;
  /** Each datagram's delay varies uniformly by up to ± this many ms (never below 0). */
  readonly jitterMs: number;
  /** Percent of datagrams held back by `reorderDelayMs` so that later ones overtake them, 0–100. */
  readonly reorderPercent: number;
  /** Extra delay of a held-back datagram, in ms. */
  readonly reorderDelayMs: number;
  /** Percent of datagrams sent twice, 0–100. */
  readonly duplicatePercent: number;
}

export const NO_IMPAIRMENT: ImpairmentSettings = Object.freeze({
  lossPercent: 0,
  delayMs: 0,
  jitterMs: 0,
  reorderPercent: 0,
  reorderDelayMs: 10,
  duplicatePercent: 0,
});

/** Fills in the defaults and refuses values that make no sense, naming the field. */
export function resolveImpairment(given: Partial<ImpairmentSettings> = {}): ImpairmentSettings {
  const s = { ...NO_IMPAIRMENT, ...stripUndefined(given) };
  for (const key of ['lossPercent', 'reorderPercent', 'duplicatePercent'] as const) {
    if (!(s[key] >= 0 && s[key] <= 100)) throw new RangeError(`${key} must be 0–100, got ${s[key]}`);
  }
  for (const key of ['delayMs', 'jitterMs', 'reorderDelayMs'] as const) {
    if (!(s[key] >= 0 && s[key] <= 60_000)) throw new RangeError(`${key} must be 0–60000 ms, got ${s[key]}`);
  }
  return Object.freeze(s);
}

/** What happened to the datagrams of one direction. */
export interface ImpairmentCounts {
  /** Datagrams that arrived to be forwarded. */
  received: number;
  dropped: number;
  /** Datagrams held back for reordering (whether or not anything overtook them). */
  reordered: number;
  /** Extra copies sent. */
  duplicated: number;
}

export function emptyCounts(): ImpairmentCounts {
  return { received: 0, dropped: 0, reordered: 0, duplicated: 0 };
}

export class Impairment {
  private readonly prng: Prng;

  constructor(
    public settings: ImpairmentSettings,
    seed: number,
    private readonly counts: ImpairmentCounts = emptyCounts(),
  ) {
    this.prng = new Prng(seed);
  }

  /**
   * The delays (ms) after which copies of the next datagram leave: [] when it is dropped, two entries when
   * it is duplicated. Every call draws the same number of random values whatever the settings, so changing
   * one setting does not shift the fates the others give later datagrams.
   */
  nextFate(): number[] {
    const s = this.settings;
    const lost = this.prng.float() * 100 < s.lossPercent;
    const duplicated = this.prng.float() * 100 < s.duplicatePercent;
    const first = this.delay(this.prng.float(), this.prng.float());
    const second = this.delay(this.prng.float(), this.prng.float());
    this.counts.received++;
    if (lost) {
      this.counts.dropped++;
      return [];
    }
    if (first.reordered) this.counts.reordered++;
    if (!duplicated) return [first.ms];
    this.counts.duplicated++;
    return [first.ms, second.ms];
  }

  private delay(jitterRoll: number, reorderRoll: number): { ms: number; reordered: boolean } {
    const s = this.settings;
    const reordered = reorderRoll * 100 < s.reorderPercent;
    const jitter = (jitterRoll * 2 - 1) * s.jitterMs;
    return { ms: Math.max(0, s.delayMs + jitter + (reordered ? s.reorderDelayMs : 0)), reordered };
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
