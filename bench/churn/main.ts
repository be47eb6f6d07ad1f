/**
 * Connection churn against a real broker process, for finding where its resident set goes (issue 12):
 * warm-up cycles, then rounds of connect / subscribe / publish / close cycles, each round followed by a full
 * GC in the broker and a reading of its RSS (anonymous and file-backed apart), JS heap and external memory.
 * The broker can be started under a native-heap tool and with extra environment, to compare runs:
 *
 *   flock /tmp/felix-bench.lock node dist/bench/churn/main.js --rounds 5 --per-round 100
 *   flock /tmp/felix-bench.lock node dist/bench/churn/main.js --wrap 'heaptrack -o /tmp/churn-500' --end kill
 *   flock /tmp/felix-bench.lock node dist/bench/churn/main.js --env MALLOC_ARENA_MAX=2
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { onJsonLines } from '../../broker/json-lines.js';
import { churn } from './cycle.js';

const BROKER_MAIN = fileURLToPath(new URL('../../broker/main.js', import.meta.url));

// Preloaded into the broker: SIGUSR2 runs a full GC, then (after the deferred native finalizers have run)
// a second one, and prints the heap figures and the pid (the broker may run under a wrapper process).
const GC_PRELOAD = `import v8 from 'node:v8';
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  setTimeout(() => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    process.stdout.write(JSON.stringify({ msg: 'gc done', pid: process.pid, heapUsed: m.heapUsed, heapTotal: m.heapTotal,
      external: m.external, arrayBuffers: m.arrayBuffers, v8: v8.getHeapStatistics(),
      spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size])) }) + '\\n');
  }, 50);
});
`;

interface Broker {
  readonly child: ChildProcess;
  readonly quicPort: number;
  readonly logs: Record<string, unknown>[];
}

function spawnBroker(wrap: string[], env: Record<string, string>, nodeOptions: string): Promise<Broker> {
  const preload = join(tmpdir(), `felix-churn-gc-${process.pid}.mjs`);
  writeFileSync(preload, GC_PRELOAD);
  const [cmd, ...args] = [...wrap, process.execPath, BROKER_MAIN];
  const child = spawn(cmd!, args, {
    env: {
      ...process.env,
      FELIX_QUIC_BIND: '127.0.0.1:0',
      FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
      FELIX_LOG_LEVEL: 'info',
      NODE_OPTIONS: `--expose-gc --import ${preload} ${nodeOptions}`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    onJsonLines(child.stdout!, (entry) => {
      logs.push(entry);
      if (entry.msg === 'felix-ts broker listening') {
        resolve({ child, quicPort: (entry.quic as { port: number }).port, logs });
      }
    });
    child.on('exit', (code) => reject(new Error(`broker exited with ${code} before listening`)));
  });
}

function statusKiB(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]);
}

interface Reading {
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

const MiB = (kib: number): string => (kib / 1024).toFixed(1);

/** Full GC in the broker, then RSS once it has settled. */
async function collectedReading(broker: Broker): Promise<{ pid: number; r: Reading }> {
  const done = (): Record<string, unknown>[] => broker.logs.filter((l) => l.msg === 'gc done');
  const before = done().length;
  // Under a wrapper the broker is a grandchild: signal it by the pid it last reported, else the child.
  const known = done().at(-1)?.pid as number | undefined;
  if (known !== undefined) process.kill(known, 'SIGUSR2');
  else if (broker.child.pid !== undefined) signalNodeDescendant(broker.child.pid);
  for (let i = 0; i < 1000 && done().length === before; i++) await new Promise((r) => setTimeout(r, 10));
  const entry = done().at(-1)!;
  const pid = entry.pid as number;
  let last = statusKiB(pid, 'VmRSS');
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = statusKiB(pid, 'VmRSS');
    if (Math.abs(now - last) < 256) break;
    last = now;
  }
  return {
    pid,
    r: {
      rss: statusKiB(pid, 'VmRSS'),
      anon: statusKiB(pid, 'RssAnon'),
      file: statusKiB(pid, 'RssFile'),
      heapUsed: Number(entry.heapUsed) / 1024,
      heapTotal: Number(entry.heapTotal) / 1024,
      external: Number(entry.external) / 1024,
    },
  };
}

/** glibc's own account of the broker's heap, summed over arenas: system bytes (held) and in-use bytes. */
function mallocStats(pid: number): void {
  gdbCall(pid, '(void) malloc_stats()');
}

/**
 * Calls a C function inside the broker. What it prints goes to the broker's (inherited) stderr. gdb may exit
 * non-zero after the call on a multi-threaded process (it cannot restore every register set here) without
 * harming the call.
 */
function gdbCall(pid: number, expr: string): void {
  spawnSync('gdb', ['-p', String(pid), '-batch', '-nx', '-ex', `call ${expr}`], { stdio: 'ignore' });
}

function copySmaps(pid: number, to: string): void {
  writeFileSync(to, readFileSync(`/proc/${pid}/smaps`));
}

function showV8(broker: Broker): void {
  const e = broker.logs.filter((l) => l.msg === 'gc done').at(-1)!;
  const h = e.v8 as Record<string, number>;
  const spaces = e.spaces as Record<string, number>;
  const m = (b: number): string => (b / 2 ** 20).toFixed(2);
  console.log(
    `  v8 physical ${m(h.total_physical_size!)} malloced ${m(h.malloced_memory!)} | ` +
      Object.entries(spaces)
        .map(([k, v]) => `${k.replace('_space', '')} ${m(v)}`)
        .join(' '),
  );
}

async function afterReading(pid: number, signal: string): Promise<void> {
  if (signal === '') return;
  process.kill(pid, signal as NodeJS.Signals);
  await new Promise((r) => setTimeout(r, 5000));
}

/** The first process named node at or below `pid` (the broker itself when run under heaptrack or similar). */
function signalNodeDescendant(pid: number): void {
  const queue = [pid];
  for (let guard = 0; guard < 100 && queue.length > 0; guard++) {
    const p = queue.shift()!;
    const comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    if (comm === 'node' || comm === 'MainThread') {
      process.kill(p, 'SIGUSR2');
      return;
    }
    const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
    if (children !== '') queue.push(...children.split(/\s+/).map(Number));
  }
  throw new Error(`no node process under ${pid}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      warm: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '5' },
      'per-round': { type: 'string', default: '100' },
      // Attach gdb at each reading and print glibc's malloc_stats(): bytes held from the system vs in use.
      'malloc-stats': { type: 'boolean', default: false },
      // Copy /proc/<broker>/smaps at each reading to <prefix>-<cycles>.txt, to compare mappings' RSS.
      smaps: { type: 'string', default: '' },
      // Print V8's physical heap figures at each reading.
      v8: { type: 'boolean', default: false },
      // After the last round, call glibc's malloc_trim(0) in the broker and read its RSS again: what that
      // returns was free memory the allocator held, not memory in use.
      trim: { type: 'boolean', default: false },
      // More options for the broker's node, e.g. '--heapsnapshot-signal=SIGTTIN' with --signal SIGTTIN.
      'node-options': { type: 'string', default: '' },
      // A signal sent to the broker after each reading (a heap snapshot, say); waits 5 s after it.
      signal: { type: 'string', default: '' },
      concurrency: { type: 'string', default: '4' },
      wrap: { type: 'string', default: '' },
      env: { type: 'string', multiple: true, default: [] },
      end: { type: 'string', default: 'kill' },
    },
  });
  const env = Object.fromEntries(
    values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const wrap = values.wrap.split(/\s+/).filter((s) => s !== '');
  const concurrency = Number(values.concurrency);
  const perRound = Number(values['per-round']);
  const broker = await spawnBroker(wrap, env, values['node-options']);
  const show = (label: string, r: Reading): void =>
    console.log(
      `${label.padEnd(14)} rss ${MiB(r.rss)} anon ${MiB(r.anon)} file ${MiB(r.file)} MiB | heapUsed ` +
        `${MiB(r.heapUsed)} heapTotal ${MiB(r.heapTotal)} external ${MiB(r.external)} MiB`,
    );
  let cycles = Number(values.warm);
  await churn(broker.quicPort, 0, cycles, concurrency);
  const { pid, r: start } = await collectedReading(broker);
  show(`warm-up ${cycles}`, start);
  if (values['malloc-stats']) mallocStats(pid);
  if (values.smaps !== '') copySmaps(pid, `${values.smaps}-${cycles}.txt`);
  if (values.v8) showV8(broker);
  await afterReading(pid, values.signal);
  for (let round = 0; round < Number(values.rounds); round++) {
    await churn(broker.quicPort, cycles, perRound, concurrency);
    cycles += perRound;
    const { r } = await collectedReading(broker);
    show(`after ${cycles}`, r);
    if (values['malloc-stats']) mallocStats(pid);
    if (values.smaps !== '') copySmaps(pid, `${values.smaps}-${cycles}.txt`);
    if (values.v8) showV8(broker);
    if (round === Number(values.rounds) - 1)
      console.log(
        `growth over ${cycles - Number(values.warm)} cycles: rss ${MiB(r.rss - start.rss)} anon ` +
          `${MiB(r.anon - start.anon)} file ${MiB(r.file - start.file)} MiB`,
      );
  }
  if (values.trim) {
    gdbCall(pid, '(int) malloc_trim(0)');
    console.log(
      `after malloc_trim(0): rss ${MiB(statusKiB(pid, 'VmRSS'))} anon ${MiB(statusKiB(pid, 'RssAnon'))} MiB ` +
        `(${MiB(statusKiB(pid, 'RssAnon') - start.anon)} MiB above the warm-up reading)`,
    );
    if (values['malloc-stats']) mallocStats(pid);
  }
  // SIGKILL keeps what is live at this point in a heap profile (a graceful stop would free some of it).
  process.kill(pid, values.end === 'term' ? 'SIGTERM' : 'SIGKILL');
  await new Promise((r) => broker.child.on('exit', r));
}

await main();
