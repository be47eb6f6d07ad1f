// Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and lists where the time went: self time per
// function and per file, so a profile can be read without opening DevTools.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const projectUrl = `${pathToFileURL(process.cwd()).href}/`;
// Samples that are not work: the event loop waiting, and the profile's root.
const NOT_WORK = new Set(['(idle)', '(root)']);

function location(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (url === '') return '';
  const short = url.startsWith(projectUrl) ? url.slice(projectUrl.length) : url.replace(/^file:\/\//, '');
  return `${short}:${node.callFrame.lineNumber + 1}`;
}

function functionKey(node: ProfileNode): string {
  const where = location(node);
  return `${node.callFrame.functionName || '(anonymous)'}${where === '' ? '' : ` ${where}`}`;
}

function add(totals: Map<string, number>, key: string, micros: number): void {
  totals.set(key, (totals.get(key) ?? 0) + micros);
}

function top(totals: Map<string, number>, busy: number, count: number): string[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, micros]) => `  ${((micros / busy) * 100).toFixed(1).padStart(5)}%  ${key}`);
}

/**
 * Where a profile's busy time went: self time by function and by file, and total (inclusive) time of
 * the project's own functions, all as percentages of the non-idle time. Native calls show up as their
 * own entries (e.g. `send`) or inside the JS function that made them.
 */
export function summarizeProfile(path: string, count = 15): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n);
  const selfByFunction = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const totalByFunction = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const micros = profile.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    if (NOT_WORK.has(node.callFrame.functionName)) {
      idle += micros;
      continue;
    }
    busy += micros;
    add(selfByFunction, functionKey(node), micros);
    const where = location(node);
    add(selfByFile, where === '' ? node.callFrame.functionName : where.replace(/:\d+$/, ''), micros);
    // Inclusive time, counted once per sample even for recursive frames.
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = node; n !== undefined; n = parentOf.get(n.id)) {
      if (!n.callFrame.url.startsWith(projectUrl)) continue;
      const key = functionKey(n);
      if (!seen.has(key)) add(totalByFunction, key, micros);
      seen.add(key);
    }
  }
  return [
    `${basename(path)}: ${(busy / 1e6).toFixed(2)} s busy, ${(idle / 1e6).toFixed(2)} s idle; percentages of busy time`,
    ' self time by function:',
    ...top(selfByFunction, busy, count),
    ' self time by file:',
    ...top(selfByFile, busy, Math.ceil(count / 2)),
    ' total time (self + callees) of project functions:',
    ...top(totalByFunction, busy, count),
  ].join('\n');
}
