// Issue 16 (scope 7): the broker exports its generated certificate (--write-cert), and a client in another
// process pins it with FELIX_TLS_CA (FELIX_TLS_INSECURE unset) and round-trips a message; a client given
// another certificate is refused, so the pinning is real. The loopback CA warning comes once per process.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateSelfSignedCertificate, interfaceAddresses } from '../../transport/index.js';
import { BROKER_MAIN, spawnBroker } from './broker-process.js';

const CLIENT_INDEX = fileURLToPath(new URL('../../dist/client/index.js', import.meta.url));

/** A client program run by itself: publishes one message to a stream it subscribed to, prints what came. */
const ROUND_TRIP = `
import { connect } from ${JSON.stringify(CLIENT_INDEX)};
const broker = process.argv[2];
try {
  const client = await connect({ broker });
  const got = new Promise((resolve) => client.subscribe('pinned', { onEvent: (e) => resolve(Buffer.from(e.payload).toString()) }));
  await new Promise((r) => setTimeout(r, 50));
  await client.publish('pinned', 'verified hello');
  console.log('received ' + (await got));
  await client.close();
} catch (error) {
  console.log('failed ' + error.code);
  process.exitCode = 3;
}
`;

/** Two clients (so the pools open many connections), no CA: the warning is printed to stderr. */
const TWO_CLIENTS = `
import { connect } from ${JSON.stringify(CLIENT_INDEX)};
const broker = process.argv[2];
for (let i = 0; i < 2; i++) {
  const client = await connect({ broker });
  await client.publish('warned', 'x');
  await client.cache.put('default', 'c', 'k', 'v');
  await client.close();
}
console.log('done');
`;

function runClient(
  script: string,
  broker: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'felix-client-'));
  const file = join(dir, 'client.mjs');
  writeFileSync(file, script);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('FELIX_')),
  );
  const child = spawn(process.execPath, [file, broker], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('certificate export', () => {
  it('writes the served certificate, which a client in another process verifies the broker with', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'felix-cert-'));
    const certFile = join(dir, 'broker.pem');
    const broker = await spawnBroker({ FELIX_TLS_WRITE_CERT: certFile });
    // The file is the certificate the broker logged: same fingerprint.
    const logged = broker.logs.find((l) => typeof l.sha256 === 'string')?.sha256;
    expect(new X509Certificate(readFileSync(certFile)).fingerprint256).toBe(logged);
    expect(readFileSync(certFile, 'utf8')).not.toContain('PRIVATE KEY');
    const address = `127.0.0.1:${broker.quicPort}`;

    const pinned = await runClient(ROUND_TRIP, address, { FELIX_TLS_CA: certFile });
    expect(pinned.stdout.trim(), pinned.stderr).toBe('received verified hello');
    // Verified, so no "accepting any certificate" warning.
    expect(pinned.stderr).not.toContain('FELIX_TLS_CA');

    // Another certificate as the CA: the handshake fails, so the first client really verified.
    const otherFile = join(dir, 'other.pem');
    writeFileSync(otherFile, (await generateSelfSignedCertificate()).certPem);
    const wrong = await runClient(ROUND_TRIP, address, { FELIX_TLS_CA: otherFile });
    expect(wrong.stdout.trim()).toBe('failed connect_failed');
    broker.child.kill('SIGTERM');
    await broker.exited;
  });

  it('names localhost, this host, the loopback and every interface address, so other hosts can dial an IP', async () => {
    const names = (new X509Certificate((await generateSelfSignedCertificate()).certPem).subjectAltName ?? '')
      .split(', ')
      .sort();
    const addresses = interfaceAddresses();
    if (addresses.length === 0) process.stdout.write('cert SANs: this machine has no non-loopback address\n');
    const ip = (a: string): string => `IP Address:${a.includes(':') ? expandIpv6(a) : a}`;
    expect(names).toEqual(
      [
        'DNS:localhost',
        `DNS:${hostname()}`,
        'IP Address:127.0.0.1',
        ip('::1'),
        ...addresses.map(ip),
        // The same addresses as names: what the TLS stack compares a dialled address against.
        ...addresses.map((a) => `DNS:${a}`),
      ].sort(),
    );
  });

  it('a client dialling this host by an interface address verifies the written certificate', async () => {
    const ipv4 = interfaceAddresses().find((a) => !a.includes(':'));
    if (ipv4 === undefined) {
      process.stdout.write('cert by IP: skipped, this machine has no non-loopback IPv4 address\n');
      return;
    }
    const certFile = join(mkdtempSync(join(tmpdir(), 'felix-cert-')), 'broker.pem');
    // Every interface, no authentication (protected mode would refuse a non-loopback peer): traffic stays
    // on this host, addressed to its own interface.
    const broker = await spawnBroker({
      FELIX_TLS_WRITE_CERT: certFile,
      FELIX_QUIC_BIND: '0.0.0.0:0',
      FELIX_AUTH: 'none',
    });
    const verified = await runClient(ROUND_TRIP, `${ipv4}:${broker.quicPort}`, { FELIX_TLS_CA: certFile });
    expect(verified.stdout.trim(), verified.stderr).toBe('received verified hello');
    broker.child.kill('SIGTERM');
    await broker.exited;
  });

  it('the flag --write-cert does the same as FELIX_TLS_WRITE_CERT', async () => {
    const certFile = join(mkdtempSync(join(tmpdir(), 'felix-cert-')), 'flag.pem');
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('FELIX_')),
    );
    const child = spawn(process.execPath, [BROKER_MAIN, '--write-cert', certFile], {
      env: { ...inherited, FELIX_QUIC_BIND: '127.0.0.1:0', FELIX_BROKER_METRICS_BIND: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('felix-ts broker listening') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGTERM');
    expect(out).toContain('wrote the served certificate');
    expect(new X509Certificate(readFileSync(certFile)).subject).toContain('felix-ts broker');
  });

  it('prints the loopback CA warning once per process, however many clients and connections', async () => {
    const broker = await spawnBroker();
    const run = await runClient(TWO_CLIENTS, `127.0.0.1:${broker.quicPort}`, {});
    expect(run.stdout.trim(), run.stderr).toBe('done');
    const warnings = run.stderr.split('\n').filter((line) => line.includes('accepting any certificate'));
    expect(warnings).toHaveLength(1);
    broker.child.kill('SIGTERM');
    await broker.exited;
  });
});

/** OpenSSL prints IPv6 SANs in full, upper-case groups without leading zeros: 0:0:0:0:0:0:0:1. */
function expandIpv6(address: string): string {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => parseInt(g, 16).toString(16).toUpperCase()).join(':');
}
