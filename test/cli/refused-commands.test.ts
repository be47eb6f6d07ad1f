// pub, sub and cache against a broker that verifies tokens, with a token that does not grant what the
// command does: each fails with exit status 1 on one line that carries the broker's own code (forbidden),
// so a script tells a refused permission from any other failure without parsing the prose.
import { beforeAll, describe, expect, it } from 'vitest';
import { felix, startCliBroker, type CliBroker } from './cli-process.js';
import { cliKeygen, cliMint } from './run-cli.js';

let broker: CliBroker;
let onlyOtherStreams: string;
beforeAll(async () => {
  const key = await cliKeygen();
  broker = await startCliBroker([], { FELIX_AUTH_JWKS: key.jwksPath });
  // Grants one stream only: everything below asks for something else.
  onlyOtherStreams = await cliMint(
    key,
    '--tenant',
    't1',
    '--perm',
    'stream.subscribe:stream:t1/default/other',
  );
});

const refused = (...args: string[]) =>
  felix([...args, '--broker', broker.address, '--token', onlyOtherStreams]);

describe('a command the token does not permit', () => {
  it.each([
    [['pub', 'orders', 'hi'], 'publish to t1/default/orders failed: publish_rejected (forbidden): '],
    [['sub', 'orders'], 'subscribe to t1/default/orders failed: broker_error (forbidden): '],
    [
      ['cache', 'put', 'web', 'k', 'v'],
      'cache put of t1/default/web key "k" failed: broker_error (forbidden): ',
    ],
    [['cache', 'get', 'web', 'k'], 'cache get of t1/default/web key "k" failed: broker_error (forbidden): '],
  ])('felix-ts %j exits 1 naming the broker code', async (args, line) => {
    const run = await refused(...args);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(line);
    expect(run.stderr).toMatch(/permission denied: the token does not grant /);
  });
});
