// Starts the real broker program (dist/broker/main.js) as its own process, as users run it.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { onJsonLines } from '../../broker/json-lines.js';

export const BROKER_MAIN = fileURLToPath(new URL('../../dist/broker/main.js', import.meta.url));

export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly quicPort: number;
  readonly httpPort: number;
  readonly logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

export interface SpawnOptions {
  /** Runs the broker with this many file descriptors at most (`ulimit -n`, soft and hard). */
  readonly fileLimit?: number;
}

/** Spawns the broker on ephemeral loopback ports and resolves once it logs that it listens. */
export function spawnBroker(
  env: Record<string, string> = {},
  options: SpawnOptions = {},
): Promise<BrokerProcess> {
  const [command, args] =
    options.fileLimit === undefined
      ? [process.execPath, [BROKER_MAIN]]
      : // The shell lowers its limit and execs the broker in its place (the child's pid is the broker's).
        [
          '/bin/sh',
          ['-c', 'ulimit -n "$0" && exec "$@"', String(options.fileLimit), process.execPath, BROKER_MAIN],
        ];
  const child = spawn(command, args, {
    env: {
      ...process.env,
      FELIX_QUIC_BIND: '127.0.0.1:0',
      FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
      FELIX_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    onJsonLines(child.stdout!, (entry) => {
      logs.push(entry);
      if (entry.msg === 'felix-ts broker listening') {
        const quic = entry.quic as { port: number };
        const http = entry.http as { port: number };
        resolve({ child, quicPort: quic.port, httpPort: http.port, logs, exited });
      }
    });
    void exited.then((code) => reject(new Error(`broker exited with ${code} before listening: ${stderr}`)));
  });
}

/** Runs the broker expecting it to refuse to start; resolves with its exit code and stderr. */
export function runBrokerExpectingFailure(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BROKER_MAIN], {
    env: { ...process.env, FELIX_QUIC_BIND: '127.0.0.1:0', FELIX_BROKER_METRICS_BIND: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.push(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

/** `count` idle TCP connections to `port`, each taking a descriptor in the broker until let go. */
export async function holdConnections(port: number, count: number): Promise<() => void> {
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from({ length: count }, () => {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      return new Promise<void>((resolve) => {
        s.on('connect', resolve);
        s.on('error', () => resolve());
      });
    }),
  );
  return () => {
    for (const s of sockets) s.destroy();
  };
}
