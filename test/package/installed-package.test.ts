// The package as another project gets it: `npm pack`, install the tarball into an empty project, start
// the broker with `npx felix-ts broker`, round-trip a message through a script importing 'felix-ts/client',
// and type-check a TypeScript file importing it with the repository's tsc. Dependencies come from npm's
// cache when it has them (the repository's `npm ci` filled it), from the registry otherwise.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerTsconfig } from './consumer-project.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const INSTALL_TIMEOUT_MS = 120_000;

const scratch = mkdtempSync(join(tmpdir(), 'felix-package-'));
const project = join(scratch, 'consumer');
let tarball = '';
let packedFiles: string[] = [];
let broker: ChildProcess | undefined;

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeout = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, [...args], { cwd, timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({
        code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
        stdout,
        stderr,
      });
    });
  });
}

async function mustRun(
  command: string,
  args: readonly string[],
  cwd: string,
  timeout?: number,
): Promise<string> {
  const result = await run(command, args, cwd, timeout);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}:\n${result.stderr}\n${result.stdout}`,
    );
  }
  return result.stdout;
}

beforeAll(async () => {
  const packed = JSON.parse(
    await mustRun('npm', ['pack', '--json', '--pack-destination', scratch], REPO),
  ) as { filename: string; files: { path: string }[] }[];
  tarball = join(scratch, packed[0].filename);
  packedFiles = packed[0].files.map((file) => file.path);

  rmSync(project, { recursive: true, force: true });
  await mustRun('mkdir', ['-p', project], scratch);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'felix-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
  );
  await mustRun(
    'npm',
    ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    project,
    INSTALL_TIMEOUT_MS,
  );
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(() => {
  // npx runs the bin in a child: end the whole group it leads.
  if (broker?.pid !== undefined && broker.exitCode === null) {
    try {
      process.kill(-broker.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('holds the built program, its types and the docs, and no tests, sources, maps or images', () => {
    for (const needed of [
      'package.json',
      'README.md',
      'dist/cli/main.js',
      'dist/broker/main.js',
      'dist/broker/node.d.ts',
      'dist/client/index.js',
      'dist/client/index.d.ts',
      'dist/latencydemo/main.js',
      'dist/cachedemo/main.js',
      'docs/configuration.md',
    ]) {
      expect(packedFiles).toContain(needed);
    }
    const unwanted = packedFiles.filter(
      (path) =>
        /(^|\/)test\//.test(path) ||
        /\.(map|png|svg|csv|jsonl)$/.test(path) ||
        (path.endsWith('.ts') && !path.endsWith('.d.ts')) ||
        /^dist\/(bench|scripts|conformance)\//.test(path),
    );
    expect(unwanted).toEqual([]);
  });
});

describe('installed into an empty project', () => {
  it('starts the broker with `npx felix-ts broker` and round-trips a message through felix-ts/client', async () => {
    broker = spawn('npx', ['--no', '--', 'felix-ts', 'broker'], {
      cwd: project,
      detached: true,
      env: {
        ...process.env,
        FELIX_QUIC_BIND: '127.0.0.1:0',
        FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
        FELIX_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const port = await listeningPort(broker);

    writeFileSync(
      join(project, 'roundtrip.mjs'),
      `import { connect } from 'felix-ts/client';
const client = await connect({ broker: process.argv[2], onWarning: () => {} });
const subscription = await client.subscribe('installed', { start: 'earliest' });
await client.publish('installed', 'hello from the tarball');
for await (const event of subscription) {
  console.log(event.offset, new TextDecoder().decode(event.payload));
  break;
}
await client.close();
`,
    );
    const output = await mustRun(process.execPath, ['roundtrip.mjs', `127.0.0.1:${port}`], project);
    expect(output).toBe('0 hello from the tarball\n');
  });

  it('type-checks `import { connect } from "felix-ts/client"` with the types the package ships', async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      consumerTsconfig({ typeRoots: [join(REPO, 'node_modules/@types')] }),
    );
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { connect, type FelixClient, type FelixEvent } from 'felix-ts/client';
const client: FelixClient = await connect({ broker: '127.0.0.1:5000', tenant: 't1' });
await client.publish('orders', 'hello', { ack: 'per_message' });
const sub = await client.subscribe('orders', { start: 'earliest', onGap: (gap) => console.log(gap.missed) });
const first: FelixEvent | undefined = undefined;
console.log(sub.stream, first);
await client.close();
`,
    );
    const clean = await run(process.execPath, [TSC, '-p', project], project);
    expect(clean.stdout + clean.stderr).toBe('');
    expect(clean.code).toBe(0);

    // The types are real, not `any`: a misspelt option and a wrong ack mode are errors.
    writeFileSync(
      join(project, 'wrong.ts'),
      `import { connect } from 'felix-ts/client';
const client = await connect({ brokr: '127.0.0.1:5000' });
await client.publish('orders', 'hello', { ack: 'always' });
`,
    );
    const wrong = await run(process.execPath, [TSC, '-p', project], project);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toContain("'brokr'");
    expect(wrong.stdout).toContain('"always"');
    rmSync(join(project, 'wrong.ts'));
  });

  it('installs the bins', () => {
    const bins = readdirSync(join(project, 'node_modules/.bin'));
    for (const bin of ['felix-ts', 'felix-broker', 'felix-latencydemo', 'felix-cachedemo']) {
      expect(bins).toContain(bin);
    }
  });
});

/** The QUIC port the broker logs once it listens (its JSON log line on stdout). */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const line of stdout.split('\n')) {
        if (!line.includes('felix-ts broker listening')) continue;
        const entry = JSON.parse(line) as { quic: { port: number } };
        resolve(entry.quic.port);
      }
    });
    child.on('exit', (code) =>
      reject(new Error(`the broker exited with ${code} before listening:\n${stderr}${stdout}`)),
    );
  });
}
