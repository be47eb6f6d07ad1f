/**
 * What authentication costs a broker process: the same workloads against a broker without authentication
 * (protected mode, loopback) and one verifying Ed25519 JWTs (FELIX_AUTH_JWKS), alternating, in one run.
 *
 * - connect+auth: new QUIC connections, each opening one stream and authenticating (SDK connect + close),
 *   sequentially: the rate a fleet of reconnecting clients sees. With auth the token is verified once and
 *   then answered from the cache, as every stream after the first is.
 * - publish: acked 256 B publishes through the SDK, 64 in flight: the per-operation permission check.
 *
 *   npm run build && flock /tmp/felix-bench.lock node dist/bench/auth/broker-auth.js [--trials 3]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ed25519PublicJwk } from '../../broker/auth/jwks.js';
import { spawnBroker, type BrokerProcess } from '../../broker/spawn.js';
import { connect } from '../../client/index.js';

const options = new Command('broker-auth')
  .option('--trials <n>', 'alternating trials per mode', '3')
  .option('--connects <n>', 'connections per trial', '300')
  .option('--publishes <n>', 'acked publishes per trial', '100000')
  .parse()
  .opts<{ trials: string; connects: string; publishes: string }>();

const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
const directory = mkdtempSync(join(tmpdir(), 'felix-auth-bench-'));
const jwksPath = join(directory, 'jwks.json');
writeFileSync(jwksPath, JSON.stringify({ keys: [ed25519PublicJwk((await exportJWK(publicKey)).x!, 'k1')] }));
const token = await new SignJWT({ tid: 't1', perms: ['stream.publish:stream:t1/*/*'] })
  .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
  .setExpirationTime('2h')
  .sign(privateKey);

const BASE_ENV = {
  ...process.env,
  FELIX_QUIC_BIND: '127.0.0.1:0',
  FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
  FELIX_LOG_LEVEL: 'info',
};
const MODES = {
  off: { env: {}, token: '' },
  on: { env: { FELIX_AUTH_JWKS: jwksPath }, token },
} as const;

async function connectRate(broker: BrokerProcess, presented: string, count: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const client = await connect({ broker: broker.address, token: presented, onWarning: () => {} });
    await client.close();
  }
  return count / ((performance.now() - started) / 1000);
}

async function publishRate(broker: BrokerProcess, presented: string, count: number): Promise<number> {
  const client = await connect({ broker: broker.address, token: presented, onWarning: () => {} });
  const payload = Buffer.alloc(256, 1);
  for (let i = 0; i < 5000; i++) await client.publish('warm', payload);
  const started = performance.now();
  const window = 64;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      await client.publish('bench', payload);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const rate = count / ((performance.now() - started) / 1000);
  await client.close();
  return rate;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<'off' | 'on', { connect: number[]; publish: number[] }> = {
  off: { connect: [], publish: [] },
  on: { connect: [], publish: [] },
};
for (let trial = 0; trial < Number(options.trials); trial++) {
  for (const mode of ['off', 'on'] as const) {
    const broker = await spawnBroker({ ...BASE_ENV, ...MODES[mode].env });
    try {
      results[mode].connect.push(await connectRate(broker, MODES[mode].token, Number(options.connects)));
      results[mode].publish.push(await publishRate(broker, MODES[mode].token, Number(options.publishes)));
    } finally {
      await broker.stop();
    }
  }
}
const line = (what: 'connect' | 'publish', unit: string): string => {
  const off = results.off[what];
  const on = results.on[what];
  const range = (xs: number[]): string => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
  return `| ${what} | ${Math.round(median(off))} ${unit} (${range(off)}) | ${Math.round(median(on))} ${unit} (${range(on)}) | ${(median(on) / median(off)).toFixed(3)} |`;
};
console.log(`node ${process.version}, ${options.trials} alternating trials`);
console.log('| workload | auth off | auth on | on/off |');
console.log('| --- | --- | --- | --- |');
console.log(line('connect', 'conn/s'));
console.log(line('publish', 'msg/s'));
