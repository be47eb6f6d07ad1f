/**
 * `felix-ts auth mint`: a token for a tenant, signed with a key from `felix-ts auth keygen`. The claims are
 * Felix's (crates/felix-authz/src/token.rs): tid, perms, iat, exp, and iss/aud/sub/nbf when asked for; the
 * header names the key by kid.
 */
import { SignJWT } from 'jose';
import { KIND_OF_ACTION, isDataAction, parsePermission } from '../../../broker/auth/permissions.js';
import { NAME_RULE, isValidName } from '../../../config/tenants.js';
import { defaultKid, readSigningKey } from './signing-key.js';

export interface MintRequest {
  readonly keyPath: string;
  readonly tenant: string;
  readonly permissions: readonly string[];
  readonly ttlSeconds: number;
  /** Seconds from now before which the token is not valid (nbf); undefined sets no nbf. */
  readonly notBeforeSeconds?: number;
  readonly issuer?: string;
  readonly audience?: string;
  readonly subject?: string;
  readonly kid?: string;
  /** Epoch milliseconds. */
  readonly now: number;
}

export async function mintToken(request: MintRequest): Promise<string> {
  const key = await readSigningKey(request.keyPath);
  const kid = request.kid ?? (await defaultKid(key));
  const issuedAt = Math.floor(request.now / 1000);
  const token = new SignJWT({ tid: request.tenant, perms: [...request.permissions] })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid })
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + request.ttlSeconds);
  if (request.notBeforeSeconds !== undefined) token.setNotBefore(issuedAt + request.notBeforeSeconds);
  if (request.issuer !== undefined) token.setIssuer(request.issuer);
  if (request.audience !== undefined) token.setAudience(request.audience);
  if (request.subject !== undefined) token.setSubject(request.subject);
  return token.sign(key);
}

/**
 * Why `permission` (already valid) can never take effect for `tenant`, or undefined when it can. A token's
 * tenant is the only one it may touch, so a permission naming another tenant is a mistake worth a warning.
 */
export function uselessPermissionWarning(permission: string, tenant: string): string | undefined {
  const { action, resourcePattern } = parsePermission(permission);
  if (!isDataAction(action)) {
    return `${permission}: ${action} is a Felix control-plane action; the felix-ts broker grants nothing for it`;
  }
  const resourceStart = `${KIND_OF_ACTION[action]}:${tenant}/`;
  const literalStart = resourcePattern.split('*')[0];
  const compatible = resourceStart.startsWith(literalStart) || literalStart.startsWith(resourceStart);
  if (!compatible) {
    return `${permission} can never apply: this token's resources all start ${resourceStart} (tenant ${tenant})`;
  }
  // Without a '*' the pattern must be one resource exactly: three names after the kind.
  if (!resourcePattern.includes('*')) {
    const parts = resourcePattern.slice(`${KIND_OF_ACTION[action]}:`.length).split('/');
    if (parts.length !== 3 || !parts.every(isValidName)) {
      return (
        `${permission} names no resource: a resource is ${KIND_OF_ACTION[action]}:<tenant>/<namespace>/<name>, ` +
        `each part a name (${NAME_RULE}), or a pattern with '*'`
      );
    }
  }
  return undefined;
}
