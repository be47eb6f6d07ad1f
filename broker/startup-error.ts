/**
 * Start-up failures that are the operator's to fix — a port in use, a host that does not resolve, a
 * certificate that does not parse — reported like configuration errors: one line naming the setting and
 * the cause, exit status 2, no stack trace.
 */
import { ConfigError } from '../config/errors.js';
import { formatBindAddress, type BindAddress } from '../config/kinds.js';

export class StartupError extends ConfigError {}

/** What a failed bind means, in the operator's words. */
function bindCause(error: NodeJS.ErrnoException, address: BindAddress): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return 'the address is already in use (another process, perhaps another broker, is bound to that port)';
    case 'EADDRNOTAVAIL':
      return `no network interface of this machine has the address ${address.host}`;
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `the host ${address.host} does not resolve (${error.code})`;
    default:
      return error.message;
  }
}

/** A bind of `setting` (FELIX_QUIC_BIND, FELIX_BROKER_METRICS_BIND) failed. */
export function bindFailure(
  setting: string,
  protocol: 'UDP' | 'TCP',
  address: BindAddress,
  error: unknown,
): StartupError {
  const cause = bindCause(error as NodeJS.ErrnoException, address);
  return new StartupError(`Cannot bind ${setting} (${formatBindAddress(address)}, ${protocol}): ${cause}.`, {
    setting,
    value: formatBindAddress(address),
  });
}

/** A file setting (FELIX_TLS_CERT, FELIX_TLS_KEY, FELIX_TLS_WRITE_CERT) that cannot be used. */
export function fileFailure(setting: string, path: string, cause: string): StartupError {
  // Messages from libraries may span lines; the report is one line.
  const oneLine = cause.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
  return new StartupError(`Cannot use ${setting} (${path}): ${oneLine}.`, { setting, value: path });
}
