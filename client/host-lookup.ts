/**
 * connect() resolves the broker's host name before anything else. The transport applies its TLS rule
 * (no CA: loopback addresses only) to the name before it looks it up, so a mistyped name would otherwise
 * fail as "refusing to connect to … without a CA", which reads like a certificate problem.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { shownName } from '../config/shown-name.js';
import { withDeadline } from './deadline.js';
import { FelixError } from './errors.js';

/** Fails with `connect_failed` naming the lookup's error when `host` (a name, not an address) does not resolve. */
export async function checkHostResolves(host: string, timeoutMs: number): Promise<void> {
  if (isIP(host) !== 0) return;
  const name = shownName(host);
  try {
    await withDeadline(
      lookup(host),
      timeoutMs,
      () =>
        new FelixError(
          'connect_failed',
          `cannot resolve the broker's host name ${name} within ${timeoutMs} ms`,
        ),
    );
  } catch (error) {
    if (error instanceof FelixError) throw error;
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new FelixError(
      'connect_failed',
      `cannot resolve the broker's host name ${name} (${why}): is the name right, and does this host's DNS know it?`,
      { cause: error },
    );
  }
}
