/**
 * Why a token is refused. The code is the close reason the broker sends; the message (which never contains
 * the token) goes back to the client with it. docs/security.md lists the same table.
 */
export const AUTH_REJECT_REASONS = Object.freeze({
  bad_signature:
    'the signature does not verify: signed by a key other than the one its kid names (or, without a kid, by ' +
    'none of the JWKS keys), or altered after signing',
  unknown_kid:
    'the kid in the token header names no key in the JWKS file (a key removed by rotation, or a typo)',
  wrong_issuer: 'FELIX_AUTH_ISSUER is set and the iss claim is missing or different',
  wrong_audience: 'FELIX_AUTH_AUDIENCE is set and the aud claim is missing or does not contain it',
  expired: 'exp is in the past by more than FELIX_AUTH_CLOCK_TOLERANCE_MS',
  not_yet_valid: 'nbf is in the future by more than FELIX_AUTH_CLOCK_TOLERANCE_MS',
  missing_tid: 'the tid claim (the tenant) is missing, empty or not a string',
  bad_perms:
    'the perms claim is missing, not an array of strings, or holds a permission outside the grammar ' +
    '<action>:<kind>:<tenant>/<namespace>/<name>',
  malformed: 'not a compact JWS, not EdDSA, no exp claim, too long, or otherwise not a Felix token',
} as const);

export type AuthRejectReason = keyof typeof AUTH_REJECT_REASONS;

export interface AuthRejection {
  readonly ok: false;
  readonly reason: AuthRejectReason;
  /** Says what is wrong in terms the client's operator can act on; never contains the token. */
  readonly message: string;
}

export function rejection(reason: AuthRejectReason, message: string): AuthRejection {
  return Object.freeze({ ok: false, reason, message });
}
