/**
 * The soak's books: every message published, acked and delivered, every gap the subscriber was told of,
 * every broker restart. At the end it names what is wrong: an acked message that was neither delivered
 * nor possibly inside a reported gap, or a message delivered twice.
 *
 * When may an acked message be missing? Only when a broker restart could have taken it: it was published
 * before a restart (so its stream's history died with that process) and the subscriber was told of a gap
 * after that restart. Anything published after the last restart must arrive.
 *
 * When may a message be delivered twice? Only across a SIGKILL, and only one that was unanswered when it
 * hit: the old process may have appended it before dying, and the SDK resends every unanswered publish to
 * the new one, whose stream (in memory) starts a new epoch with no memory of it. Across a SIGTERM the drain
 * answers everything it appended before it closes, so nothing there is resent twice.
 */
import type { GapInfo } from '../../client/index.js';

export interface Restart {
  readonly signal: 'SIGTERM' | 'SIGKILL';
  /** performance.now() when the signal was sent. */
  readonly killedAt: number;
  /** When the new process listened. */
  readyAt: number;
  /** Whether the path was lossy when the signal was sent. */
  readonly lossy: boolean;
  /** Ids published and neither acked nor failed when the signal was sent (Ledger.unanswered()). */
  readonly unanswered: ReadonlySet<number>;
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
   * Extra deliveries in a later epoch of a publish unanswered when a SIGKILL hit: the old process
   * appended it but died before its ack left, and the SDK resent it to the new process, whose
   * deduplication state starts empty (protocol.md: a retry to an in-memory stream after a restart is
   * appended to its new epoch). At-least-once, as documented.
   */
  readonly resentAfterKill: number;
  /**
   * Extra deliveries in a later epoch that no SIGKILL explains: a publish acked before the kill, or one
   * whose answer a SIGTERM's drain failed to get to the client before it closed the connection.
   */
  readonly resentAcrossRestart: number;
  /** Both, by the restart that followed the message's publish: the signal, and whether the path was lossy. */
  readonly resentAfter: Readonly<Record<string, number>>;
  readonly gaps: number;
  readonly epochChanges: number;
}

export class Ledger {
  private readonly publishedAt: number[] = [];
  private readonly acked = new Set<number>();
  /** Published, neither acked nor failed yet. */
  private readonly pending = new Set<number>();
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
    this.pending.add(this.publishedAt.length - 1);
    return this.publishedAt.length - 1;
  }

  ackedNow(id: number): void {
    this.pending.delete(id);
    this.acked.add(id);
  }

  failedNow(id: number, error: unknown): void {
    this.pending.delete(id);
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

  /** A copy of the ids published and not answered yet (for a Restart entry). */
  unanswered(): ReadonlySet<number> {
    return new Set(this.pending);
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
    let resentAfterKill = 0;
    let resentAcrossRestart = 0;
    const resentAfter: Record<string, number> = {};
    for (const [id, segments] of this.deliveries) {
      for (let i = 1; i < segments.length; i++) {
        if (segments[i] === segments[i - 1]) {
          duplicates++;
          continue;
        }
        const restart = this.restarts.find((r) => r.killedAt > this.publishedAt[id]!);
        const key = restart === undefined ? 'none' : `${restart.signal}${restart.lossy ? ' lossy' : ''}`;
        resentAfter[key] = (resentAfter[key] ?? 0) + 1;
        if (restart?.signal === 'SIGKILL' && restart.unanswered.has(id)) resentAfterKill++;
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
      resentAfterKill,
      resentAcrossRestart,
      resentAfter,
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
