import type { DataAction, PermissionSet } from './permissions.js';

/** What a verified token allows: its tenant and permissions, until it expires. Immutable. */
export class Grant {
  constructor(
    /** The `tid` claim: the only tenant this token may touch. */
    readonly tenant: string,
    /** The `perms` claim, compiled. */
    readonly permissions: PermissionSet,
    /**
     * When this broker stops accepting the token: `exp` plus FELIX_AUTH_CLOCK_TOLERANCE_MS, in epoch ms.
     * A connection authenticated by it is closed with `token_expired` at this instant.
     */
    readonly expiresAtMs: number,
    /** The `sub` claim, when the token has one (for logs; authorizes nothing). */
    readonly subject: string | undefined,
    /** The JWKS key that verified the signature. */
    readonly kid: string,
  ) {
    Object.freeze(this);
  }

  /**
   * Whether the token allows `action` on `<tenant>/<namespace>/<name>`. A tenant other than the token's
   * is refused whatever the permissions say (Felix checks the tenant before the permissions, too).
   */
  allows(action: DataAction, tenant: string, namespace: string, name: string): boolean {
    return tenant === this.tenant && this.permissions.allows(action, tenant, namespace, name);
  }
}
