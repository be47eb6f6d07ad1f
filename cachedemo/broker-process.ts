/**
 * The broker in its own process, as a peer server is when compared (DESIGN §5): `node dist/broker/main.js`
 * with the caller's FELIX_* environment, on ephemeral loopback ports. Its JSON log's
 * "felix-ts broker listening" line gives the port; SIGTERM stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** dist/broker/main.js, next to this file's own dist/cachedemo/. */
export const BROKER_MAIN = fileURLToPath(new URL('../broker/main.js', import.meta.url));

const LISTENING = 'felix-ts broker listening';
const START_TIMEOUT_MS = 15_000;

export interface BrokerChild {
  readonly process: ChildProcess;
  /** host:port of its QUIC endpoint. */
  readonly address: string;
  readonly metricsPort: number;
  /** The broker's CPU time so far (user + system), from its /metrics. */
  cpuSeconds(): Promise<number>;
  /** SIGTERM, then wait for it to exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

export interface StartBrokerOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Extra arguments to node before the script (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<BrokerChild> {
  const env = options.env ?? process.env;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BROKER_MAIN], {
    env: {
      ...env,
      FELIX_QUIC_BIND: '127.0.0.1:0',
      FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
      // The listening line is logged at info; a quieter level would hide it.
      FELIX_LOG_LEVEL:
        env.FELIX_LOG_LEVEL === 'debug' || env.FELIX_LOG_LEVEL === 'trace' ? env.FELIX_LOG_LEVEL : 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  try {
    const ports = await new Promise<{ quic: number; http: number }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "${LISTENING}" within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      let pending = '';
      const onData = (d: Buffer): void => {
        pending += d.toString();
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          const entry = parseJson(line);
          if (entry?.msg !== LISTENING) continue;
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve({
            quic: (entry.quic as { port: number }).port,
            http: (entry.http as { port: number }).port,
          });
        }
      };
      child.stdout!.on('data', onData);
      void exited.then(([code]) => {
        clearTimeout(timer);
        reject(new Error(`the broker exited (${String(code)}) before listening: ${stderr.trim()}`));
      });
    });
    return {
      process: child,
      address: `127.0.0.1:${ports.quic}`,
      metricsPort: ports.http,
      cpuSeconds: () => metricValue(ports.http, CPU_METRIC),
      stop: async (graceMs = 10_000) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
    };
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw error;
  }
}

const CPU_METRIC = 'felix_process_cpu_seconds_total';

async function metricValue(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`the broker's /metrics has no ${name}`);
  return Number(line.slice(name.length + 1));
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
