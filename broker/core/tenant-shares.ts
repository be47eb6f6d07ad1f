/**
 * What each tenant holds of the broker-wide bounds a peer can fill by sending slowly: publish bytes in
 * flight (FELIX_BROKER_PUBLISH_INFLIGHT_BYTES) and bytes of frames still being received
 * (FELIX_PARTIAL_FRAME_BYTES). Per-connection shares alone let one tenant with many connections hold the
 * whole of either — every other tenant's large publishes were then refused for as long as it kept its
 * streams alive — so each tenant may hold at most its own share of each (NATS bounds each account alike).
 *
 * A tenant's entry lives while a stream refers to it or it holds bytes: without authentication a client
 * names any tenant it likes, and entries for names nobody uses any more must not pile up.
 */

/** Streams that have not authenticated yet count as one tenant: together they hold at most one share. */
export const UNAUTHENTICATED_TENANT = '';

export class TenantShare {
  /** Publish bytes in flight (received, not yet fanned out), over all the tenant's connections. */
  publishBytes = 0;
  /** Bytes of frames its streams are still receiving. */
  partialBytes = 0;
  /** @internal streams holding this share */
  refs = 0;

  constructor(readonly tenant: string) {}
}

export class TenantShares {
  private readonly byTenant = new Map<string, TenantShare>();

  /** Tenants with an entry (a stream, or bytes held). */
  get size(): number {
    return this.byTenant.size;
  }

  /** The share of `tenant`, for a stream that will give it back with release(). */
  acquire(tenant: string): TenantShare {
    let share = this.byTenant.get(tenant);
    if (share === undefined) this.byTenant.set(tenant, (share = new TenantShare(tenant)));
    share.refs++;
    return share;
  }

  /** A stream lets go of `share`. */
  release(share: TenantShare): void {
    share.refs--;
    this.dropIfUnused(share);
  }

  /** Forgets `share` once no stream refers to it and it holds nothing (call after giving bytes back). */
  dropIfUnused(share: TenantShare): void {
    if (share.refs === 0 && share.publishBytes === 0 && share.partialBytes === 0) {
      if (this.byTenant.get(share.tenant) === share) this.byTenant.delete(share.tenant);
    }
  }
}

/** A tenant's share as configured, or (0) half of the whole and never less than one connection's. */
export function tenantShareLimit(configured: number, connection: number, whole: number): number {
  return configured !== 0 ? configured : Math.max(connection, Math.floor(whole / 2));
}
