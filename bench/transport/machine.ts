// The machine a run happened on, for the report: results are meaningless without it.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** 1-minute load average when the run started and ended: other work on a 2-core box skews results. */
  readonly loadAtStart: number;
  loadAtEnd: number;
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    if (pretty !== undefined) return `${pretty} (${os.type()} ${os.release()})`;
  } catch {
    // not Linux, or no os-release
  }
  return `${os.type()} ${os.release()}`;
}

export function describeMachine(): MachineInfo {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: osName(),
    loadAtStart: os.loadavg()[0]!,
    loadAtEnd: NaN,
  };
}

export function currentLoad(): number {
  return os.loadavg()[0]!;
}

export function renderMachine(m: MachineInfo): string {
  return [
    `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM`,
    `- Node ${m.node}, ${m.os}`,
    `- 1-minute load average: ${m.loadAtStart.toFixed(2)} at start, ${m.loadAtEnd.toFixed(2)} at end`,
  ].join('\n');
}
