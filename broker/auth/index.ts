/** Token authentication and permission checks: what the broker's stream handling calls. */
export { Grant } from './grant.js';
export { ed25519PublicJwk, JwksError, type Ed25519PublicJwk } from './jwks.js';
export { authModeOf, verifierOptionsOf, type AuthMode } from './mode.js';
export {
  DATA_ACTIONS,
  FELIX_ACTIONS,
  KIND_OF_ACTION,
  PermissionSet,
  PermissionSyntaxError,
  parsePermission,
  permissionFor,
  type DataAction,
  type FelixAction,
} from './permissions.js';
export { AUTH_REJECT_REASONS, type AuthRejectReason, type AuthRejection } from './reasons.js';
export {
  MAX_TOKEN_CHARS,
  TokenVerifier,
  type Granted,
  type JwksReloadOutcome,
  type TokenCacheStats,
  type TokenVerifierOptions,
  type VerifyResult,
} from './verifier.js';
