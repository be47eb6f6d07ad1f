// Child processes of the garbage benchmark talk JSON lines: the child writes one JSON object per stdout
// line, the parent may write command lines to its stdin. Children end when their stdin closes (servers)
// or when their work is done; a child that outlives its bound is killed through its own handle.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export class LineChild {
  private readonly queued: unknown[] = [];
  private readonly waiting: { resolve(v: unknown): void; reject(e: Error): void }[] = [];
  private exited: Error | null = null;

  private constructor(readonly process: ChildProcess) {
    createInterface({ input: process.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        return; // not a message line
      }
      const waiter = this.waiting.shift();
      if (waiter !== undefined) waiter.resolve(message);
      else this.queued.push(message);
    });
    process.once('exit', (code, signal) => {
      this.exited = new Error(`child exited (${signal ?? code})`);
      for (const w of this.waiting.splice(0)) w.reject(this.exited);
    });
  }

  /** Runs `node script JSON(arg)`; stderr passes through so children's errors stay visible. */
  static start(script: string, arg: unknown): LineChild {
    return new LineChild(
      spawn(process.execPath, [script, JSON.stringify(arg)], { stdio: ['pipe', 'pipe', 'inherit'] }),
    );
  }

  /** The next JSON line, or a rejection when none comes within `timeoutMs` (the child is then killed). */
  next<T>(timeoutMs: number): Promise<T> {
    const ready = this.queued.shift();
    if (ready !== undefined) return Promise.resolve(ready as T);
    if (this.exited !== null) return Promise.reject(this.exited);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.process.kill('SIGKILL');
        reject(new Error(`no message from the child within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.push({
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  send(command: string): void {
    this.process.stdin!.write(`${command}\n`);
  }

  /** Closes stdin (the child's signal to finish) and waits for the exit, killing it after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    this.process.stdin!.end();
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await once(child, 'exit');
    clearTimeout(timer);
  }
}

/** In a child: reads command lines from stdin; `onEnd` runs when the parent closes it. */
export function onCommands(handle: (command: string) => void, onEnd: () => void): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => handle(line.trim()));
  lines.on('close', onEnd);
}

/** In a child: writes one message line. */
export function report(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}
