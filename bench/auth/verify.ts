/**
 * Token verification micro-benchmarks: what opening a stream costs with a token never seen before (a
 * signature check) against one already verified (a SHA-256 and a map lookup), and what authorizing one
 * publish costs (Grant.allows). Not part of CI (numbers depend on the machine).
 *
 *   npx tsc -p tsconfig.build.json && flock /tmp/felix-bench.lock node dist/bench/auth/verify.js
 */
import { createHash, hash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Bench } from 'tinybench';
import { ed25519PublicJwk } from '../../broker/auth/jwks.js';
import { PermissionSet } from '../../broker/auth/permissions.js';
import { TokenVerifier, type VerifyResult } from '../../broker/auth/verifier.js';

const KID = 'bench';
const sha256 = (text: string): string =>
  typeof hash === 'function'
    ? hash('sha256', text, 'base64')
    : createHash('sha256').update(text).digest('base64');
// A realistic token: a few permissions of the shapes Felix's control plane mints.
const PERMS = [
  'stream.subscribe:stream:t1/*/*',
  'cache.read:cache:t1/web/*',
  'cache.write:cache:t1/web/sessions',
  'stream.publish:stream:t1/payments/*',
];

const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
const directory = mkdtempSync(join(tmpdir(), 'felix-auth-bench-'));
const jwksPath = join(directory, 'jwks.json');
writeFileSync(jwksPath, JSON.stringify({ keys: [ed25519PublicJwk((await exportJWK(publicKey)).x!, KID)] }));

const mint = (subject: string) =>
  new SignJWT({ tid: 't1', perms: PERMS })
    .setProtectedHeader({ alg: 'EdDSA', kid: KID })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);

const token = await mint('svc-a');
// Caching nothing, every verify() is a cold one: decode, Ed25519 signature check, claims, permissions.
const cold = await TokenVerifier.open({ jwksPath, jwksPollMs: 0, cacheEntries: 0 });
const warm = await TokenVerifier.open({ jwksPath, jwksPollMs: 0 });
const first = await warm.verify(token);
if (!first.ok) throw new Error(`bench token rejected: ${first.message}`);
const grant = first.grant;
// The general (whole-resource) matcher, for the rare patterns that do not split into three segments.
const spanning = PermissionSet.compile(['stream.subscribe:stream:t1/*', 'stream.publish:stream:t1/pay*']);

let sink = 0;
const count = (result: VerifyResult | undefined) => {
  if (result?.ok === true) sink++;
};

// Calls below ~100 ns are as short as the timer's resolution: those run LOOP times per sample.
const LOOP = 1_000;
const callsPerSample = new Map<string, number>();
const bench = new Bench({ time: 2_000, warmupTime: 500 });
function task(name: string, calls: number, fn: () => unknown): void {
  callsPerSample.set(name, calls);
  bench.add(name, fn as () => void);
}

task('verify(): cold (signature check, cache off)', 1, async () => count(await cold.verify(token)));
task('lookup(): cached grant (sync)', 1, () => count(warm.lookup(token)));
task('verify(): cached grant (async path)', 1, async () => count(await warm.verify(token)));
task(`sha256 of the token alone (${token.length} chars)`, 1, () => {
  sink += sha256(token).length;
});
task('grant.allows(): publish allowed by t1/payments/*', LOOP, () => {
  for (let i = 0; i < LOOP; i++) if (grant.allows('stream.publish', 't1', 'payments', 'orders')) sink++;
});
task('grant.allows(): publish denied (no permission matches)', LOOP, () => {
  for (let i = 0; i < LOOP; i++) if (!grant.allows('stream.publish', 't1', 'billing', 'orders')) sink++;
});
task('grant.allows(): other tenant (refused first)', LOOP, () => {
  for (let i = 0; i < LOOP; i++) if (!grant.allows('stream.publish', 't2', 'payments', 'orders')) sink++;
});
task('permissions.allows(): whole-resource glob (rare form)', LOOP, () => {
  for (let i = 0; i < LOOP; i++) if (spanning.allows('stream.publish', 't1', 'payments', 'orders')) sink++;
});

await bench.run();
cold.close();
warm.close();
rmSync(directory, { recursive: true, force: true });
console.log(`node ${process.version}, token ${token.length} chars, ${PERMS.length} permissions`);
console.table(
  bench.tasks.map((t) => {
    const calls = callsPerSample.get(t.name) ?? 1;
    if (t.result.state !== 'completed') return { task: t.name, state: t.result.state };
    const { latency } = t.result;
    return {
      task: t.name,
      'median ns/call': Number(((latency.p50 * 1e6) / calls).toFixed(1)),
      'mean ns/call': Number(((latency.mean * 1e6) / calls).toFixed(1)),
      'calls/s (median)': Math.round((1e9 * calls) / (latency.p50 * 1e6)),
      samples: latency.samplesCount,
    };
  }),
);
if (sink === 0) throw new Error('benchmark did no work');
