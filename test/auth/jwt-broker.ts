// A broker (in this process) with JWT authentication from a fresh signing key (`felix-ts auth keygen`), for
// the SDK's authentication tests; `env` adds to or overrides its settings.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '../../cli/commands/auth/mint.js';
import { startBroker } from '../broker/raw-client.js';
import { cliKeygen, scratchDir, type CliKey } from '../cli/run-cli.js';

/** Publish and subscribe anywhere in tenant t1. */
const T1_PERMISSIONS = ['stream.publish:stream:t1/*/*', 'stream.subscribe:stream:t1/*/*'];

/** T1_PERMISSIONS as `felix-ts auth mint` arguments. */
export const T1_PERMS = T1_PERMISSIONS.flatMap((permission) => ['--perm', permission]);

export async function jwtBroker(env: Record<string, string> = {}) {
  const key = await cliKeygen();
  const jwks = join(scratchDir(), 'jwks.json');
  writeFileSync(jwks, readFileSync(key.jwksPath));
  const node = await startBroker({ FELIX_AUTH_JWKS: jwks, FELIX_AUTH_CLOCK_TOLERANCE_MS: '0', ...env });
  return { key, node, broker: `127.0.0.1:${node.quicAddress.port}` };
}

/**
 * A token with T1_PERMISSIONS that the broker accepts for at least `seconds` from now, and at most one second more
 * (`exp` has whole seconds): for a test that needs a token to expire. Minted here, by what `felix-ts auth
 * mint` runs, and meant to be minted at the moment it is needed (in the token provider, or right before
 * connect()): a CLI process minted ahead of time spends the token's life on its own start and exit, and on
 * a loaded machine the token could expire before the client presents it.
 */
export function expiringToken(key: CliKey, seconds: number): Promise<string> {
  return mintToken({
    keyPath: key.privateKeyPath,
    tenant: 't1',
    permissions: T1_PERMISSIONS,
    ttlSeconds: seconds + 1,
    now: Date.now(),
  });
}
