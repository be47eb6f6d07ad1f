// The built command line (dist/cli/main.js, built by `npm test`) as users run it: a child process.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const CLI_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI and returns its stdout, failing with its stderr when it does not exit 0. */
export async function cliOutput(...args: string[]): Promise<string> {
  const run = await runCli(...args);
  if (run.code !== 0) throw new Error(`felix-ts ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

export interface CliKey {
  readonly dir: string;
  readonly privateKeyPath: string;
  readonly jwksPath: string;
}

/** `felix-ts auth keygen --out <fresh dir>`. */
export async function cliKeygen(...extra: string[]): Promise<CliKey> {
  const dir = join(scratchDir(), `key-${Math.random().toString(36).slice(2)}`);
  await cliOutput('auth', 'keygen', '--out', dir, ...extra);
  return { dir, privateKeyPath: join(dir, 'signing-key.pem'), jwksPath: join(dir, 'jwks.json') };
}

/** `felix-ts auth mint --key <key> …`, the token it prints. */
export async function cliMint(key: CliKey, ...args: string[]): Promise<string> {
  return (await cliOutput('auth', 'mint', '--key', key.privateKeyPath, ...args)).trim();
}

let scratch: string | undefined;
/** A temporary directory for this test file, removed after it. */
export function scratchDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'felix-cli-'));
  return scratch;
}
afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});
