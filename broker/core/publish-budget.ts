import type { TenantShare, TenantShares } from './tenant-shares.js';

/** A party whose publish stream is held back until budget frees. */
export interface BudgetHolder {
  /** Where its in-flight publish bytes are charged. */
  readonly account: BudgetAccount;
  resume(): void;
}

/** One connection's in-flight publish bytes, over all its streams. */
export class ConnectionBudget {
  bytes = 0;
}

/**
 * Where one stream's publish bytes are charged: its connection's share and its tenant's (a connection may
 * carry streams of several tenants).
 */
export class BudgetAccount {
  constructor(
    readonly connection: ConnectionBudget,
    readonly tenant: TenantShare,
  ) {}
}

/**
 * Publish bytes received and not yet turned into frames (waiting in a topic's batch or in a chunked
 * publish being reassembled), per connection, per tenant and for the whole broker. Beyond any bound, acked
 * publishes are refused and unacked ones make their stream stop being read until bytes are released.
 */
export class PublishBudget {
  total = 0;
  private readonly waiting = new Set<BudgetHolder>();

  constructor(
    readonly globalLimit: number,
    readonly connectionLimit: number,
    readonly tenantLimit: number,
    private readonly shares: TenantShares,
  ) {}

  /** Whether `bytes` more fit for this account. */
  fits(account: BudgetAccount, bytes: number): boolean {
    return (
      this.total + bytes <= this.globalLimit &&
      account.connection.bytes + bytes <= this.connectionLimit &&
      account.tenant.publishBytes + bytes <= this.tenantLimit
    );
  }

  /** Why `bytes` more do not fit, for the error reply. */
  refusal(account: BudgetAccount, bytes: number): string {
    const connection = account.connection.bytes;
    if (connection + bytes > this.connectionLimit) {
      return `connection publish budget exhausted: ${connection} of ${this.connectionLimit} bytes in flight (FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES)`;
    }
    const tenant = account.tenant.publishBytes;
    if (tenant + bytes > this.tenantLimit) {
      return `tenant publish budget exhausted: ${tenant} of ${this.tenantLimit} bytes in flight over this tenant's connections (FELIX_BROKER_PUBLISH_TENANT_INFLIGHT_BYTES)`;
    }
    return `broker publish budget exhausted: ${this.total} of ${this.globalLimit} bytes in flight (FELIX_BROKER_PUBLISH_INFLIGHT_BYTES)`;
  }

  charge(account: BudgetAccount, bytes: number): void {
    account.connection.bytes += bytes;
    account.tenant.publishBytes += bytes;
    this.total += bytes;
  }

  release(account: BudgetAccount, bytes: number): void {
    account.connection.bytes -= bytes;
    const tenant = account.tenant;
    if ((tenant.publishBytes -= bytes) === 0 && tenant.refs === 0) this.shares.dropIfUnused(tenant);
    this.total -= bytes;
    if (this.waiting.size !== 0) this.wake();
  }

  /** Whether the holder is over a bound and must wait (it is then resumed once back under all three). */
  overLimit(holder: BudgetHolder): boolean {
    if (this.total <= this.globalLimit && this.accountWithin(holder.account)) return false;
    this.waiting.add(holder);
    return true;
  }

  forget(holder: BudgetHolder): void {
    this.waiting.delete(holder);
  }

  private accountWithin(account: BudgetAccount): boolean {
    return (
      account.connection.bytes <= this.connectionLimit && account.tenant.publishBytes <= this.tenantLimit
    );
  }

  private wake(): void {
    if (this.total > this.globalLimit) return;
    for (const h of this.waiting) {
      if (this.accountWithin(h.account)) {
        this.waiting.delete(h);
        h.resume();
      }
    }
  }
}
