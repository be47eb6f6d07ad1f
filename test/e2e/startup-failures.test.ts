// Issue 16 (scope 5): start-up failures the operator must fix are one line naming the setting and the
// cause, exit status 2, and nothing is generated, written or logged as started before the binds succeed.
// Real broker processes (dist/broker/main.js), as `npm start` runs them.
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageVersion } from '../../cli/version.js';
import { generateSelfSignedCertificate } from '../../transport/index.js';
import { BROKER_MAIN } from './broker-process.js';

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the broker to its exit (bounded: a broker that starts is killed after 20 s, and the test fails). */
function runBroker(env: Record<string, string>, args: string[] = []): Promise<Outcome> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('FELIX_')),
  );
  const child = spawn(process.execPath, [BROKER_MAIN, ...args], {
    env: {
      ...inherited,
      FELIX_QUIC_BIND: '127.0.0.1:0',
      FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
      FELIX_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** The one-line report: exit 2, a single stderr line naming the setting, and no stack trace. */
function expectOneLine(outcome: Outcome, setting: string, cause: RegExp): void {
  expect(outcome.code, outcome.stderr).toBe(2);
  const lines = outcome.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(setting);
  expect(lines[0]).toMatch(cause);
  expect(lines[0]).not.toMatch(/\n\s+at /);
}

/** Nothing was announced: no "listening" line, no certificate fingerprint. */
function expectNothingStarted(outcome: Outcome): void {
  expect(outcome.stdout).not.toContain('felix-ts broker listening');
  expect(outcome.stdout).not.toContain('sha256');
  expect(outcome.stdout).not.toContain('generated self-signed certificate');
}

const held: (Server | Socket)[] = [];
afterEach(async () => {
  for (const h of held.splice(0)) await new Promise<void>((r) => h.close(() => r()));
});

async function holdTcpPort(): Promise<number> {
  const server = createServer();
  held.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function holdUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  held.push(socket);
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return socket.address().port;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'felix-startup-'));
}

describe('start-up failures', () => {
  it('names FELIX_QUIC_BIND when the UDP port is in use, before generating or writing a certificate', async () => {
    const port = await holdUdpPort();
    const certFile = join(tempDir(), 'broker.pem');
    const outcome = await runBroker({ FELIX_QUIC_BIND: `127.0.0.1:${port}` }, ['--write-cert', certFile]);
    expectOneLine(outcome, `FELIX_QUIC_BIND (127.0.0.1:${port}, UDP)`, /already in use/);
    expectNothingStarted(outcome);
    expect(existsSync(certFile)).toBe(false);
  });

  it('names FELIX_BROKER_METRICS_BIND when the HTTP port is in use', async () => {
    const port = await holdTcpPort();
    const outcome = await runBroker({ FELIX_BROKER_METRICS_BIND: `127.0.0.1:${port}` });
    expectOneLine(outcome, `FELIX_BROKER_METRICS_BIND (127.0.0.1:${port}, TCP)`, /already in use/);
    expectNothingStarted(outcome);
  });

  it('names the bind setting whose host does not resolve', async () => {
    // .invalid never resolves (RFC 6761).
    const quic = await runBroker({ FELIX_QUIC_BIND: 'felix-no-such-host.invalid:5000' });
    expectOneLine(quic, 'FELIX_QUIC_BIND (felix-no-such-host.invalid:5000, UDP)', /does not resolve/);
    expectNothingStarted(quic);
    const http = await runBroker({ FELIX_BROKER_METRICS_BIND: 'felix-no-such-host.invalid:0' });
    expectOneLine(http, 'FELIX_BROKER_METRICS_BIND', /does not resolve/);
    expectNothingStarted(http);
  });

  it('names FELIX_TLS_CERT or FELIX_TLS_KEY for a garbage PEM, and a key that is not the certificate’s', async () => {
    const dir = tempDir();
    const good = await generateSelfSignedCertificate();
    const other = await generateSelfSignedCertificate();
    const file = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const cert = file('cert.pem', good.certPem);
    const key = file('key.pem', good.keyPem);
    const notPem = file('not.pem', 'this is not a certificate\n');
    const garbagePem = file('garbage.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const otherKey = file('other-key.pem', other.keyPem);

    expectOneLine(
      await runBroker({ FELIX_TLS_CERT: notPem, FELIX_TLS_KEY: key }),
      `FELIX_TLS_CERT (${notPem})`,
      /not PEM/,
    );
    const garbageCert = await runBroker({ FELIX_TLS_CERT: garbagePem, FELIX_TLS_KEY: key });
    expectOneLine(garbageCert, `FELIX_TLS_CERT (${garbagePem})`, /not a valid PEM certificate/);
    expectNothingStarted(garbageCert);
    expectOneLine(
      await runBroker({ FELIX_TLS_CERT: cert, FELIX_TLS_KEY: garbagePem }),
      `FELIX_TLS_KEY (${garbagePem})`,
      /not a valid PEM private key/,
    );
    expectOneLine(
      await runBroker({ FELIX_TLS_CERT: cert, FELIX_TLS_KEY: otherKey }),
      `FELIX_TLS_KEY (${otherKey})`,
      /not the private key of the certificate/,
    );
  });

  it('names FELIX_AUTH_JWKS for a key set that cannot be used', async () => {
    const dir = tempDir();
    const notJson = join(dir, 'jwks.json');
    writeFileSync(notJson, 'not json\n');
    const outcome = await runBroker({ FELIX_AUTH_JWKS: notJson });
    expectOneLine(outcome, `FELIX_AUTH_JWKS (${notJson})`, /not JSON/);
    expectNothingStarted(outcome);
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, '{"keys":[]}\n');
    expectOneLine(await runBroker({ FELIX_AUTH_JWKS: empty }), `FELIX_AUTH_JWKS (${empty})`, /empty/);
  });

  it('names FELIX_TLS_WRITE_CERT when the certificate cannot be written, and frees the ports', async () => {
    const outcome = await runBroker({}, ['--write-cert', join(tempDir(), 'missing-dir', 'broker.pem')]);
    expectOneLine(outcome, 'FELIX_TLS_WRITE_CERT', /cannot write it/);
    expect(outcome.stdout).not.toContain('felix-ts broker listening');
  });

  it('exits 2 on an unknown flag or a flag without its value, naming it, with nothing started', async () => {
    for (const [args, says] of [
      [['--nonsense'], /unknown option '--nonsense'/],
      [['--quic-bind'], /--quic-bind/],
    ] as const) {
      const outcome = await runBroker({}, [...args]);
      expect(outcome.code).toBe(2);
      expect(outcome.stderr).toMatch(says);
      expectNothingStarted(outcome);
    }
  });

  it('prints its version with --version and -V', async () => {
    for (const flag of ['--version', '-V']) {
      const outcome = await runBroker({}, [flag]);
      expect(outcome.code).toBe(0);
      expect(outcome.stdout.trim()).toBe(packageVersion());
      expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
    }
  });
});
