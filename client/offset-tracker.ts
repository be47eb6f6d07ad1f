/**
 * Gap detection from offsets. Every event carries its per-stream offset; the subscription expects them
 * consecutive. An offset above the expected one means the broker dropped events for this subscriber (its
 * queue policy): a gap of `offset - expected` missed events. An offset below it was already seen or lies
 * before the requested start (a replayed first frame may begin earlier): the event is skipped.
 */
import type { StartPosition } from '../wire/index.js';

export class OffsetTracker {
  /** Gaps seen (runs of missed offsets). */
  gaps = 0;
  /** Events the broker dropped, summed over all gaps. */
  missed = 0;
  /** Events skipped for lying below the cursor. */
  skipped = 0;
  /** The next offset expected; -1 until the first event fixes it ('latest' and 'earliest' starts). */
  private expected: number;

  constructor(start: StartPosition = 'latest') {
    this.expected = typeof start === 'object' ? start.offset : -1;
  }

  /** The next offset expected, or -1 before the first event of a 'latest'/'earliest' subscription. */
  get nextOffset(): number {
    return this.expected;
  }

  /**
   * Forgets the cursor: the next event fixes it again. For offsets that count anew (the broker lost the
   * stream's history); the counters stay.
   */
  restart(): void {
    this.expected = -1;
  }

  /**
   * Takes the offset of the next event received. Returns -1 when the event must be skipped, otherwise
   * how many offsets were missed right before it (0 normally).
   */
  accept(offset: number): number {
    const expected = this.expected;
    if (expected < 0 || offset === expected) {
      this.expected = offset + 1;
      return 0;
    }
    if (offset < expected) {
      this.skipped++;
      return -1;
    }
    this.expected = offset + 1;
    const missed = offset - expected;
    this.gaps++;
    this.missed += missed;
    return missed;
  }

  /**
   * The broker says offsets up to `through` were dropped for this subscriber (events_dropped): the next
   * event comes after them. Returns how many were missed (counted as a gap), 0 when they were already
   * behind the cursor, or -1 when the cursor was not fixed yet (no event came): the caller knows better.
   */
  skipThrough(through: number): number {
    const expected = this.expected;
    if (expected >= 0 && through < expected) return 0;
    this.expected = through + 1;
    if (expected < 0) return -1;
    const missed = through + 1 - expected;
    this.gaps++;
    this.missed += missed;
    return missed;
  }

  /** Counts a gap whose size the caller worked out (skipThrough answered -1). */
  countGap(missed: number): void {
    this.gaps++;
    this.missed += missed;
  }
}
