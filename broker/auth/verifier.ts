/**
 * Verifies Felix tokens (EdDSA/Ed25519 JWTs) against the keys of a JWKS file, and remembers the answers so
 * that opening a stream with an already-seen token costs a hash and a map lookup, not a signature check:
 *
 *   const cached = verifier.lookup(token);              // synchronous: a cached answer or undefined
 *   const result = cached ?? (await verifier.verify(token));
 *
 * The cache is keyed by the SHA-256 of the token (the token itself is not kept). Verified grants stay
 * until the token expires; rejections for FELIX_AUTH_NEGATIVE_CACHE_MS. Grants and rejections have separate
 * LRUs of FELIX_AUTH_CACHE_ENTRIES entries each, so a flood of bad tokens cannot evict the good ones. A
 * change of the key set empties both: a removed key's grants must stop working, a new key may make a
 * rejected token valid.
 *
 * Felix differences (crates/felix-authz/src/token.rs): Felix tries every key when the kid is unknown; here
 * an unknown kid is rejected as `unknown_kid` (rotation works by kid, and the client learns which key is
 * missing). A token without kid is tried against every key, as Felix does. Issuer and audience are checked
 * only when configured (Felix pins felix-auth / felix-broker).
 */
import { createHash, hash } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type CryptoKey, type JWTVerifyOptions } from 'jose';
import { grantFromClaims } from './claims.js';
import { watchFileChanges } from './file-watch.js';
import { Grant } from './grant.js';
import { readKeySet, type KeySet } from './jwks.js';
import { BoundedLru } from './lru.js';
import { PermissionSet } from './permissions.js';
import { rejection, type AuthRejection } from './reasons.js';

/** A token longer than this is refused unread: real ones are a few hundred bytes to a few KiB. */
export const MAX_TOKEN_CHARS = 64 * 1024;
/** How many times a verification restarts when the key set changes under it before answering uncached. */
const MAX_VERIFY_ATTEMPTS = 3;
const ACCEPTED_ALGORITHMS = ['EdDSA', 'Ed25519'];
/**
 * Compiled permission lists shared between tokens: the tokens of one service or role carry the same perms,
 * and compiled permissions are most of a cached grant's memory (measured: ~260 B per cached grant whose
 * list is shared, ~1.9 KB for one with five permissions of its own).
 */
const SHARED_PERMISSION_SETS = 4_096;

export interface Granted {
  readonly ok: true;
  readonly grant: Grant;
}
export type VerifyResult = Granted | AuthRejection;

export type ReloadTrigger = 'watch' | 'manual';
export type JwksReloadOutcome =
  | {
      readonly ok: true;
      readonly trigger: ReloadTrigger;
      /** False when the file changed but holds the same keys (the caches were kept). */
      readonly changed: boolean;
      readonly kids: readonly string[];
      /** The kids that still name the key they named before (a kid given another key is not among them). */
      readonly kept: readonly string[];
    }
  | {
      readonly ok: false;
      readonly trigger: ReloadTrigger;
      /** Why the file could not be used; the previous keys stay in force. */
      readonly error: string;
      readonly kids: readonly string[];
    };

export interface TokenVerifierOptions {
  /** FELIX_AUTH_JWKS. */
  readonly jwksPath: string;
  /** FELIX_AUTH_ISSUER: when set, `iss` must equal it. */
  readonly issuer?: string | null;
  /** FELIX_AUTH_AUDIENCE: when set, `aud` must be or contain it. */
  readonly audience?: string | null;
  /** FELIX_AUTH_CLOCK_TOLERANCE_MS. Default 60 000 (Felix's broker leeway). */
  readonly clockToleranceMs?: number;
  /** FELIX_AUTH_CACHE_ENTRIES, for each of the two LRUs. 0 caches nothing. Default 100 000. */
  readonly cacheEntries?: number;
  /** FELIX_AUTH_NEGATIVE_CACHE_MS. 0 caches no rejection. Default 5 000. */
  readonly negativeCacheMs?: number;
  /** FELIX_AUTH_JWKS_POLL_MS: how often the file is checked for changes. 0 only reloads on reload(). */
  readonly jwksPollMs?: number;
  /** Every reload's outcome, including those the file watch starts: the broker logs them. */
  readonly onReload?: (outcome: JwksReloadOutcome) => void;
  /** Epoch milliseconds; tests move time. Default Date.now. */
  readonly now?: () => number;
}

export interface TokenCacheStats {
  readonly grants: number;
  readonly rejections: number;
  /** lookup/verify calls answered from the cache. */
  readonly hits: number;
  /** lookup calls that found nothing. */
  readonly misses: number;
  /** Signature verifications run. */
  readonly verifications: number;
  readonly keySetGeneration: number;
}

interface CachedRejection {
  readonly result: AuthRejection;
  readonly untilMs: number;
}

/** A verification's answer and, for a rejection, the latest time it may be remembered until. */
interface Outcome {
  readonly result: VerifyResult;
  readonly rejectUntilMs?: number;
}

const NO_TOKEN = rejection('malformed', 'no token: auth.token is empty');
const TOO_LONG = rejection('malformed', `the token is longer than ${MAX_TOKEN_CHARS} characters`);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const NOT_COMPACT = rejection(
  'malformed',
  'not a JWT: expected header.payload.signature in unpadded base64url, nothing around it',
);

// crypto.hash (Node 20.12+) hashes a short string ~2.5× faster than a Hash object: it is most of a lookup.
const sha256Base64: (text: string) => string =
  typeof hash === 'function'
    ? (text) => hash('sha256', text, 'base64')
    : (text) => createHash('sha256').update(text).digest('base64');

function cacheKey(token: string): string {
  return sha256Base64(token);
}

function isoSeconds(epochSeconds: unknown): string {
  return typeof epochSeconds === 'number' && Number.isFinite(epochSeconds)
    ? new Date(epochSeconds * 1000).toISOString()
    : String(epochSeconds);
}

export class TokenVerifier {
  private keySet: KeySet;
  private generation = 0;
  private readonly granted: BoundedLru<Granted>;
  private readonly rejected: BoundedLru<CachedRejection>;
  private readonly inflight = new Map<string, Promise<VerifyResult>>();
  private readonly permissionSets = new BoundedLru<PermissionSet>(SHARED_PERMISSION_SETS);
  private readonly compilePermissions = (perms: readonly string[]): PermissionSet => {
    const key = JSON.stringify(perms);
    let compiled = this.permissionSets.get(key);
    if (compiled === undefined) {
      compiled = PermissionSet.compile(perms);
      this.permissionSets.set(key, compiled);
    }
    return compiled;
  };
  private reloading: Promise<unknown> = Promise.resolve();
  private stopWatching: (() => void) | undefined;
  private readonly now: () => number;
  private readonly clockToleranceMs: number;
  private readonly negativeCacheMs: number;
  private counters = { hits: 0, misses: 0, verifications: 0 };

  private constructor(
    private readonly options: TokenVerifierOptions,
    keySet: KeySet,
  ) {
    this.keySet = keySet;
    this.now = options.now ?? Date.now;
    this.clockToleranceMs = options.clockToleranceMs ?? 60_000;
    this.negativeCacheMs = options.negativeCacheMs ?? 5_000;
    const entries = options.cacheEntries ?? 100_000;
    this.granted = new BoundedLru(entries);
    this.rejected = new BoundedLru(entries);
  }

  /**
   * Loads the JWKS file and starts watching it. Throws JwksError when the file cannot be used: a broker
   * configured for tokens must not start without keys.
   */
  static async open(options: TokenVerifierOptions): Promise<TokenVerifier> {
    const verifier = new TokenVerifier(options, await readKeySet(options.jwksPath));
    const pollMs = options.jwksPollMs ?? 1_000;
    if (pollMs > 0) {
      verifier.stopWatching = watchFileChanges(options.jwksPath, pollMs, () => {
        void verifier.reloadFrom('watch');
      });
    }
    return verifier;
  }

  /** The kids of the keys in force. */
  get kids(): readonly string[] {
    return this.keySet.kids;
  }

  /**
   * The cached answer for `token`, or undefined when it has to be verified. Synchronous: a SHA-256 of the
   * token and two map lookups. Also answers at once, uncached, for an empty or over-long token.
   */
  lookup(token: string): VerifyResult | undefined {
    const immediate = TokenVerifier.refuseUnread(token);
    if (immediate !== undefined) return immediate;
    const answer = this.fromCache(cacheKey(token));
    if (answer === undefined) this.counters.misses++;
    return answer;
  }

  /** Verifies `token` (or answers from the cache) and remembers the answer. Never rejects. */
  verify(token: string): Promise<VerifyResult> {
    const immediate = TokenVerifier.refuseUnread(token);
    if (immediate !== undefined) return Promise.resolve(immediate);
    const key = cacheKey(token);
    const cached = this.fromCache(key);
    if (cached !== undefined) return Promise.resolve(cached);
    // Many streams of one client open at once with the same token: one signature check serves them all.
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      const started = this.verifyAndRemember(token, key).finally(() => {
        if (this.inflight.get(key) === started) this.inflight.delete(key);
      });
      pending = started;
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /** Re-reads the JWKS file now (the broker calls this on SIGHUP). Never rejects. */
  reload(): Promise<JwksReloadOutcome> {
    return this.reloadFrom('manual');
  }

  stats(): TokenCacheStats {
    return {
      grants: this.granted.size,
      rejections: this.rejected.size,
      ...this.counters,
      keySetGeneration: this.generation,
    };
  }

  /** Stops watching the file. Cached answers and verify() keep working. */
  close(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
  }

  private static refuseUnread(token: string): AuthRejection | undefined {
    if (typeof token !== 'string' || token === '') return NO_TOKEN;
    if (token.length > MAX_TOKEN_CHARS) return TOO_LONG;
    // One spelling per token: base64url without padding or whitespace, three parts (the decoders would
    // also take a trailing space or `=` padding, each a token of its own in the caches).
    if (!COMPACT_JWS.test(token)) return NOT_COMPACT;
    return undefined;
  }

  private fromCache(key: string): VerifyResult | undefined {
    const now = this.now();
    const granted = this.granted.get(key);
    if (granted !== undefined) {
      if (now < granted.grant.expiresAtMs) {
        this.counters.hits++;
        return granted;
      }
      // Signed by a key still in force (a key change empties the cache), and now past its expiry.
      this.granted.delete(key);
      const expired = rejection(
        'expired',
        `the token expired at ${new Date(granted.grant.expiresAtMs).toISOString()}`,
      );
      this.rememberRejection(key, expired, now + this.negativeCacheMs);
      this.counters.hits++;
      return expired;
    }
    const rejected = this.rejected.get(key);
    if (rejected === undefined) return undefined;
    if (now < rejected.untilMs) {
      this.counters.hits++;
      return rejected.result;
    }
    this.rejected.delete(key);
    return undefined;
  }

  private rememberRejection(key: string, result: AuthRejection, untilMs: number): void {
    if (untilMs > this.now()) this.rejected.set(key, { result, untilMs });
  }

  private async verifyAndRemember(token: string, key: string): Promise<VerifyResult> {
    let outcome: Outcome | undefined;
    for (let attempt = 0; attempt < MAX_VERIFY_ATTEMPTS; attempt++) {
      const generation = this.generation;
      outcome = await this.verifyWithKeys(token, this.keySet);
      // Checked against keys that have since been replaced: remembering it could keep a removed key's
      // grant alive, so check again against the new keys.
      if (generation !== this.generation) continue;
      const { result } = outcome;
      if (result.ok) this.granted.set(key, result);
      else
        this.rememberRejection(
          key,
          result,
          Math.min(this.now() + this.negativeCacheMs, outcome.rejectUntilMs ?? Infinity),
        );
      return result;
    }
    return outcome!.result;
  }

  private async verifyWithKeys(token: string, keys: KeySet): Promise<Outcome> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return { result: rejection('malformed', 'not a JWT: expected header.payload.signature in base64url') };
    }
    if (typeof header.alg !== 'string' || !ACCEPTED_ALGORITHMS.includes(header.alg)) {
      return {
        result: rejection(
          'malformed',
          `alg ${JSON.stringify(header.alg)} is not accepted: Felix tokens are EdDSA (Ed25519)`,
        ),
      };
    }
    const { kid } = header;
    if (kid !== undefined) {
      if (typeof kid !== 'string')
        return { result: rejection('malformed', 'the kid header is not a string') };
      const key = keys.keys.get(kid);
      if (key === undefined) {
        return {
          result: rejection('unknown_kid', `kid ${JSON.stringify(kid)} names no key in the broker's JWKS`),
        };
      }
      return this.verifyWithKey(token, key, kid);
    }
    // No kid: as Felix, try each key; a failure other than the signature is the answer.
    for (const [candidateKid, key] of keys.keys) {
      const outcome = await this.verifyWithKey(token, key, candidateKid);
      if (outcome.result.ok || outcome.result.reason !== 'bad_signature') return outcome;
    }
    return {
      result: rejection(
        'bad_signature',
        'the token has no kid and no key in the JWKS verifies its signature',
      ),
    };
  }

  private async verifyWithKey(token: string, key: CryptoKey, kid: string): Promise<Outcome> {
    const options: JWTVerifyOptions = {
      algorithms: ACCEPTED_ALGORITHMS,
      requiredClaims: ['exp'],
      clockTolerance: this.clockToleranceMs / 1000,
      currentDate: new Date(this.now()),
    };
    if (this.options.issuer) options.issuer = this.options.issuer;
    if (this.options.audience) options.audience = this.options.audience;
    this.counters.verifications++;
    try {
      const { payload } = await jwtVerify(token, key, options);
      const granted = grantFromClaims(payload, kid, this.clockToleranceMs, this.compilePermissions);
      return { result: granted instanceof Grant ? Object.freeze({ ok: true, grant: granted }) : granted };
    } catch (error) {
      return this.outcomeOfFailure(error);
    }
  }

  private outcomeOfFailure(error: unknown): Outcome {
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return {
        result: rejection('bad_signature', 'the signature does not verify with the key its kid names'),
      };
    }
    if (error instanceof errors.JWTExpired) {
      return { result: rejection('expired', `the token expired at ${isoSeconds(error.payload.exp)}`) };
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      const { claim, reason, payload } = error;
      if (claim === 'iss') {
        return {
          result: rejection(
            'wrong_issuer',
            `iss ${JSON.stringify(payload.iss ?? null)} is not this broker's issuer (FELIX_AUTH_ISSUER)`,
          ),
        };
      }
      if (claim === 'aud') {
        return {
          result: rejection(
            'wrong_audience',
            `aud ${JSON.stringify(payload.aud ?? null)} does not name this broker's audience (FELIX_AUTH_AUDIENCE)`,
          ),
        };
      }
      if (claim === 'nbf' && reason === 'check_failed') {
        const validFromMs = (payload.nbf as number) * 1000 - this.clockToleranceMs;
        return {
          result: rejection('not_yet_valid', `the token is not valid before ${isoSeconds(payload.nbf)}`),
          rejectUntilMs: validFromMs,
        };
      }
      return { result: rejection('malformed', `claim ${claim}: ${error.message}`) };
    }
    if (error instanceof errors.JOSEError) return { result: rejection('malformed', error.message) };
    return {
      result: rejection(
        'malformed',
        `the token cannot be read (${(error as Error)?.message ?? String(error)})`,
      ),
    };
  }

  private reloadFrom(trigger: ReloadTrigger): Promise<JwksReloadOutcome> {
    // One reload at a time, in order: the last one to finish reflects the file's latest state.
    const run = this.reloading.then(() => this.loadKeys(trigger));
    this.reloading = run;
    return run;
  }

  private async loadKeys(trigger: ReloadTrigger): Promise<JwksReloadOutcome> {
    let outcome: JwksReloadOutcome;
    try {
      const next = await readKeySet(this.options.jwksPath);
      const changed = next.fingerprint !== this.keySet.fingerprint;
      const kept = next.keptFrom(this.keySet);
      if (changed) {
        this.keySet = next;
        this.generation++;
        this.granted.clear();
        this.rejected.clear();
      }
      outcome = { ok: true, trigger, changed, kids: next.kids, kept };
    } catch (error) {
      outcome = { ok: false, trigger, error: (error as Error).message, kids: this.keySet.kids };
    }
    try {
      this.options.onReload?.(outcome);
    } catch {
      // A throwing logger must not stop later reloads.
    }
    return outcome;
  }
}
