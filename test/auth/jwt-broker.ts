// A broker (in this process) with JWT authentication from a fresh signing key (`felix-ts auth keygen`), for
// the SDK's authentication tests; `env` adds to or overrides its settings.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker } from '../broker/raw-client.js';
import { cliKeygen, scratchDir } from '../cli/run-cli.js';

/** Lets a token publish and subscribe anywhere in tenant t1 (`felix-ts auth mint` arguments). */
export const T1_PERMS = [
  '--perm',
  'stream.publish:stream:t1/*/*',
  '--perm',
  'stream.subscribe:stream:t1/*/*',
];

export async function jwtBroker(env: Record<string, string> = {}) {
  const key = await cliKeygen();
  const jwks = join(scratchDir(), 'jwks.json');
  writeFileSync(jwks, readFileSync(key.jwksPath));
  const node = await startBroker({ FELIX_AUTH_JWKS: jwks, FELIX_AUTH_CLOCK_TOLERANCE_MS: '0', ...env });
  return { key, node, broker: `127.0.0.1:${node.quicAddress.port}` };
}
