// The broker as its own process (dist/broker/main.js), for hostile-input tests: every wait can be raced
// against the process dying, so a broker that crashes fails the test at once with its exit code and
// stderr instead of a timeout, and the hostile programs in dist/scripts/hostile/ run as processes too.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { onJsonLines } from '../../broker/json-lines.js';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const BROKER_MAIN = `${DIST}broker/main.js`;

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

export class BrokerProcess {
  private stderr = '';
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;
  quicPort = 0;
  httpPort = 0;

  private constructor(readonly child: ChildProcess) {
    children.add(child);
    child.stderr!.on('data', (d: Buffer) => {
      // The tail is what explains a crash; keep it bounded however much is logged.
      this.stderr = (this.stderr + d.toString()).slice(-8192);
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        children.delete(child);
        resolve();
      }),
    );
  }

  /** Starts the broker on ephemeral loopback ports; resolves once it logs that it listens. */
  static start(env: Record<string, string> = {}): Promise<BrokerProcess> {
    requireBuilt(BROKER_MAIN);
    const child = spawn(process.execPath, [BROKER_MAIN], {
      env: {
        ...process.env,
        FELIX_QUIC_BIND: '127.0.0.1:0',
        FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
        FELIX_LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const broker = new BrokerProcess(child);
    return new Promise((resolve, reject) => {
      onJsonLines(child.stdout!, (entry) => {
        if (entry.msg !== 'felix-ts broker listening') return;
        broker.quicPort = (entry.quic as { port: number }).port;
        broker.httpPort = (entry.http as { port: number }).port;
        resolve(broker);
      });
      void broker.exited.then(() =>
        reject(new Error(`the broker exited before listening: ${broker.describeExit()}`)),
      );
    });
  }

  get alive(): boolean {
    return this.exit === null;
  }

  describeExit(): string {
    if (this.exit === null) return 'still running';
    const how = this.exit.signal !== null ? `signal ${this.exit.signal}` : `code ${this.exit.code}`;
    return `exited with ${how}; stderr: ${this.stderr.trim() || '(empty)'}`;
  }

  /** `promise`, unless the broker process exits first: then a rejection that says so, with its stderr. */
  guard<T>(promise: Promise<T>, what: string): Promise<T> {
    return Promise.race([
      promise,
      this.exited.then(() => {
        throw new Error(`the broker process died while waiting for ${what}: ${this.describeExit()}`);
      }),
    ]);
  }

  /** GET on the broker's HTTP port (/live, /ready, /metrics). */
  async httpGet(path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${path}`);
    return { status: res.status, text: await res.text() };
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * One broker for a whole file, started again when a test left it dead: with the broker working, every
 * input of the file meets the same process (as an attacker's would); with it crashing, each test still
 * gets its own verdict instead of inheriting the previous test's corpse.
 */
export function sharedBroker(env: Record<string, string>): { get(): Promise<BrokerProcess> } {
  let current: BrokerProcess | null = null;
  afterAll(async () => {
    await current?.kill();
  });
  return {
    async get() {
      if (current === null || !current.alive) current = await BrokerProcess.start(env);
      return current;
    },
  };
}

export interface ProgramRun {
  readonly child: ChildProcess;
  /** Resolves when the program exits, with its exit code and everything it printed. */
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Runs dist/scripts/hostile/<name>.js as its own process. */
export function runHostileProgram(name: string, args: readonly string[]): ProgramRun {
  const script = `${DIST}scripts/hostile/${name}.js`;
  requireBuilt(script);
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16384)));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done };
}

/** The last line of a program's stdout, parsed: the hostile programs end with a JSON summary. */
export function lastJsonLine<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

function requireBuilt(path: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first`);
}
