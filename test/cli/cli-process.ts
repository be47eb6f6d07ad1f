// The built `felix-ts` (dist/cli/main.js) as a child process, with standard input and environment of the
// test's choosing, plus a broker started through `felix-ts broker` itself.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';
import { CLI_MAIN, type CliRun } from './run-cli.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

export interface RunOptions {
  /** Written to the command's standard input, which is then closed (closed at once when absent). */
  readonly input?: string | Uint8Array;
  readonly env?: Readonly<Record<string, string>>;
}

/** Runs `felix-ts …args`; stdout is kept as bytes too, for binary values. */
export function felix(
  args: readonly string[],
  options: RunOptions = {},
): Promise<CliRun & { bytes: Buffer }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI_MAIN, ...args],
      { timeout: 60_000, encoding: 'buffer', env: { ...process.env, ...options.env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString(), bytes: stdout });
      },
    );
    child.stdin!.end(options.input ?? '');
  });
}

/** A command running in the background: everything it printed so far, and its end. */
export interface BackgroundRun {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  readonly exited: Promise<number | null>;
  /** Resolves with the first match of `pattern` in what `stream` printed (rejects if it exits first). */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<string>;
}

/** Starts `felix-ts …args` in the background (a subscriber, a broker), killed after the test file. */
export function felixInBackground(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): BackgroundRun {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  const waiters: (() => void)[] = [];
  // Always read both pipes: a pipe nobody reads fills up and then blocks the child's writes.
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.on('data', (chunk: Buffer) => {
      output[stream] += chunk.toString();
      for (const waiter of [...waiters]) waiter();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output,
    exited,
    waitFor(stream, pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output[stream]);
          if (match === null) return;
          waiters.splice(waiters.indexOf(check), 1);
          resolve(match[0]);
        };
        waiters.push(check);
        check();
        void exited.then((code) =>
          reject(
            new Error(
              `felix-ts ${args.join(' ')} exited with ${code} before printing ${pattern}:\n${output.stderr}`,
            ),
          ),
        );
      });
    },
  };
}

export interface CliBroker {
  readonly run: BackgroundRun;
  /** host:port of its QUIC listener, for --broker. */
  readonly address: string;
  /** host:port of its HTTP server, for status --metrics. */
  readonly metrics: string;
}

/** `felix-ts broker` with its flags, on ephemeral loopback ports; resolves once it logs that it listens. */
export async function startCliBroker(
  extraFlags: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<CliBroker> {
  const run = felixInBackground(
    ['broker', '--quic-bind', '127.0.0.1:0', '--broker-metrics-bind', '127.0.0.1:0', ...extraFlags],
    { FELIX_LOG_LEVEL: 'info', ...env },
  );
  const line = await run.waitFor('stdout', /\{[^\n]*felix-ts broker listening[^\n]*\}\n/);
  const entry = JSON.parse(line) as { quic: { port: number }; http: { port: number } };
  return { run, address: `127.0.0.1:${entry.quic.port}`, metrics: `127.0.0.1:${entry.http.port}` };
}
