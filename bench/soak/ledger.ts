/**
 * The soak's books: every message published, acked and delivered, every gap the subscriber was told of,
 * every broker restart. At the end it names what is wrong: an acked message that was neither delivered
 * nor possibly inside a reported gap, or a message delivered twice.
 *
 * When may an acked message be missing? Only when a broker restart could have taken it: it was published
 * before a restart (so its stream's history died with that process) and the subscriber was told of a gap
 * after that restart. Anything published after the last restart must arrive.
 */
import type { GapInfo } from '../../client/index.js';

export interface Restart {
  readonly signal: 'SIGTERM' | 'SIGKILL';
  /** performance.now() when the signal was sent. */
  readonly killedAt: number;
  /** When the new process listened. */
  readyAt: number;
}

export interface LedgerSummary {
  readonly published: number;
  readonly acked: number;
  readonly failed: number;
  /** Distinct acked messages delivered. */
  readonly delivered: number;
  /** Acked, not delivered, but published before a restart whose loss the subscriber was told of. */
  readonly lostInReportedGap: number;
  /** Acked, not delivered, and no reported gap can explain it: the failure the soak exists to find. */
  readonly ackedLost: number;
  /** Extra deliveries of a message already delivered in the same stream epoch. */
  readonly duplicates: number;
  /**
   * Extra deliveries in a later epoch: a publish the old process appended but whose ack its death (or the
   * drain) cut off, resent by the SDK to the new process, whose deduplication state starts empty.
   */
  readonly resentAcrossRestart: number;
  readonly gaps: number;
  readonly epochChanges: number;
}

export class Ledger {
  private readonly publishedAt: number[] = [];
  private readonly acked = new Set<number>();
  private failed = 0;
  /** Message id → the epoch segments (count of epoch changes seen before it) it was delivered in. */
  private readonly deliveries = new Map<number, number[]>();
  private readonly gaps: { at: number; epochChanged: boolean }[] = [];
  private segment = 0;
  readonly restarts: Restart[] = [];
  readonly failures: string[] = [];

  /** A new message id, published now. */
  published(): number {
    this.publishedAt.push(performance.now());
    return this.publishedAt.length - 1;
  }

  ackedNow(id: number): void {
    this.acked.add(id);
  }

  failedNow(error: unknown): void {
    this.failed++;
    if (this.failures.length < 10) this.failures.push(error instanceof Error ? error.message : String(error));
  }

  delivered(id: number): void {
    const seen = this.deliveries.get(id);
    if (seen === undefined) this.deliveries.set(id, [this.segment]);
    else seen.push(this.segment);
  }

  gap(gap: GapInfo): void {
    this.gaps.push({ at: performance.now(), epochChanged: gap.epochChanged === true });
    if (gap.epochChanged === true) this.segment++;
  }

  /** Acked messages not delivered yet (the soak waits for this to reach what restarts explain). */
  undelivered(): number {
    let n = 0;
    for (const id of this.acked) if (!this.deliveries.has(id)) n++;
    return n;
  }

  summary(): LedgerSummary {
    let lostInReportedGap = 0;
    let ackedLost = 0;
    for (const id of this.acked) {
      if (this.deliveries.has(id)) continue;
      if (this.explainedByRestart(this.publishedAt[id]!)) lostInReportedGap++;
      else ackedLost++;
    }
    let duplicates = 0;
    let resentAcrossRestart = 0;
    for (const segments of this.deliveries.values()) {
      for (let i = 1; i < segments.length; i++) {
        if (segments[i] === segments[i - 1]) duplicates++;
        else resentAcrossRestart++;
      }
    }
    return {
      published: this.publishedAt.length,
      acked: this.acked.size,
      failed: this.failed,
      delivered: [...this.acked].filter((id) => this.deliveries.has(id)).length,
      lostInReportedGap,
      ackedLost,
      duplicates,
      resentAcrossRestart,
      gaps: this.gaps.length,
      epochChanges: this.segment,
    };
  }

  private explainedByRestart(publishedAt: number): boolean {
    return this.restarts.some(
      (r) => r.killedAt > publishedAt && this.gaps.some((g) => g.epochChanged && g.at > r.killedAt),
    );
  }
}
