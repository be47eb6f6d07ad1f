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
