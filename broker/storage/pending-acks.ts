import type { CommitWaiter, StorageErrorCode } from '../core/stream-storage.js';

/**
 * Acks waiting for their events to be committed, in offset order: one commit (one fsync) releases every ack
 * it covers. Parallel arrays, no object or promise per ack.
 */
export class PendingAcks {
  private ends: number[] = [];
  private waiters: CommitWaiter[] = [];
  private requestIds: number[] = [];
  private tags: number[] = [];
  private head = 0;

  get size(): number {
    return this.ends.length - this.head;
  }

  push(end: number, waiter: CommitWaiter, requestId: number, tag: number): void {
    this.ends.push(end);
    this.waiters.push(waiter);
    this.requestIds.push(requestId);
    this.tags.push(tag);
  }

  /** Acks every waiter whose events all lie below `committedEnd`. */
  release(committedEnd: number): void {
    const ends = this.ends;
    let i = this.head;
    // Ends are pushed in increasing order (offsets are given in publish order), so this stops at the first
    // ack still waiting.
    while (i < ends.length && ends[i]! <= committedEnd) {
      this.waiters[i]!.committed(this.requestIds[i]!, this.tags[i]!);
      i++;
    }
    this.head = i;
    this.compact();
  }

  /** Answers every waiting ack with an error: what they wait for cannot be committed now. */
  failAll(code: StorageErrorCode, message: string): void {
    const n = this.ends.length;
    for (let i = this.head; i < n; i++)
      this.waiters[i]!.failed(this.requestIds[i]!, this.tags[i]!, code, message);
    this.head = n;
    this.compact();
  }

  private compact(): void {
    if (this.head === this.ends.length) {
      this.ends = [];
      this.waiters = [];
      this.requestIds = [];
      this.tags = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.ends.length) {
      this.ends = this.ends.slice(this.head);
      this.waiters = this.waiters.slice(this.head);
      this.requestIds = this.requestIds.slice(this.head);
      this.tags = this.tags.slice(this.head);
      this.head = 0;
    }
  }
}
