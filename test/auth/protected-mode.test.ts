// Protected mode over a real non-loopback path: the broker listens on one end of a veth pair, the client
// runs inside a network namespace this test makes (its own test host, in a documentation range no local
// interface uses). Needs root and iproute2; where the machine forbids that, the test says why and
// skips, and the decision itself is covered below the socket by the loopback tests.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkInterfaces } from 'node:os';
import { connect, isFelixError, type FelixError } from '../../client/index.js';
import { spawnBroker } from '../e2e/broker-process.js';
import { cliKeygen, cliMint, scratchDir } from '../cli/run-cli.js';

const CLIENT = fileURLToPath(new URL('../../dist/client/index.js', import.meta.url));
const suffix = String(process.pid % 100000);
const NS = `fxns${suffix}`;
const HOST_IF = `fxa${suffix}`;
const PEER_IF = `fxb${suffix}`;
/**
 * The first documentation range (RFC 5737) no local interface uses: a machine may itself sit in one
 * (this one's eth0 is 192.0.2.2/24, which made a pid ending in 0 mod 60 pick its very address).
 */
function freeTestNet(): string {
  let local = '';
  try {
    local = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  } catch {
    // no iproute2: beforeAll says so and skips
  }
  const used = new Set([...local.matchAll(/inet (\d+\.\d+\.\d+)\.\d+\//g)].map((m) => m[1]));
  return ['198.51.100', '203.0.113', '192.0.2'].find((net) => !used.has(net)) ?? '198.51.100';
}
// A /30 per process, so parallel runs never share addresses.
const testNet = freeTestNet();
const block = (process.pid % 60) * 4;
const HOST_IP = `${testNet}.${block + 1}`;
const PEER_IP = `${testNet}.${block + 2}`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

let unavailable: string | null = null;
beforeAll(() => {
  try {
    ip('netns', 'add', NS);
    ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', PEER_IF);
    ip('link', 'set', PEER_IF, 'netns', NS);
    ip('addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF);
    ip('link', 'set', HOST_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${PEER_IP}/30`, 'dev', PEER_IF);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', PEER_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    unavailable = `cannot make a network namespace here (${(err as Error).message.split('\n')[0]})`;
    console.log(`protected-mode: SKIPPED over a real interface: ${unavailable}`);
  }
});
afterAll(() => {
  try {
    ip('link', 'del', HOST_IF);
  } catch {
    /* gone with the namespace */
  }
  try {
    ip('netns', 'del', NS);
  } catch {
    /* never made */
  }
});

/** Runs the SDK inside the namespace: connect, publish one message, report what happened. */
function clientInNamespace(
  port: number,
  token = '',
): Promise<{ ok: boolean; code?: string; message?: string }> {
  const script = join(scratchDir(), 'client.mjs');
  writeFileSync(
    script,
    `const { connect } = await import(${JSON.stringify(CLIENT)});
try {
  const c = await connect({ broker: process.argv[2], token: process.argv[3], env: { FELIX_TLS_INSECURE: '1' }, connectTimeoutMs: 5000 });
  await c.publish('s', 'hello');
  console.log(JSON.stringify({ ok: true }));
  await c.close();
} catch (e) { console.log(JSON.stringify({ ok: false, code: e.code, message: e.message })); }
process.exit(0);
`,
  );
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, script, `${HOST_IP}:${port}`, token], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      try {
        resolve(
          JSON.parse(out.trim().split('\n').pop()!) as { ok: boolean; code?: string; message?: string },
        );
      } catch {
        reject(new Error(`client printed ${out}`));
      }
    });
  });
}

describe('protected mode', () => {
  it('refuses a non-loopback client when no authentication is configured, with a reason', async (ctx) => {
    if (unavailable !== null) ctx.skip();
    const broker = await spawnBroker({ FELIX_QUIC_BIND: `${HOST_IP}:0` });
    const result = await clientInNamespace(broker.quicPort);
    expect(result).toMatchObject({ ok: false, code: 'connect_failed' });
    expect(result.message).toContain('protected mode');
    expect(broker.logs.some((l) => String(l.msg).includes('protected mode'))).toBe(true);
  });

  it('serves a non-loopback client that presents a valid token when authentication is on', async (ctx) => {
    if (unavailable !== null) ctx.skip();
    const key = await cliKeygen();
    const jwks = join(scratchDir(), 'jwks.json');
    writeFileSync(jwks, readFileSync(key.jwksPath));
    const broker = await spawnBroker({ FELIX_QUIC_BIND: `${HOST_IP}:0`, FELIX_AUTH_JWKS: jwks });
    const token = await cliMint(key, '--tenant', 't1', '--perm', 'stream.publish:stream:t1/*/*');
    expect(await clientInNamespace(broker.quicPort, token)).toEqual({ ok: true });
    const refused = await clientInNamespace(broker.quicPort, 'not-a-token');
    expect(refused).toMatchObject({ ok: false, code: 'auth_failed' });
  });

  it('serves anyone with FELIX_AUTH=none', async (ctx) => {
    if (unavailable !== null) ctx.skip();
    const broker = await spawnBroker({ FELIX_QUIC_BIND: `${HOST_IP}:0`, FELIX_AUTH: 'none' });
    expect(await clientInNamespace(broker.quicPort)).toEqual({ ok: true });
    expect(broker.logs.some((l) => String(l.msg).includes('FELIX_AUTH=none'))).toBe(true);
  });
});

describe('protected mode on this host', () => {
  // Loopback only, not "this host": a client here that dials one of the host's own other addresses comes
  // from that address, and is refused like any other. connect() reports it as connect_failed, the broker's
  // reason in its message, at once.
  const own = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && !i.internal && i.family === 'IPv4')?.address;

  it("refuses a client dialling the host's own non-loopback address: connect_failed with the reason", async (ctx) => {
    if (own === undefined) ctx.skip();
    const broker = await spawnBroker({ FELIX_QUIC_BIND: '0.0.0.0:0' });
    const started = performance.now();
    const error: unknown = await connect({
      broker: `${own}:${broker.quicPort}`,
      env: { FELIX_TLS_INSECURE: '1' },
      connectTimeoutMs: 5000,
      onWarning: () => undefined,
    }).then(
      async (client) => {
        await client.close();
        return undefined;
      },
      (rejection: unknown) => rejection,
    );
    expect(isFelixError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'connect_failed', retry: 'retry' });
    expect((error as FelixError).message).toMatch(
      /refused by the broker: protected mode: .*only loopback clients/,
    );
    expect(performance.now() - started).toBeLessThan(4000);
  });
});

describe('protected mode on a dual-stack socket', () => {
  it('serves a client that dialled 127.0.0.1, seen as ::ffff:127.0.0.1 by a broker bound to [::]', async () => {
    const broker = await spawnBroker({ FELIX_QUIC_BIND: '[::]:0' });
    for (const host of ['127.0.0.1', '[::1]']) {
      const c = await connect({ broker: `${host}:${broker.quicPort}`, connectTimeoutMs: 5000 });
      try {
        expect(await c.publish('s', 'hello')).toBeUndefined();
      } finally {
        await c.close();
      }
    }
  });
});
