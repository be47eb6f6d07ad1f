/**
 * Felix's token claims beyond the registered ones jose checks (crates/felix-authz/src/token.rs,
 * FelixClaims): `tid`, the tenant, and `perms`, the permission strings. Both are required; a permission
 * outside the grammar rejects the whole token, as Felix's broker does (PermissionMatcher::from_strings).
 */
import type { JWTPayload } from 'jose';
import { Grant } from './grant.js';
import { PermissionSet, PermissionSyntaxError } from './permissions.js';
import { rejection, type AuthRejection } from './reasons.js';

export function grantFromClaims(
  payload: JWTPayload,
  kid: string,
  clockToleranceMs: number,
  /** Compiles `perms`; the verifier passes one that shares compiled lists between tokens. */
  compile: (perms: readonly string[]) => PermissionSet = PermissionSet.compile,
): Grant | AuthRejection {
  const { tid, perms, sub, exp } = payload as JWTPayload & { tid?: unknown; perms?: unknown };
  if (typeof tid !== 'string' || tid === '') {
    return rejection('missing_tid', 'the token has no tid claim (a non-empty string naming its tenant)');
  }
  if (!Array.isArray(perms) || !perms.every((perm) => typeof perm === 'string')) {
    // Say which: a token without the claim, and one whose claim is of the wrong type, are fixed differently.
    const found =
      perms === undefined ? 'has no perms claim' : `has a perms claim that is ${claimShape(perms)}`;
    return rejection('bad_perms', `the token ${found}: perms must be an array of permission strings`);
  }
  let permissions: PermissionSet;
  try {
    permissions = compile(perms as string[]);
  } catch (error) {
    if (error instanceof PermissionSyntaxError)
      return rejection('bad_perms', `the token's perms hold an ${error.message}`);
    throw error;
  }
  // jose has checked exp is a number (it is a required claim), and that it is not past.
  const expiresAtMs = (exp as number) * 1000 + clockToleranceMs;
  return new Grant(tid, permissions, expiresAtMs, typeof sub === 'string' ? sub : undefined, kid);
}

/** What a claim value that is not an array of strings is, for the refusal's message. */
function claimShape(value: unknown): string {
  if (Array.isArray(value)) return 'an array holding a non-string';
  if (value === null) return 'null';
  return `a ${typeof value === 'object' ? 'JSON object' : typeof value}`;
}
