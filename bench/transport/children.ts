// Child processes: each benchmark server and client runs in its own Node process and reports on one
// JSON line of its stdout. Children are only ever ended through their own handle (their pid).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface NodeChild {
  readonly process: ChildProcess;
  /** The first stdout line that parses as JSON. */
  readonly report: Promise<unknown>;
}

/**
 * Runs `node [nodeFlags] script JSON(arg)`. Stderr is passed through so children's errors stay visible.
 * With `keepStdin`, the child's stdin stays open until stopChild() (servers exit when it closes).
 */
export function spawnNodeChild(
  script: string,
  arg: unknown,
  opts: { nodeFlags: readonly string[]; keepStdin: boolean; timeoutMs: number },
): NodeChild {
  const child = spawn(process.execPath, [...opts.nodeFlags, script, JSON.stringify(arg)], {
    stdio: [opts.keepStdin ? 'pipe' : 'ignore', 'pipe', 'inherit'],
  });
  const report = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no report within ${opts.timeoutMs} ms`));
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      try {
        resolve(JSON.parse(line));
        clearTimeout(timer);
      } catch {
        // not a report line
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${signal ?? code}) before reporting`));
    });
  });
  // Whoever awaits `report` handles a failure; an early exit after a report must not be unhandled.
  report.catch(() => undefined);
  return { process: child, report };
}

/** Waits for the child to exit, killing it (by its pid) if it takes longer than `timeoutMs`. */
export async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await once(child, 'exit');
  clearTimeout(timer);
}

/** Asks a server child to exit by closing its stdin. */
export async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  child.stdin?.end();
  await waitForExit(child, timeoutMs);
}
