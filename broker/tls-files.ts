/**
 * The broker's certificate files (FELIX_TLS_CERT, FELIX_TLS_KEY), checked before anything is bound or
 * generated, and the export of the served certificate (FELIX_TLS_WRITE_CERT).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { ServerTls } from '../transport/index.js';
import type { BrokerConfig } from './config.js';
import { fileFailure } from './startup-error.js';

function readPem(path: string, setting: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw fileFailure(setting, path, `cannot read it: ${(error as Error).message}`);
  }
  if (!text.includes('-----BEGIN ')) throw fileFailure(setting, path, 'it is not PEM (no -----BEGIN line)');
  return text;
}

/**
 * The configured certificate and key, parsed and matched, or null when none is configured (the broker then
 * generates one). Throws a StartupError naming the setting for a file that cannot be read, does not parse
 * or does not belong with the other, so the TLS library never sees a bad one.
 */
export function loadTlsFiles(config: Pick<BrokerConfig, 'tlsCert' | 'tlsKey'>): ServerTls | null {
  const { tlsCert, tlsKey } = config;
  if (tlsCert === null || tlsKey === null) return null;
  const certPem = readPem(tlsCert, 'FELIX_TLS_CERT');
  const keyPem = readPem(tlsKey, 'FELIX_TLS_KEY');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw fileFailure('FELIX_TLS_CERT', tlsCert, `not a valid PEM certificate: ${(error as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw fileFailure('FELIX_TLS_KEY', tlsKey, `not a valid PEM private key: ${(error as Error).message}`);
  }
  if (!certificate.checkPrivateKey(key)) {
    throw fileFailure('FELIX_TLS_KEY', tlsKey, `it is not the private key of the certificate in ${tlsCert}`);
  }
  return { certPem, keyPem };
}

/**
 * Why the served certificate will be refused by clients that verify it (FELIX_TLS_CA), though it is
 * usable (clients on loopback without a CA still connect, so it does not stop start-up): expired, or not
 * valid yet. null when it is within its validity.
 */
export function certificateValidityProblem(certPem: string, nowMs: number): string | null {
  const certificate = new X509Certificate(certPem);
  const from = Date.parse(certificate.validFrom);
  const to = Date.parse(certificate.validTo);
  if (nowMs > to) return `it expired on ${certificate.validTo}`;
  if (nowMs < from) return `it is not valid before ${certificate.validFrom}`;
  return null;
}

/** FELIX_TLS_WRITE_CERT: the served certificate, for clients to verify the broker with (FELIX_TLS_CA). */
export function writeServedCertificate(path: string, certPem: string): void {
  try {
    // Public material: readable by everyone, like any certificate.
    writeFileSync(path, certPem, { mode: 0o644 });
  } catch (error) {
    throw fileFailure('FELIX_TLS_WRITE_CERT', path, `cannot write it: ${(error as Error).message}`);
  }
}
