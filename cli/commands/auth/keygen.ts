/**
 * `felix-ts auth keygen --out DIR`: a new Ed25519 key pair for signing tokens. Writes DIR/signing-key.pem
 * (the private key, PKCS8 PEM, mode 0600: whoever reads it can mint any token) and DIR/jwks.json (the public
 * key with its kid: what the broker's FELIX_AUTH_JWKS points at). Each file is written to a temporary name
 * and renamed into place, so a broker watching jwks.json never reads half a file.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { ed25519PublicJwk } from '../../../broker/auth/jwks.js';
import { CliFailure } from '../../exit-codes.js';
import { defaultKid } from './signing-key.js';

export const PRIVATE_KEY_FILE = 'signing-key.pem';
export const JWKS_FILE = 'jwks.json';

export interface KeygenRequest {
  readonly outDir: string;
  readonly kid?: string;
  readonly force: boolean;
}

export interface KeygenResult {
  readonly kid: string;
  readonly privateKeyPath: string;
  readonly jwksPath: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function writeReplacing(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { mode, flag: 'wx' });
    // The umask may have taken bits away from `mode`; the private key's must be exactly 0600.
    await chmod(temporary, mode);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new CliFailure(`cannot write ${path}: ${(error as Error).message}`);
  }
}

export async function keygen(request: KeygenRequest): Promise<KeygenResult> {
  const privateKeyPath = join(request.outDir, PRIVATE_KEY_FILE);
  const jwksPath = join(request.outDir, JWKS_FILE);
  if (!request.force) {
    for (const path of [privateKeyPath, jwksPath]) {
      if (await exists(path)) {
        throw new CliFailure(
          `${path} already exists; pass --force to replace it (tokens signed by the old key stop verifying ` +
            'once the broker loads the new jwks.json)',
        );
      }
    }
  }
  try {
    await mkdir(request.outDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new CliFailure(`cannot create ${request.outDir}: ${(error as Error).message}`);
  }
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = request.kid ?? (await defaultKid(publicKey));
  const { x } = await exportJWK(publicKey);
  const jwks = { keys: [ed25519PublicJwk(x!, kid)] };
  await writeReplacing(privateKeyPath, await exportPKCS8(privateKey), 0o600);
  await writeReplacing(jwksPath, `${JSON.stringify(jwks, null, 2)}\n`, 0o644);
  return { kid, privateKeyPath, jwksPath };
}
