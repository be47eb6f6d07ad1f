// deploy/: the production settings example loads through the broker's real configuration loader, and the
// systemd unit passes `systemd-analyze verify` where systemd's tools exist.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../broker/config.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'felix-deploy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * The example with its /etc/felix-ts/ paths moved under a scratch directory holding (empty) files of the
 * same names: the loader checks that file settings name existing files, which on a test machine the
 * example's real paths do not.
 */
function exampleWithScratchFiles(): { path: string; etc: string } {
  const etc = join(scratch, 'etc-felix-ts');
  const text = readFileSync(join(DEPLOY, 'broker.example.yaml'), 'utf8');
  const files = [...text.matchAll(/\/etc\/felix-ts\/([^\s'"]+)/g)].map((match) => match[1]);
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    mkdirSync(join(etc, file, '..'), { recursive: true });
    writeFileSync(join(etc, file), '');
  }
  const path = join(scratch, 'broker.yaml');
  writeFileSync(path, text.replaceAll('/etc/felix-ts/', `${etc}/`));
  return { path, etc };
}

describe('deploy/broker.example.yaml', () => {
  it('loads through the broker configuration loader: auth, durable storage and limits from the file', () => {
    const { path, etc } = exampleWithScratchFiles();
    const { config, report, warnings } = loadBrokerConfig({ configPath: path, env: {} });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      auth: 'jwt',
      authJwks: join(etc, 'jwks.json'),
      tlsCert: join(etc, 'tls/broker.crt'),
      tlsKey: join(etc, 'tls/broker.key'),
      durableStorageDir: '/var/lib/felix-ts',
      durableFsync: 'periodic',
      ackOnCommit: true,
      autoCreateStreams: false,
      maxConnectionsPerAddress: 200,
      subQueuePolicy: 'drop_old',
    });
    const orders = config.tenants.find((tenant) => tenant.id === 'acme')?.namespaces[0];
    expect(orders?.durable?.ledger).toBeDefined();
    // Every value the file sets is taken from it (none silently left at its default).
    const fromFile = report.filter((line) => line.source === 'yaml').length;
    const keys = readFileSync(path, 'utf8').match(/^[a-z_]+:/gm) ?? [];
    expect(fromFile).toBe(keys.length);
  });
});

function run(command: string, args: string[]): Promise<{ code: number | string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : (error.code ?? -1), stderr });
    });
  });
}

describe('deploy/felix-ts.service', async () => {
  const probe = await run('systemd-analyze', ['--version']);
  const available = probe.code === 0;
  if (!available) {
    process.stdout.write(
      `skipping systemd-analyze verify: systemd-analyze is not available here (${String(probe.code)})\n`,
    );
  }

  it.skipIf(!available)('passes systemd-analyze verify without a warning about it', async () => {
    // verify checks that ExecStart's program exists: point it at a stand-in for the installed felix-ts.
    const bin = join(scratch, 'felix-ts');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    const unit = join(scratch, 'felix-ts.service');
    const text = readFileSync(join(DEPLOY, 'felix-ts.service'), 'utf8');
    expect(text).toContain('ExecStart=/usr/local/bin/felix-ts broker');
    writeFileSync(unit, text.replace('/usr/local/bin/felix-ts', bin));
    const result = await run('systemd-analyze', ['verify', unit]);
    expect(result.stderr).not.toContain(unit);
    expect(result.code).toBe(0);
  });

  it.skipIf(!available)('would catch a misspelt directive (the check can fail)', async () => {
    const unit = join(scratch, 'misspelt.service');
    const text = readFileSync(join(DEPLOY, 'felix-ts.service'), 'utf8');
    writeFileSync(
      unit,
      text.replace('/usr/local/bin/felix-ts', '/bin/true').replace('NoNewPrivileges', 'NoNewPrivilege'),
    );
    expect((await run('systemd-analyze', ['verify', unit])).stderr).toContain(unit);
  });
});
