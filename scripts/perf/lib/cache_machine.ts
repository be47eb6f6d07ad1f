/**
 * What a cache comparison ran on, and how busy the machine was: other engineers share its two cores,
 * and a second benchmark running at the same time moves the numbers by tens of percent.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly kernel: string;
  readonly date: string;
}

export function machineInfo(): MachineInfo {
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

/** The 1-minute load average, as `uptime` prints it. */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return os.loadavg()[0]!;
  }
}

/**
 * Waits until the 1-minute load is below `maxLoad`, at most `maxWaitMs`; returns the load it settled for.
 * Our own benchmark processes have exited by then, so what remains is other work on the machine (the
 * 1-minute average still carries our last run for a while: that is why the wait can be long).
 */
export async function waitForQuiet(
  maxLoad: number,
  maxWaitMs: number,
  say: (line: string) => void,
): Promise<number> {
  const started = Date.now();
  let load = loadAverage();
  let told = false;
  while (load >= maxLoad && Date.now() - started < maxWaitMs) {
    if (!told)
      say(`  load ${load.toFixed(2)} >= ${maxLoad}: waiting up to ${Math.round(maxWaitMs / 1000)} s`);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    load = loadAverage();
  }
  return load;
}
