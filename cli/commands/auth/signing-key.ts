/** The Ed25519 signing key shared by keygen and mint: its default kid and how it is read from disk. */
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, importPKCS8, type CryptoKey } from 'jose';
import { CliFailure } from '../../exit-codes.js';

/**
 * The default kid: the key's RFC 7638 thumbprint. keygen and mint both derive it from the key, so a key
 * made without --kid and a token minted without --kid always agree.
 */
export async function defaultKid(key: CryptoKey): Promise<string> {
  const { x } = await exportJWK(key);
  if (x === undefined) throw new CliFailure('the key has no public part to name it by');
  return calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x });
}

/** Reads a PKCS8 PEM Ed25519 private key, as `felix-ts auth keygen` writes it. */
export async function readSigningKey(path: string): Promise<CryptoKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliFailure(`cannot read the signing key ${path}: ${(error as Error).message}`);
  }
  try {
    return await importPKCS8(pem, 'EdDSA', { extractable: true });
  } catch {
    throw new CliFailure(
      `${path} is not an Ed25519 private key in PKCS8 PEM ("-----BEGIN PRIVATE KEY-----"), as ` +
        '`felix-ts auth keygen` writes it',
    );
  }
}
