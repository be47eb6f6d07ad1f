// nats-server (the Debian package) as the peer broker: found on disk, started in its own process on a
// random loopback port, stopped when done.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from './cli.js';

/** Exactly what to run when it is missing: the whole message, so it can be copied as it is. */
export const NATS_INSTALL_HINT = 'apt-get install nats-server';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** NATS_SERVER_BIN, else /usr/sbin/nats-server (where Debian puts it, often off a user's PATH), else PATH. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [
    env.NATS_SERVER_BIN,
    '/usr/sbin/nats-server',
    ...(env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'nats-server')),
  ];
  return candidates.find((path): path is string => path !== undefined && path !== '' && isExecutable(path));
}

/** The binary, or a usage error whose message is the install command (printed alone; exit code 2). */
export function requireNatsServer(): string {
  const bin = findNatsServer();
  if (bin === undefined) throw new UsageError(NATS_INSTALL_HINT);
  return bin;
}

export interface RunningNatsServer {
  /** host:port */
  readonly address: string;
  readonly version: string;
  stop(): Promise<void>;
}

export function startNatsServer(bin: string, timeoutMs = 10_000): Promise<RunningNatsServer> {
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', '-1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let log = '';
    let address: string | undefined;
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`nats-server did not become ready in ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      address ??= /Listening for client connections on (\S+:\d+)/.exec(log)?.[1];
      if (address !== undefined && log.includes('Server is ready')) {
        clearTimeout(timer);
        const version = /Version:\s+(\S+)/.exec(log)?.[1] ?? 'unknown';
        resolve({ address, version, stop });
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited before it was ready:\n${log}`));
    });
  });
}
