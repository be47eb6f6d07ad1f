// Storage engine comparison for durable streams (issue 13): segment files (broker/storage's SegmentLog) vs
// lmdb-js. Run with Node 24, lmdb installed somewhere outside the project (it is not a dependency):
//   npm install --prefix /tmp/lmdb-bench lmdb
//   npx tsc -p tsconfig.build.json
//   flock /tmp/felix-bench.lock /opt/node24/package/bin/node dist/bench/storage/engines.js \
//     --lmdb /tmp/lmdb-bench/node_modules/lmdb/node-index.js --dir /tmp/felix-engines [--quick]
// --cold empties the page cache before each reopen (root only). --log-mib sizes the recovery log.
// Prints a markdown table per measurement (medians of --trials runs) to stdout.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { LogReader } from '../../broker/storage/log-reader.js';
import type { StoredRecord } from '../../broker/storage/record-format.js';
import { SegmentLog } from '../../broker/storage/segment-log.js';

type Fsync = 'none' | 'periodic' | 'on_commit';
const FSYNCS: readonly Fsync[] = ['none', 'periodic', 'on_commit'];
const PERIODIC_MS = 100;
const IN_FLIGHT = 16;
const SEGMENT_BYTES = 64 * 1024 * 1024;
const MAX_RECORD = 64 * 1024 * 1024;

interface Engine {
  /** Appends `records` consecutive records; `done` once durable as `fsync` asks. */
  append(records: StoredRecord[], done: (err: Error | null) => void): void;
  /** Reads `bytes` worth of records starting at `from`; resolves with the bytes read. */
  readFrom(from: number, bytes: number): Promise<number>;
  /** The offset the next append gets (what a restart must find out). */
  nextOffset(): number;
  close(): Promise<void>;
}

interface LmdbDb {
  put(key: number, value: Buffer): Promise<boolean>;
  getRange(o: { start: number }): Iterable<{ key: number; value: Buffer }>;
  getKeys(o: { reverse: boolean; limit: number }): Iterable<number>;
  get flushed(): Promise<void>;
  close(): Promise<void>;
}
type LmdbOpen = (o: Record<string, unknown>) => LmdbDb;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

/** The segment log under a minimal group-commit loop: one write (and fsync) in flight, the rest queued. */
function segmentEngine(dir: string, fsync: Fsync): Engine {
  const log = SegmentLog.open(dir, { segmentBytes: SEGMENT_BYTES, maxRecordBytes: MAX_RECORD });
  let queued: StoredRecord[] = [];
  let waiting: (() => void)[] = [];
  let busy = false;
  let dirty = false;
  const timer =
    fsync === 'periodic'
      ? setInterval(() => {
          if (!busy && dirty) {
            busy = true;
            dirty = false;
            log.sync(() => {
              busy = false;
              kick();
            });
          }
        }, PERIODIC_MS)
      : null;
  const kick = (): void => {
    if (busy || queued.length === 0) return;
    const batch = queued;
    const callbacks = waiting;
    queued = [];
    waiting = [];
    busy = true;
    log.write(batch, (err) => {
      if (err !== null) throw err;
      const commit = (): void => {
        busy = false;
        for (const c of callbacks) c();
        kick();
      };
      if (fsync === 'on_commit') log.sync(commit);
      else {
        dirty = true;
        commit();
      }
    });
  };
  return {
    append(records, done) {
      for (const r of records) queued.push(r);
      waiting.push(() => done(null));
      if (!busy) setImmediate(kick);
    },
    readFrom(from, bytes) {
      const reader = new LogReader(log, MAX_RECORD);
      let read = 0;
      let next = from;
      return new Promise((resolve, reject) => {
        const step = (): void =>
          reader.read(next, Number.MAX_SAFE_INTEGER, 256 * 1024, (err, r) => {
            if (err !== null) return reject(err);
            for (const rec of r.records) read += rec.bytes.length;
            next = r.next;
            if (read >= bytes || r.atEnd) {
              reader.close();
              resolve(read);
            } else step();
          });
        step();
      });
    },
    nextOffset: () => log.nextOffset,
    async close() {
      if (timer !== null) clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 1));
      log.syncAndCloseSync();
    },
  };
}

function lmdbEngine(open: LmdbOpen, dir: string, fsync: Fsync): Engine {
  // none: no flush at all; periodic: commits resolve when visible and LMDB flushes after them
  // (overlappingSync), acks not waiting; on_commit: each batch transaction resolves once flushed.
  const db = open({
    path: dir,
    keyEncoding: 'uint32',
    encoding: 'binary',
    noSync: fsync === 'none',
    separateFlushed: fsync === 'periodic',
    mapSize: 4 * 1024 * 1024 * 1024,
  });
  return {
    append(records, done) {
      let left = records.length;
      for (const r of records) {
        db.put(r.firstOffset, r.bytes).then(
          () => {
            if (--left === 0) done(null);
          },
          (e: Error) => done(e),
        );
      }
    },
    readFrom(from, bytes) {
      let read = 0;
      for (const { value } of db.getRange({ start: from })) {
        read += value.length;
        if (read >= bytes) break;
      }
      return Promise.resolve(read);
    },
    nextOffset() {
      for (const k of db.getKeys({ reverse: true, limit: 1 })) return k + 1;
      return 0;
    },
    async close() {
      await db.close();
    },
  };
}

async function appendRun(engine: Engine, size: number, batch: number, records: number): Promise<number> {
  const payload = Buffer.alloc(size, 7);
  let issued = 0;
  let completed = 0;
  let inFlight = 0;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const issue = (): void => {
      while (inFlight < IN_FLIGHT && issued < records) {
        const n = Math.min(batch, records - issued);
        const recs: StoredRecord[] = [];
        for (let i = 0; i < n; i++) recs.push({ firstOffset: issued + i, count: 1, bytes: payload });
        issued += n;
        inFlight++;
        engine.append(recs, (err) => {
          if (err !== null) return reject(err);
          inFlight--;
          completed += n;
          if (completed === records) resolve();
          else issue();
        });
      }
    };
    issue();
  });
  return records / ((performance.now() - started) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function makeEngine(kind: string, dir: string, fsync: Fsync, lmdb: LmdbOpen): Promise<Engine> {
  await fs.promises.rm(dir, { recursive: true, force: true });
  return kind === 'segments' ? segmentEngine(dir, fsync) : lmdbEngine(lmdb, dir, fsync);
}

async function fill(engine: Engine, bytes: number, size: number): Promise<number> {
  const records = Math.ceil(bytes / size);
  await appendRun(engine, size, 64, records);
  return records;
}

/** Child mode: appends with on_commit and prints each acked offset; the parent kills it with SIGKILL. */
async function crashChild(kind: string, dir: string, lmdb: LmdbOpen): Promise<void> {
  const engine = kind === 'segments' ? segmentEngine(dir, 'on_commit') : lmdbEngine(lmdb, dir, 'on_commit');
  let next = Number(arg('from') ?? 0);
  const size = 1000;
  for (;;) {
    const recs: StoredRecord[] = [];
    for (let i = 0; i < 8; i++) {
      const b = Buffer.alloc(size, (next + i) % 251);
      recs.push({ firstOffset: next + i, count: 1, bytes: b });
    }
    const last = next + 7;
    next += 8;
    await new Promise<void>((r, j) => engine.append(recs, (e) => (e ? j(e) : r())));
    process.stdout.write(`${last}\n`);
  }
}

async function crashCheck(
  kind: string,
  dir: string,
  lmdb: LmdbOpen,
  lmdbPath: string | undefined,
  iterations: number,
): Promise<string> {
  await fs.promises.rm(dir, { recursive: true, force: true });
  let acked = -1;
  let bad = 0;
  for (let i = 0; i < iterations; i++) {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(import.meta.url),
        '--crash-child',
        kind,
        '--dir',
        dir,
        '--from',
        String(acked + 1),
        ...(lmdbPath ? ['--lmdb', lmdbPath] : []),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const lines = out.trim().split('\n').filter(Boolean);
    const lastAcked = lines.length ? Number(lines[lines.length - 1]) : acked;
    // Verify: every record up to lastAcked present, in order, content intact; continue after the last present.
    let present = -1;
    if (kind === 'segments') {
      const log = SegmentLog.open(dir, { segmentBytes: SEGMENT_BYTES, maxRecordBytes: MAX_RECORD });
      const reader = new LogReader(log, MAX_RECORD);
      let next = 0;
      for (let guard = 0; guard < 1_000_000; guard++) {
        const r = await new Promise<{ records: StoredRecord[]; atEnd: boolean; next: number }>((res, rej) =>
          reader.read(next, Number.MAX_SAFE_INTEGER, 1 << 20, (e, x) => (e ? rej(e) : res(x))),
        );
        for (const rec of r.records) {
          if (rec.firstOffset !== present + 1 || rec.bytes[0] !== rec.firstOffset % 251) bad++;
          present = rec.firstOffset;
        }
        next = r.next;
        if (r.atEnd) break;
      }
      reader.close();
      log.closeSync();
    } else {
      const db = lmdb({ path: dir, keyEncoding: 'uint32', encoding: 'binary' });
      for (const { key, value } of db.getRange({ start: 0 })) {
        if (key !== present + 1 || value[0] !== key % 251) bad++;
        present = key;
      }
      await db.close();
    }
    if (present < lastAcked) bad++;
    acked = present;
  }
  return `${iterations} kills, ${acked + 1} records, ${bad === 0 ? 'every acked record present, intact, in order' : `${bad} PROBLEMS`}`;
}

async function main(): Promise<void> {
  const lmdbPath = arg('lmdb');
  const lmdb: LmdbOpen = lmdbPath
    ? ((await import(lmdbPath)) as { open: LmdbOpen }).open
    : ((() => {
        throw new Error('--lmdb missing');
      }) as LmdbOpen);
  const dir = arg('dir') ?? '/tmp/felix-engines';
  const crashKind = arg('crash-child');
  if (crashKind !== undefined) return crashChild(crashKind, dir, lmdb);
  const quick = process.argv.includes('--quick');
  const trials = Number(arg('trials') ?? (quick ? 1 : 3));
  const kinds = (arg('engines') ?? 'segments,lmdb').split(',');
  const out: string[] = [];
  out.push(
    `Node ${process.version}, ${trials} trial(s), medians; ${IN_FLIGHT} appends in flight; periodic = ${PERIODIC_MS} ms\n`,
  );
  out.push('| engine | record | batch | fsync | records/s | MB/s |');
  out.push('|---|---:|---:|---|---:|---:|');
  for (const size of [256, 4096]) {
    for (const batch of [1, 64]) {
      for (const fsync of FSYNCS) {
        for (const kind of kinds) {
          const rates: number[] = [];
          for (let t = 0; t < trials; t++) {
            const engine = await makeEngine(kind, join(dir, kind), fsync, lmdb);
            const records =
              fsync === 'on_commit' && batch === 1
                ? quick
                  ? 2_000
                  : 8_000
                : Math.min(quick ? 50_000 : 200_000, Math.floor(((quick ? 32 : 128) * 1024 * 1024) / size));
            rates.push(await appendRun(engine, size, batch, records));
            await engine.close();
          }
          const r = median(rates);
          out.push(
            `| ${kind} | ${size} B | ${batch} | ${fsync} | ${Math.round(r).toLocaleString('en')} | ${((r * size) / 1e6).toFixed(1)} |`,
          );
          process.stderr.write(`${out[out.length - 1]}\n`);
        }
      }
    }
  }
  // Read-back and recovery over a large log.
  const logBytes = Number(arg('log-mib') ?? (quick ? 256 : 1024)) * 1024 * 1024;
  out.push('');
  const cache = process.argv.includes('--cold') ? 'cold page cache' : 'warm page cache';
  out.push(
    `| engine | log | write (none) MB/s | reopen (recovery) ms, ${cache} | read 64 MiB from the middle, MB/s |`,
  );
  out.push('|---|---:|---:|---:|---:|');
  for (const kind of kinds) {
    const d = join(dir, kind);
    let engine = await makeEngine(kind, d, 'none', lmdb);
    const t0 = performance.now();
    const records = await fill(engine, logBytes, 4096);
    const writeMBs = logBytes / 1e6 / ((performance.now() - t0) / 1000);
    await engine.close();
    const reopen: number[] = [];
    const reads: number[] = [];
    for (let t = 0; t < trials; t++) {
      // --cold: the page cache emptied first (root only), as after a machine restart.
      if (process.argv.includes('--cold')) fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
      const t1 = performance.now();
      engine = kind === 'segments' ? segmentEngine(d, 'none') : lmdbEngine(lmdb, d, 'none');
      if (engine.nextOffset() !== records)
        throw new Error(`${kind}: reopened at ${engine.nextOffset()}, wrote ${records}`);
      reopen.push(performance.now() - t1);
      const t2 = performance.now();
      const got = await engine.readFrom(Math.floor(records / 2), 64 * 1024 * 1024);
      reads.push(got / 1e6 / ((performance.now() - t2) / 1000));
      await engine.close();
    }
    out.push(
      `| ${kind} | ${(logBytes / 1024 / 1024).toFixed(0)} MiB (4 KiB records) | ${writeMBs.toFixed(0)} | ${median(reopen).toFixed(1)} | ${median(reads).toFixed(0)} |`,
    );
    process.stderr.write(`${out[out.length - 1]}\n`);
    await fs.promises.rm(d, { recursive: true, force: true });
  }
  out.push('');
  out.push('| engine | crash safety (kill -9 during on_commit writes, reopen, verify) |');
  out.push('|---|---|');
  for (const kind of kinds) {
    const res = await crashCheck(kind, join(dir, `${kind}-crash`), lmdb, lmdbPath, quick ? 3 : 10);
    out.push(`| ${kind} | ${res} |`);
    process.stderr.write(`${out[out.length - 1]}\n`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
