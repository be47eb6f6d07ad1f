/** A party whose publish stream is held back until budget frees. */
export interface BudgetHolder {
  /** In-flight publish bytes charged to this holder's connection. */
  readonly account: BudgetAccount;
  resume(): void;
}

/** One connection's share of the in-flight publish budget. */
export class BudgetAccount {
  bytes = 0;
}

/**
 * Publish bytes received and not yet turned into frames (waiting in a topic's batch or in a chunked
 * publish being reassembled), per connection and for the whole broker. Beyond either bound, acked
 * publishes are refused and unacked ones make their stream stop being read until bytes are released.
 */
export class PublishBudget {
  total = 0;
  private readonly waiting = new Set<BudgetHolder>();

  constructor(
    readonly globalLimit: number,
    readonly connectionLimit: number,
  ) {}

  /** Whether `bytes` more fit for this account. */
  fits(account: BudgetAccount, bytes: number): boolean {
    return this.total + bytes <= this.globalLimit && account.bytes + bytes <= this.connectionLimit;
  }

  /** Why `bytes` more do not fit, for the error reply. */
  refusal(account: BudgetAccount, bytes: number): string {
    if (account.bytes + bytes > this.connectionLimit) {
      return `connection publish budget exhausted: ${account.bytes} of ${this.connectionLimit} bytes in flight (FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES)`;
    }
    return `broker publish budget exhausted: ${this.total} of ${this.globalLimit} bytes in flight (FELIX_BROKER_PUBLISH_INFLIGHT_BYTES)`;
  }

  charge(account: BudgetAccount, bytes: number): void {
    account.bytes += bytes;
    this.total += bytes;
  }

  release(account: BudgetAccount, bytes: number): void {
    account.bytes -= bytes;
    this.total -= bytes;
    if (this.waiting.size !== 0) this.wake();
  }

  /** Whether the holder is over a bound and must wait (it is then resumed once back under both). */
  overLimit(holder: BudgetHolder): boolean {
    if (this.total <= this.globalLimit && holder.account.bytes <= this.connectionLimit) return false;
    this.waiting.add(holder);
    return true;
  }

  forget(holder: BudgetHolder): void {
    this.waiting.delete(holder);
  }

  private wake(): void {
    if (this.total > this.globalLimit) return;
    for (const h of this.waiting) {
      if (h.account.bytes <= this.connectionLimit) {
        this.waiting.delete(h);
        h.resume();
      }
    }
  }
}
