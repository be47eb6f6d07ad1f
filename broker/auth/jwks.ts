/**
 * The JWKS file: the Ed25519 public keys tokens may be signed with, each named by its `kid`. The entry
 * shape is Felix's (crates/felix-authz/src/jwks.rs): {"kty":"OKP","crv":"Ed25519","x":…,"kid":…,
 * "alg":"EdDSA","use":"sig"}. The file is operator input, so every entry is checked and a bad file is
 * refused as a whole, naming the entry and what is wrong: loading half a key set would silently reject
 * tokens later.
 */
import { readFile } from 'node:fs/promises';
import { importJWK, type CryptoKey } from 'jose';

/** Far above any real key set (a key is ~150 bytes); stops a mistyped path reading a large file. */
export const MAX_JWKS_FILE_BYTES = 1024 * 1024;
// An Ed25519 public key is 32 bytes: 43 base64url characters without padding.
const ED25519_X = /^[A-Za-z0-9_-]{43}$/;
const ACCEPTED_ALGS: ReadonlySet<string> = new Set(['EdDSA', 'Ed25519']);

export class JwksError extends Error {
  override readonly name = 'JwksError';
}

/** One JWKS entry as felix-ts writes it (and Felix publishes it). */
export interface Ed25519PublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
}

export function ed25519PublicJwk(x: string, kid: string): Ed25519PublicJwk {
  return { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' };
}

/** The imported keys of one JWKS file. Immutable. */
export class KeySet {
  constructor(
    readonly keys: ReadonlyMap<string, CryptoKey>,
    /** Each kid's public key ("x"), to tell a kid kept from a kid given another key. */
    private readonly material: ReadonlyMap<string, string>,
    /** Equal for two files holding the same keys under the same kids, whatever their formatting. */
    readonly fingerprint: string,
  ) {
    Object.freeze(this);
  }

  get kids(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * The kids of this set that name the same key in `previous`: a kid that now names other key material
   * is a removed key as far as tokens signed with the old one are concerned (rotating a compromised key
   * under the same kid must end what it let in).
   */
  keptFrom(previous: KeySet): string[] {
    return this.kids.filter((kid) => previous.material.get(kid) === this.material.get(kid));
  }
}

function describeEntry(index: number, kid: unknown): string {
  return typeof kid === 'string' ? `keys[${index}] (kid ${JSON.stringify(kid)})` : `keys[${index}]`;
}

/** The checked {kid, x} of one entry, or a JwksError saying what is wrong with it. */
function checkEntry(entry: unknown, index: number, source: string): { kid: string; x: string } {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new JwksError(`${source}: keys[${index}] is not a JSON object`);
  }
  const jwk = entry as Record<string, unknown>;
  const where = `${source}: ${describeEntry(index, jwk.kid)}`;
  const fail = (problem: string): never => {
    throw new JwksError(`${where}: ${problem}`);
  };
  if ('d' in jwk) fail('holds a private key ("d"); a JWKS file must hold public keys only');
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') {
    fail(
      `expected an Ed25519 key (kty "OKP", crv "Ed25519"), got kty ${JSON.stringify(jwk.kty)}, ` +
        `crv ${JSON.stringify(jwk.crv)}: Felix tokens are EdDSA only`,
    );
  }
  if (typeof jwk.kid !== 'string' || jwk.kid === '') fail('has no "kid": tokens choose their key by kid');
  if (typeof jwk.x !== 'string' || !ED25519_X.test(jwk.x)) {
    fail('"x" is not a 32-byte Ed25519 public key in base64url');
  }
  if (jwk.alg !== undefined && !ACCEPTED_ALGS.has(String(jwk.alg))) {
    fail(`"alg" is ${JSON.stringify(jwk.alg)}; expected "EdDSA" (or absent)`);
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') fail(`"use" is ${JSON.stringify(jwk.use)}; expected "sig"`);
  return { kid: jwk.kid as string, x: jwk.x as string };
}

/** Parses and imports a JWKS document. `source` names it in errors (the file path). */
export async function parseKeySet(text: string, source: string): Promise<KeySet> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new JwksError(`${source}: not JSON (${(error as Error).message})`);
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new JwksError(`${source}: expected {"keys": [...]}, a JSON Web Key Set`);
  if (keys.length === 0) throw new JwksError(`${source}: the key set is empty, so no token could verify`);
  const imported = new Map<string, CryptoKey>();
  const material = new Map<string, string>();
  const identities: string[] = [];
  for (const [index, entry] of keys.entries()) {
    const { kid, x } = checkEntry(entry, index, source);
    if (imported.has(kid)) throw new JwksError(`${source}: kid ${JSON.stringify(kid)} appears twice`);
    try {
      imported.set(kid, (await importJWK({ kty: 'OKP', crv: 'Ed25519', x }, 'EdDSA')) as CryptoKey);
    } catch (error) {
      throw new JwksError(`${source}: ${describeEntry(index, kid)}: ${(error as Error).message}`);
    }
    material.set(kid, x);
    identities.push(`${kid}\u0000${x}`);
  }
  return new KeySet(imported, material, identities.sort().join('\n'));
}

/** Reads and parses the JWKS file at `path`; throws JwksError saying why it cannot be used. */
export async function readKeySet(path: string): Promise<KeySet> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_JWKS_FILE_BYTES) {
      throw new JwksError(
        `${path}: ${bytes.length} bytes, more than a JWKS file can be (${MAX_JWKS_FILE_BYTES})`,
      );
    }
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof JwksError) throw error;
    throw new JwksError(`${path}: cannot read (${(error as Error).message})`);
  }
  return parseKeySet(text, path);
}
