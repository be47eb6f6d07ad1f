// A benchmark program (dist/<demo>/main.js) run as a user runs it, telling which Node programs it started:
// every Node process of the run (the demo, and any broker it spawns, which inherits its environment)
// records its main script through a module preloaded with NODE_OPTIONS. A run refused as a usage error
// must have started no broker at all, which its own output cannot prove.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'vitest';

export interface DemoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The main script of every Node process the run started, the demo's own first. */
  readonly programs: readonly string[];
}

/** Whether `programs` holds the broker's entry point. */
export const startedBroker = (programs: readonly string[]): boolean =>
  programs.some((p) => p.endsWith(join('broker', 'main.js')));

/** A usage error: exit 2, `lines` on stderr, nothing on stdout, and no process started but the demo. */
export function expectUsageError(run: DemoRun, lines: readonly unknown[]): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr.trim().split('\n')).toEqual(lines);
  expect(run.stdout).toBe('');
  expect(run.programs).toHaveLength(1);
  expect(startedBroker(run.programs)).toBe(false);
}

/** Runs `demo` with `args`; FELIX_* variables of the surrounding shell are dropped, `felixEnv` added. */
export function runDemoProcess(
  demo: 'cachedemo' | 'latencydemo' | 'slowdemo',
  args: readonly string[],
  felixEnv: Record<string, string> = {},
): Promise<DemoRun> {
  const dir = mkdtempSync(join(tmpdir(), 'felix-demo-run-'));
  const record = join(dir, 'programs');
  const preload = join(dir, 'record-program.mjs');
  writeFileSync(record, '');
  writeFileSync(
    preload,
    `import { appendFileSync } from 'node:fs';\n` +
      `appendFileSync(${JSON.stringify(record)}, process.argv[1] + '\\n');\n`,
  );
  const main = fileURLToPath(new URL(`../../dist/${demo}/main.js`, import.meta.url));
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FELIX_'))),
    ...felixEnv,
    NODE_OPTIONS: `--import ${pathToFileURL(preload).href}`,
  };
  const child = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const programs = readFileSync(record, 'utf8')
        .split('\n')
        .filter((line) => line !== '');
      resolve({ code, stdout, stderr, programs });
    }),
  );
}
