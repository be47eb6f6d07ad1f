/**
 * cachedemo's broker in its own process, as a peer server is when compared (DESIGN §5): the shared
 * launcher (broker/spawn.ts) with the caller's FELIX_* environment on ephemeral loopback ports, plus the
 * broker's CPU time read from its /metrics for the per-operation CPU column.
 */
import { demoBrokerEnvironment, spawnBroker, type BrokerProcess } from '../broker/spawn.js';

export interface BrokerChild extends BrokerProcess {
  /** The broker's CPU time so far (user + system), from its /metrics. */
  cpuSeconds(): Promise<number>;
}

export interface StartBrokerOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Extra arguments to node before the script (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<BrokerChild> {
  const broker = await spawnBroker(demoBrokerEnvironment(options.env ?? process.env), options.nodeArgs);
  return { ...broker, cpuSeconds: () => metricValue(broker.metricsPort, CPU_METRIC) };
}

const CPU_METRIC = 'felix_process_cpu_seconds_total';

async function metricValue(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`the broker's /metrics has no ${name}`);
  return Number(line.slice(name.length + 1));
}
