// Where a number came from: the commit (and whether the tree had uncommitted changes), the machine and
// how busy it was. Read-only: git is asked with --no-optional-locks so that reading never writes the index.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { describeMachine } from '../../bench/transport/machine.js';
import type { HostInfo } from './run_records.js';
import { REPO_ROOT } from './paths.js';

export interface GitState {
  readonly sha: string;
  readonly dirty: boolean;
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', ['--no-optional-locks', ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

export function gitState(): GitState {
  const sha = git(['rev-parse', 'HEAD']) ?? 'unknown';
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return { sha, dirty: status === undefined ? false : status !== '' };
}

export function hostInfo(): HostInfo {
  const machine = describeMachine();
  return {
    hostname: os.hostname(),
    cpus: machine.cpus,
    cpu_model: machine.cpuModel,
    memory_gib: machine.memoryGiB,
    os: machine.os,
    load_1m: Math.round(machine.loadAtStart * 100) / 100,
  };
}

/** Sortable and readable: 20250101T120000Z-3fa2. FELIX_PERF_SESSION_ID overrides it (one session, many runs). */
export function newSessionId(now = new Date()): string {
  const fromEnv = process.env.FELIX_PERF_SESSION_ID;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/** One line for reports: "2 CPUs (model), 23.4 GiB RAM, OS, Node v20…". */
export function describeHost(host: HostInfo, node: string): string {
  return `${host.cpus} CPUs (${host.cpu_model}), ${host.memory_gib} GiB RAM, ${host.os}, Node ${node}`;
}
