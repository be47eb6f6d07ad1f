/**
 * redis-server for side-by-side cache runs: the Debian package's binary on a free loopback port, with
 * persistence off (`--save '' --appendonly no`) so it measures the same in-memory work as the broker.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';
const START_TIMEOUT_MS = 10_000;

export interface RedisServer {
  readonly port: number;
  readonly version: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** The installed redis-server's version, or a message saying how to install it. */
export function redisVersion(): { ok: true; version: string } | { ok: false; message: string } {
  const probe = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    return {
      ok: false,
      message: `redis-server not found (${REDIS_SERVER}). Install it with: apt-get install redis-server`,
    };
  }
  return { ok: true, version: /v=(\S+)/.exec(probe.stdout)?.[1] ?? probe.stdout.trim() };
}

export async function startRedis(): Promise<RedisServer> {
  const found = redisVersion();
  if (!found.ok) throw new Error(found.message);
  const port = await freeLoopbackPort();
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = once(child, 'exit');
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server not ready within ${START_TIMEOUT_MS} ms: ${output}`)),
      START_TIMEOUT_MS,
    );
    child.stdout!.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${String(code)}): ${output}`));
    });
  });
  return {
    port,
    version: found.version,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A port nothing listens on right now (the OS picks it; redis takes it a moment later). */
async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
