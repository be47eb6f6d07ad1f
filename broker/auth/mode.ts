import type { BrokerConfig } from '../../config/broker-settings.js';
import type { TokenVerifierOptions } from './verifier.js';

/**
 * What FELIX_AUTH resolves to. jwt: every stream authenticates with a verified token. protected: no
 * authentication, loopback peers only (Redis's protected mode). none: no authentication, any peer.
 */
export type AuthMode = 'jwt' | 'protected' | 'none';

type AuthSettings = Pick<
  BrokerConfig,
  | 'auth'
  | 'authJwks'
  | 'authJwksPollMs'
  | 'authIssuer'
  | 'authAudience'
  | 'authCacheEntries'
  | 'authNegativeCacheMs'
  | 'authClockToleranceMs'
>;

export function authModeOf(config: Pick<AuthSettings, 'auth' | 'authJwks'>): AuthMode {
  if (config.auth === 'none') return 'none';
  if (config.auth === 'jwt') return 'jwt';
  return config.authJwks === null ? 'protected' : 'jwt';
}

/** The verifier's options from the broker's settings; undefined unless the mode is jwt. */
export function verifierOptionsOf(
  config: AuthSettings,
  hooks: Pick<TokenVerifierOptions, 'onReload' | 'now'> = {},
): TokenVerifierOptions | undefined {
  if (authModeOf(config) !== 'jwt' || config.authJwks === null) return undefined;
  return {
    jwksPath: config.authJwks,
    issuer: config.authIssuer,
    audience: config.authAudience,
    clockToleranceMs: config.authClockToleranceMs,
    cacheEntries: config.authCacheEntries,
    negativeCacheMs: config.authNegativeCacheMs,
    jwksPollMs: config.authJwksPollMs,
    ...hooks,
  };
}
