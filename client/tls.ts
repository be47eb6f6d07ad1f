/**
 * DESIGN §2 on the client: FELIX_TLS_CA (a PEM path) verifies the broker; without it the transport accepts
 * any certificate from a loopback address only, unless FELIX_TLS_INSECURE allows it everywhere;
 * FELIX_TLS_SERVER_NAME overrides the name checked and sent as SNI. The policy itself lives in the
 * transport (resolveClientTlsPolicy); this maps the settings onto it.
 */
import { readPemFile, type ClientTlsOptions } from '../transport/index.js';
import type { ClientConfig } from './config.js';

export function clientTlsOptions(config: ClientConfig): ClientTlsOptions {
  const tls: { caPem?: string; insecure?: boolean; serverName?: string } = {};
  // Read once per client: every pool's endpoint gets the same bytes.
  if (config.tlsCa !== null) tls.caPem = readPemFile(config.tlsCa, 'FELIX_TLS_CA');
  if (config.tlsInsecure) tls.insecure = true;
  if (config.tlsServerName !== null) tls.serverName = config.tlsServerName;
  return tls;
}

/** TLS notices this process has given already (the loopback CA warning, FELIX_TLS_INSECURE). */
const givenTlsNotices = new Set<string>();

/**
 * Gives a TLS notice once per process: every client, pool and connection to the same broker would repeat
 * the same words, and a process that opens many clients (a benchmark, a test suite) would print them all.
 */
export function tlsNoticeOncePerProcess(message: string, warn: (message: string) => void): void {
  if (givenTlsNotices.has(message)) return;
  givenTlsNotices.add(message);
  warn(message);
}
