import type { FelixError } from '../client/index.js';
import { CliFailure } from './exit-codes.js';

/**
 * An SDK error as the command's one line: what failed, the SDK's code, the broker's own code where it gave
 * one (`publish_rejected (forbidden)`, so a script can tell a refused permission from a full queue), and the
 * message.
 */
export function felixFailure(what: string, error: FelixError, hint = ''): CliFailure {
  const brokerCode =
    error.brokerCode === undefined || error.brokerCode === error.code ? '' : ` (${error.brokerCode})`;
  const prefix = what === '' ? '' : `${what} failed: `;
  return new CliFailure(`${prefix}${error.code}${brokerCode}: ${error.message}${hint}`);
}
