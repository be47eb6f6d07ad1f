// The storage engine alone: segment files of checksummed records, recovery, reads from any offset, retention.
import * as fs from 'node:fs';
import fsModule, { mkdtempSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogReader, type ReadResult } from '../../broker/storage/log-reader.js';
import { RECORD_HEADER_BYTES, type StoredRecord } from '../../broker/storage/record-format.js';
import { SLOW_SYNC_WRITE_MS, SYNC_WRITE_MAX_BYTES, SegmentLog } from '../../broker/storage/segment-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'felix-seglog-'));
  dirs.push(d);
  return d;
}

const OPTIONS = { segmentBytes: 4096, maxRecordBytes: 1 << 20 };

/** Counts what SegmentLog tells its onLoopWrite hook: writes made from the event loop, and the slow ones. */
function loopWriteCounter(): { loop: number; slow: number; onLoopWrite: (slow: boolean) => void } {
  const counter = {
    loop: 0,
    slow: 0,
    onLoopWrite: (slow: boolean) => {
      counter.loop++;
      if (slow) counter.slow++;
    },
  };
  return counter;
}

/** `n` records of `perRecord` events from `first`, each payload naming its offset. */
function records(first: number, n: number, perRecord = 1, size = 100): StoredRecord[] {
  const out: StoredRecord[] = [];
  for (let i = 0; i < n; i++) {
    const firstOffset = first + i * perRecord;
    const bytes = Buffer.alloc(size, firstOffset % 251);
    bytes.writeUInt32BE(firstOffset, 0);
    out.push({ firstOffset, count: perRecord, bytes });
  }
  return out;
}

function write(log: SegmentLog, recs: StoredRecord[]): Promise<void> {
  return new Promise((resolve, reject) => log.write(recs, (err) => (err ? reject(err) : resolve())));
}

function sync(log: SegmentLog): Promise<void> {
  return new Promise((resolve, reject) => log.sync((err) => (err ? reject(err) : resolve())));
}

/** Everything readable from `from`, through a reader reading `chunk` bytes at a time. */
async function readAll(
  log: SegmentLog,
  from: number,
  chunk = 1024,
): Promise<{ recs: StoredRecord[]; corrupt: number; unreadable: string[]; ended: boolean }> {
  const reader = new LogReader(log, OPTIONS.maxRecordBytes);
  const recs: StoredRecord[] = [];
  const unreadable: string[] = [];
  let corrupt = 0;
  let next = from;
  let ended = false;
  for (let i = 0; i < 10_000 && !ended; i++) {
    const r = await new Promise<ReadResult>((resolve, reject) =>
      reader.read(next, Number.MAX_SAFE_INTEGER, chunk, (err, res) => (err ? reject(err) : resolve(res))),
    );
    corrupt += r.corrupt;
    recs.push(...r.records);
    unreadable.push(...r.unreadable);
    next = r.next;
    ended = r.atEnd;
  }
  reader.close();
  // `ended` false: the reader stopped making progress (a read that never reaches the end is a stuck replay).
  return { recs, corrupt, unreadable, ended };
}

describe('SegmentLog', () => {
  it('appends across segments and reads back from earliest and from any offset, every record checked', async () => {
    const dir = tempDir();
    const log = SegmentLog.open(dir, OPTIONS);
    for (let b = 0; b < 20; b++) await write(log, records(b * 10 * 3, 10, 3));
    expect(log.nextOffset).toBe(600);
    expect(log.segmentCount).toBeGreaterThan(5);
    const all = await readAll(log, 0);
    expect(all.recs.map((r) => r.firstOffset)).toEqual(Array.from({ length: 200 }, (_, i) => i * 3));
    expect(all.recs.every((r) => r.bytes.readUInt32BE(0) === r.firstOffset)).toBe(true);
    // From an offset inside a record: that record first (it holds the offset), then the rest.
    const mid = await readAll(log, 301);
    expect(mid.recs[0]!.firstOffset).toBe(300);
    expect(mid.recs.length).toBe(100);
    log.closeSync();
  });

  it('continues offsets across a reopen, and reads recovered segments it never indexed', async () => {
    const dir = tempDir();
    let log = SegmentLog.open(dir, OPTIONS);
    await write(log, records(0, 100));
    await sync(log);
    log.closeSync();
    log = SegmentLog.open(dir, OPTIONS);
    expect(log.nextOffset).toBe(100);
    expect(log.recovery.truncatedBytes).toBe(0);
    await write(log, records(100, 10));
    const tail = await readAll(log, 57);
    expect(tail.recs.map((r) => r.firstOffset)).toEqual(Array.from({ length: 53 }, (_, i) => 57 + i));
    log.closeSync();
  });

  it('truncates a torn tail at recovery and serves everything before it', async () => {
    const dir = tempDir();
    let log = SegmentLog.open(dir, { ...OPTIONS, segmentBytes: 1 << 20 });
    await write(log, records(0, 50));
    log.closeSync();
    const file = join(
      dir,
      fs.readdirSync(dir).find((n) => n.endsWith('.log'))!,
    );
    const size = fs.statSync(file).size;
    // Cut the last record in the middle of its payload, as a crash mid-write would.
    fs.truncateSync(file, size - 40);
    log = SegmentLog.open(dir, { ...OPTIONS, segmentBytes: 1 << 20 });
    expect(log.recovery.truncatedBytes).toBe(120 - 40);
    expect(log.recovery.truncatedBecause).toBe('short');
    expect(log.nextOffset).toBe(49);
    expect(fs.statSync(file).size).toBe(49 * (RECORD_HEADER_BYTES + 100));
    await write(log, records(49, 1));
    expect((await readAll(log, 0)).recs.length).toBe(50);
    log.closeSync();
  });

  /** A log of 100 records over several segments, closed: its directory and the offset after its last. */
  async function closedLog(): Promise<string> {
    const dir = tempDir();
    const log = SegmentLog.open(dir, OPTIONS);
    for (let i = 0; i < 100; i += 10) await write(log, records(i, 10));
    expect(log.segmentCount).toBeGreaterThan(1);
    log.closeSync();
    return dir;
  }

  it('sets aside a last "segment" holding no record that does not start where the log ended', async () => {
    const dir = await closedLog();
    const junk = join(dir, '00000000000000099999.log');
    fs.writeFileSync(junk, 'junk!');
    const log = SegmentLog.open(dir, OPTIONS);
    expect(log.nextOffset).toBe(100);
    expect(log.recovery.setAside).toBe(`${junk}.damaged`);
    expect(log.recovery.truncatedBytes).toBe(0);
    expect(fs.existsSync(junk)).toBe(false);
    expect(fs.readFileSync(`${junk}.damaged`, 'utf8')).toBe('junk!');
    await write(log, records(100, 1));
    expect((await readAll(log, 0)).recs.length).toBe(101);
    log.closeSync();
  });

  it('keeps a last segment that starts where the log ended, empty or with a torn first record (a crash after a roll)', async () => {
    for (const content of ['', 'torn']) {
      const dir = await closedLog();
      const next = join(dir, '00000000000000000100.log');
      fs.writeFileSync(next, content);
      const log = SegmentLog.open(dir, OPTIONS);
      expect(log.recovery.setAside).toBeNull();
      expect(log.nextOffset).toBe(100);
      expect(log.recovery.truncatedBytes).toBe(content.length);
      expect(fs.statSync(next).size).toBe(0);
      await write(log, records(100, 1));
      expect((await readAll(log, 0)).recs.length).toBe(101);
      log.closeSync();
    }
  });

  /** A log of ten 100-byte records in one segment, `damage` applied to its file, reopened. */
  async function damagedLastSegment(
    damage: (fd: number) => void,
  ): Promise<{ log: SegmentLog; file: string; sizeBefore: number }> {
    const dir = tempDir();
    const first = SegmentLog.open(dir, { ...OPTIONS, segmentBytes: 1 << 20 });
    await write(first, records(0, 10));
    first.closeSync();
    const file = join(
      dir,
      fs.readdirSync(dir).find((n) => n.endsWith('.log'))!,
    );
    const sizeBefore = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    damage(fd);
    fs.closeSync(fd);
    return { log: SegmentLog.open(dir, { ...OPTIONS, segmentBytes: 1 << 20 }), file, sizeBefore };
  }

  it('keeps the whole records after a damaged one in the last segment: a hole, not a torn tail', async () => {
    // One byte of record 7's payload flipped (rot): records 8 and 9 are intact and were written, maybe acked.
    const { log, file, sizeBefore } = await damagedLastSegment((fd) =>
      fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 7 * 120 + RECORD_HEADER_BYTES + 50),
    );
    expect(log.recovery).toMatchObject({
      truncatedBytes: 0,
      truncatedBecause: null,
      holes: 1,
      holeBytes: 120,
    });
    expect(fs.statSync(file).size).toBe(sizeBefore);
    // Offsets go on after the last record: 7 is never given out again.
    expect(log.nextOffset).toBe(10);
    await write(log, records(10, 2));
    const all = await readAll(log, 0);
    expect(all.corrupt).toBe(1);
    expect(all.recs.map((r) => r.firstOffset)).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]);
    expect(all.recs.every((r) => r.bytes.readUInt32BE(0) === r.firstOffset)).toBe(true);
    // A reader from inside the hole starts at the next whole record.
    expect((await readAll(log, 7)).recs.map((r) => r.firstOffset)).toEqual([8, 9, 10, 11]);
    log.closeSync();
  });

  it('finds the records after a damaged length field by scanning for the next valid one', async () => {
    const { log } = await damagedLastSegment((fd) =>
      fs.writeSync(fd, Buffer.from([0x7f, 0xff]), 0, 2, 4 * 120),
    );
    expect(log.recovery).toMatchObject({ truncatedBytes: 0, holes: 1, holeBytes: 120 });
    expect(log.nextOffset).toBe(10);
    expect((await readAll(log, 0)).recs.map((r) => r.firstOffset)).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    log.closeSync();
  });

  it('cuts the tail at a damaged last record (CRC mismatch): nothing whole follows it', async () => {
    const { log, file } = await damagedLastSegment((fd) =>
      fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 9 * 120 + RECORD_HEADER_BYTES + 50),
    );
    expect(log.recovery).toMatchObject({ truncatedBytes: 120, truncatedBecause: 'corrupt', holes: 0 });
    expect(log.nextOffset).toBe(9);
    expect(fs.statSync(file).size).toBe(9 * 120);
    log.closeSync();
  });

  it('never serves a damaged record in a sealed segment: the reader skips it alone and counts it', async () => {
    const dir = tempDir();
    const log = SegmentLog.open(dir, OPTIONS);
    for (let b = 0; b < 10; b++) await write(log, records(b * 10, 10));
    log.closeSync();
    const first = join(dir, fs.readdirSync(dir).sort()[0]!);
    const fd = fs.openSync(first, 'r+');
    fs.writeSync(fd, Buffer.from([0xaa, 0xbb]), 0, 2, 2 * 120 + RECORD_HEADER_BYTES + 10);
    fs.closeSync(fd);
    const reopened = SegmentLog.open(dir, OPTIONS);
    const { recs, corrupt } = await readAll(reopened, 0);
    expect(corrupt).toBe(1);
    // Only the damaged record is skipped (the gap shows in the offsets); the whole ones after it are served.
    expect(recs.map((r) => r.firstOffset)).toEqual(
      Array.from({ length: 100 }, (_, i) => i).filter((o) => o !== 2),
    );
    expect(recs.every((r) => r.bytes.readUInt32BE(0) === r.firstOffset)).toBe(true);
    reopened.closeSync();
  });

  it('crosses a sealed segment left empty, deleted or cut short: a gap, never a stall', async () => {
    const faults: [string, (path: string) => void][] = [
      ['emptied', (path) => fs.truncateSync(path, 0)],
      ['deleted', (path) => fs.rmSync(path)],
      ['cut short', (path) => fs.truncateSync(path, 130)],
    ];
    for (const [what, fault] of faults) {
      for (const whileOpen of [false, true]) {
        const dir = tempDir();
        let log = SegmentLog.open(dir, OPTIONS);
        for (let b = 0; b < 10; b++) await write(log, records(b * 10, 10));
        const segments = log.segmentList.map((s) => ({
          base: s.baseOffset,
          next: s.nextOffset,
          path: s.path,
        }));
        const victim = segments[1]!;
        if (!whileOpen) log.closeSync();
        fault(victim.path);
        if (!whileOpen) log = SegmentLog.open(dir, OPTIONS);
        const { recs, unreadable, ended } = await readAll(log, 0);
        const label = `${what} ${whileOpen ? 'under the running log' : 'before a restart'}`;
        expect(ended, label).toBe(true);
        // Everything outside the victim is served, in order; within it at most what is still whole.
        const offsets = recs.map((r) => r.firstOffset);
        const outside = Array.from({ length: 100 }, (_, i) => i).filter(
          (o) => o < victim.base || o >= victim.next,
        );
        expect(
          offsets.filter((o) => o < victim.base || o >= victim.next),
          label,
        ).toEqual(outside);
        expect(
          [...offsets].sort((a, b) => a - b),
          label,
        ).toEqual(offsets);
        if (whileOpen && what !== 'cut short') expect(unreadable.length, label).toBeGreaterThan(0);
        log.closeSync();
      }
    }
  });

  it('ends a read at a segment that cannot be read (not a file), after handing out what came before it', async () => {
    const dir = tempDir();
    const log = SegmentLog.open(dir, OPTIONS);
    for (let b = 0; b < 10; b++) await write(log, records(b * 10, 10));
    const victim = log.segmentList[2]!;
    fs.rmSync(victim.path);
    fs.mkdirSync(victim.path);
    const reader = new LogReader(log, OPTIONS.maxRecordBytes);
    const offsets: number[] = [];
    let next = 0;
    let failure: NodeJS.ErrnoException | null = null;
    // A large chunk: the first read crosses the segments before the victim and meets it in the same call.
    for (let i = 0; i < 100 && failure === null; i++) {
      const r = await new Promise<{ err: Error | null; res: ReadResult }>((resolve) =>
        reader.read(next, Number.MAX_SAFE_INTEGER, 1 << 20, (err, res) => resolve({ err, res })),
      );
      failure = r.err;
      // As the broker's replay does: a read that reports an error hands out nothing.
      if (r.err === null) offsets.push(...r.res.records.map((rec) => rec.firstOffset));
      next = r.res.next;
    }
    reader.close();
    expect(failure?.code).toBe('EISDIR');
    expect(offsets).toEqual(Array.from({ length: victim.baseOffset }, (_, i) => i));
    log.closeSync();
  });

  it('closes a reader whose read is in flight without failing that read: its file closes when the read returns', async () => {
    // A replay's subscriber leaving mid-read (unsubscribe, a reset, its connection gone) closes the reader
    // while the thread pool reads. Closing the descriptor under that read failed it with EBADF, logged as
    // "reading the stream log failed" (an outside review's replay churn: 5 in 300 subscribe/leave cycles).
    const dir = tempDir();
    const log = SegmentLog.open(dir, OPTIONS);
    for (let b = 0; b < 10; b++) await write(log, records(b * 10, 10));
    const failures: string[] = [];
    const openFiles = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = openFiles();
    for (let i = 0; i < 300; i++) {
      const reader = new LogReader(log, OPTIONS.maxRecordBytes);
      const result = new Promise<void>((resolve) =>
        reader.read(0, Number.MAX_SAFE_INTEGER, 1 << 20, (err) => {
          if (err !== null) failures.push((err as NodeJS.ErrnoException).code ?? err.message);
          resolve();
        }),
      );
      reader.close();
      await result;
    }
    expect(failures).toEqual([]);
    // Every reader's file was closed once its read returned: none left open (a few spare for the runner).
    expect(openFiles() - before).toBeLessThan(5);
    log.closeSync();
  });

  it('drops the oldest sealed segments (retention) and a reader from an older offset starts at the oldest', async () => {
    const dir = tempDir();
    const log = SegmentLog.open(dir, OPTIONS);
    for (let b = 0; b < 10; b++) await write(log, records(b * 10, 10));
    const before = log.segmentCount;
    const oldest = log.oldestOffset;
    await new Promise<void>((r) => log.dropOldestSegment(() => r()));
    expect(log.segmentCount).toBe(before - 1);
    expect(log.oldestOffset).toBeGreaterThan(oldest);
    const { recs } = await readAll(log, 0);
    expect(recs[0]!.firstOffset).toBe(log.oldestOffset);
    log.closeSync();
  });

  it('cuts a failed write back to the last whole record (injected ENOSPC-like failure: a closed descriptor)', async () => {
    const dir = tempDir();
    const log = SegmentLog.open(dir, { ...OPTIONS, segmentBytes: 1 << 20 });
    await write(log, records(0, 5));
    // A write larger than what is left on a 1-record-sized file limit: use RLIMIT-free injection by
    // writing to a descriptor that was closed underneath (EBADF), which must leave the log unchanged.
    const internals = log as unknown as { fd: number };
    const fd = internals.fd;
    internals.fd = 1_000_000;
    await expect(write(log, records(5, 3))).rejects.toMatchObject({ code: 'EBADF' });
    internals.fd = fd;
    expect(log.nextOffset).toBe(5);
    await write(log, records(5, 3));
    expect((await readAll(log, 0)).recs.length).toBe(8);
    log.closeSync();
  });
});

/** fs.writeSync in the form the log calls it. */
type BufferWriteSync = (
  fd: number,
  buffer: NodeJS.ArrayBufferView,
  offset: number,
  length: number,
  position: number,
) => number;

/** Replaces fs.writeSync (as the log module sees it) for the test's duration. */
function withWriteSync(
  replacement: (real: BufferWriteSync) => BufferWriteSync,
  body: () => Promise<void>,
): Promise<void> {
  const real = fsModule.writeSync;
  fsModule.writeSync = replacement(real as BufferWriteSync) as typeof fs.writeSync;
  syncBuiltinESMExports();
  return body().finally(() => {
    fsModule.writeSync = real;
    syncBuiltinESMExports();
  });
}

describe('SegmentLog writes from the event loop', () => {
  it('makes a small write before write() returns and a large one through the thread pool; both read back', async () => {
    const writes = loopWriteCounter();
    const log = SegmentLog.open(tempDir(), {
      ...OPTIONS,
      segmentBytes: 1 << 20,
      onLoopWrite: writes.onLoopWrite,
    });
    let small = false;
    log.write(records(0, 3), (err) => {
      expect(err).toBeNull();
      small = true;
    });
    expect(small).toBe(true);
    expect(log.nextOffset).toBe(3);
    let large = false;
    const big = records(3, 2, 1, SYNC_WRITE_MAX_BYTES);
    const done = new Promise<void>((resolve) =>
      log.write(big, (err) => {
        expect(err).toBeNull();
        large = true;
        resolve();
      }),
    );
    expect(large).toBe(false);
    await done;
    const all = await readAll(log, 0, 64 * 1024);
    expect(all.recs.map((r) => r.firstOffset)).toEqual([0, 1, 2, 3, 4]);
    expect(all.recs.map((r) => r.bytes.length)).toEqual([
      100,
      100,
      100,
      SYNC_WRITE_MAX_BYTES,
      SYNC_WRITE_MAX_BYTES,
    ]);
    expect(writes.loop).toBe(1);
    log.closeSync();
  });

  it('makes every write through the thread pool when told not to write from the loop', async () => {
    const writes = loopWriteCounter();
    const log = SegmentLog.open(tempDir(), {
      ...OPTIONS,
      segmentBytes: 1 << 20,
      writeFromLoop: false,
      onLoopWrite: writes.onLoopWrite,
    });
    let done = false;
    const written = new Promise<void>((resolve) =>
      log.write(records(0, 1), () => {
        done = true;
        resolve();
      }),
    );
    expect(done).toBe(false);
    await written;
    expect(writes.loop).toBe(0);
    log.closeSync();
  });

  it('sends the writes after a slow one to the thread pool (a stalled disk must not stall the loop)', async () => {
    const writes = loopWriteCounter();
    const log = SegmentLog.open(tempDir(), {
      ...OPTIONS,
      segmentBytes: 1 << 20,
      onLoopWrite: writes.onLoopWrite,
    });
    await withWriteSync(
      (real) => (fd, buffer, offset, length, position) => {
        // A device that takes three times the threshold for this write.
        const until = performance.now() + 3 * SLOW_SYNC_WRITE_MS;
        while (performance.now() < until);
        return real(fd, buffer, offset, length, position);
      },
      async () => {
        let first = false;
        log.write(records(0, 1), () => (first = true));
        expect(first).toBe(true);
        expect(writes.slow).toBe(1);
      },
    );
    let second = false;
    const done = new Promise<void>((resolve) =>
      log.write(records(1, 1), (err) => {
        expect(err).toBeNull();
        second = true;
        resolve();
      }),
    );
    expect(second).toBe(false);
    await done;
    expect(writes.loop).toBe(1);
    expect((await readAll(log, 0)).recs.map((r) => r.firstOffset)).toEqual([0, 1]);
    log.closeSync();
  });

  it('cuts a partial write from the loop back to the last whole record (injected ENOSPC after half)', async () => {
    const dir = tempDir();
    const log = SegmentLog.open(dir, { ...OPTIONS, segmentBytes: 1 << 20 });
    await write(log, records(0, 4));
    const sizeBefore = fs.statSync(join(dir, fs.readdirSync(dir)[0]!)).size;
    let calls = 0;
    await withWriteSync(
      (real) => (fd, buffer, offset, length, position) => {
        // The first call writes half of what it was given, the next finds the disk full.
        if (calls++ === 0) return real(fd, buffer, offset, Math.floor(length / 2), position);
        throw Object.assign(new Error('ENOSPC: no space left on device (injected)'), { code: 'ENOSPC' });
      },
      async () => {
        let failure: NodeJS.ErrnoException | null = null;
        log.write(records(4, 3), (err) => (failure = err));
        expect(failure).toMatchObject({ code: 'ENOSPC' });
      },
    );
    expect(calls).toBe(2);
    expect(log.nextOffset).toBe(4);
    expect(fs.statSync(join(dir, fs.readdirSync(dir)[0]!)).size).toBe(sizeBefore);
    await write(log, records(4, 3));
    expect((await readAll(log, 0)).recs.map((r) => r.firstOffset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    log.closeSync();
  });
});
