import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import { TlsPolicyError } from './errors.js';

/** PEM-encoded certificate chain and private key for the server side. */
export interface ServerTls {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ClientTlsOptions {
  /** PEM of the CA (or the server's own self-signed certificate) to verify the server against. */
  readonly caPem?: string;
  /** Accept any certificate from a non-loopback address too. Never the default. */
  readonly insecure?: boolean;
  /** Name checked against the certificate; defaults to the host connected to ('localhost' for loopback IPs). */
  readonly serverName?: string;
}

/** What the client will actually do, decided once per endpoint. */
export interface ClientTlsPolicy {
  readonly verifyPeer: boolean;
  readonly caPem: string | null;
  readonly serverName: string;
  /** Set when the policy is lenient, so the caller can log it. */
  readonly warning: string | null;
}

/**
 * Whether `host` is this machine's loopback: `localhost`, `::1`, 127.0.0.0/8, and 127.0.0.0/8 as an
 * IPv4-mapped IPv6 address (`::ffff:127.0.0.1`), which is how a dual-stack socket bound to `::` sees a
 * client that dialled 127.0.0.1.
 */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || LOOPBACK_V4.test(host);
}

const LOOPBACK_V4 = /^(?:::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i;

/**
 * DESIGN §2: verify against the CA when one is given; otherwise accept any certificate only on loopback
 * (with a warning), and refuse other addresses unless explicitly told the connection may be insecure.
 */
export function resolveClientTlsPolicy(host: string, opts: ClientTlsOptions = {}): ClientTlsPolicy {
  const serverName = opts.serverName ?? (isIP(host) !== 0 && isLoopbackHost(host) ? 'localhost' : host);
  if (opts.caPem !== undefined) return { verifyPeer: true, caPem: opts.caPem, serverName, warning: null };
  if (isLoopbackHost(host)) {
    return {
      verifyPeer: false,
      caPem: null,
      serverName,
      warning: `no CA given (FELIX_TLS_CA): accepting any certificate from loopback address ${host}`,
    };
  }
  if (opts.insecure === true) {
    return {
      verifyPeer: false,
      caPem: null,
      serverName,
      warning: `FELIX_TLS_INSECURE=1: accepting any certificate from ${host}; traffic can be intercepted`,
    };
  }
  throw new TlsPolicyError(
    `refusing to connect to ${host} without a CA to verify it: set FELIX_TLS_CA to the broker's CA (PEM path), ` +
      'or FELIX_TLS_INSECURE=1 to accept any certificate',
  );
}

export interface GeneratedCertificate extends ServerTls {
  /** SHA-256 fingerprint, colon-separated hex, as browsers and openssl print it. */
  readonly fingerprint256: string;
}

/**
 * The addresses a client on another host may dial this one by: every non-loopback interface address at
 * start-up (IPv6 link-local ones need a zone, which a certificate cannot name, so they are left out).
 */
export function interfaceAddresses(): string[] {
  const out = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) {
    for (const e of entries ?? []) {
      if (e.internal || (e.family === 'IPv6' && e.address.toLowerCase().startsWith('fe80:'))) continue;
      out.add(e.address);
    }
  }
  return [...out];
}

/**
 * A fresh EC P-256 self-signed certificate for localhost, the loopback addresses, this host's name and its
 * interface addresses, so that a client elsewhere given it as its CA (FELIX_TLS_CA, written by
 * --write-cert) can reach the broker by name or by address.
 */
export async function generateSelfSignedCertificate(days = 365): Promise<GeneratedCertificate> {
  const now = new Date();
  const result = await generate([{ name: 'commonName', value: 'felix-ts broker' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + days * 86_400_000),
    extensions: [
      // A self-signed certificate is its own trust anchor: clients pass it as their CA (FELIX_TLS_CA),
      // and BoringSSL only accepts an anchor that is marked as a CA.
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 2, value: hostname() },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          ...interfaceAddresses().map((ip) => ({ type: 7 as const, ip })),
          // Also as names: the TLS stack checks a client's server name (an address it dialled) against
          // DNS names only, as quiche hands it over.
          ...interfaceAddresses().map((value) => ({ type: 2 as const, value })),
        ],
      },
    ],
  });
  return {
    certPem: result.cert,
    keyPem: result.private,
    fingerprint256: certificateFingerprint(result.cert),
  };
}

export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** Reads PEM files, failing with the path and the reason rather than a bare ENOENT. */
export function readPemFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TlsPolicyError(`cannot read ${what} at ${path}: ${(err as Error).message}`);
  }
  if (!text.includes('-----BEGIN ')) throw new TlsPolicyError(`${what} at ${path} is not PEM`);
  return text;
}
