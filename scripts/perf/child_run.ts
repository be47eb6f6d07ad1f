// Runs one benchmark program to completion, capturing its output, and kills it (with everything it
// started, such as the broker latencydemo spawns) when it overstays its time or the runner is interrupted.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface ChildResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly durationS: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ChildOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly cwd?: string;
}

/** Process groups still running, so an interrupted runner can end them instead of orphaning a broker. */
const runningGroups = new Set<number>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

let interruptHandlerInstalled = false;
function installInterruptHandler(): void {
  if (interruptHandlerInstalled) return;
  interruptHandlerInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const pid of runningGroups) killGroup(pid, 'SIGKILL');
      process.exit(130);
    });
  }
}

export function runChild(
  command: string,
  args: readonly string[],
  options: ChildOptions,
): Promise<ChildResult> {
  installInterruptHandler();
  const started = performance.now();
  // Its own process group (detached), so that a kill reaches the grandchildren too.
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid !== undefined) runningGroups.add(pid);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => stdout.push(d));
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (pid === undefined) return;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), 5000).unref();
  }, options.timeoutMs);
  return new Promise((resolve) => {
    const finish = (exitCode: number | null, signal: string | null, extraStderr = ''): void => {
      clearTimeout(timer);
      if (pid !== undefined) {
        runningGroups.delete(pid);
        // Whatever the program left behind in its group (a broker it failed to stop) goes with it.
        killGroup(pid, 'SIGKILL');
      }
      resolve({
        exitCode,
        signal,
        timedOut,
        durationS: (performance.now() - started) / 1000,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8') + extraStderr,
      });
    };
    child.on('error', (error) => finish(null, null, `\nspawn failed: ${error.message}\n`));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

export interface SavedOutput {
  readonly stdoutPath: string;
  readonly stderrPath: string;
}

/** Keeps a run's output under data/raw/runs/<session>/; returns the paths relative to the repository. */
export function saveOutput(dir: string, name: string, result: ChildResult): SavedOutput {
  mkdirSync(dir, { recursive: true });
  const stdoutFile = join(dir, `${name}.stdout`);
  const stderrFile = join(dir, `${name}.stderr`);
  writeFileSync(stdoutFile, result.stdout);
  writeFileSync(stderrFile, result.stderr);
  return { stdoutPath: relative(REPO_ROOT, stdoutFile), stderrPath: relative(REPO_ROOT, stderrFile) };
}
