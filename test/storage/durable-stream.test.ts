// A durable stream's storage alone (no broker): group commit, acks and delivery on commit under each fsync
// policy, refusal on a failed write and recovery on retry, retention by bytes and age.
import * as fs from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFrame } from '../../broker/core/event-frame.js';
import type { CommitWaiter, StorageErrorCode } from '../../broker/core/stream-storage.js';
import { DurableStream, type DurablePolicy, type FsyncPolicy } from '../../broker/storage/durable-stream.js';
import { OpenFileBudget } from '../../broker/storage/open-file-budget.js';
import { JOURNAL_FILE, ProducerJournal } from '../../broker/storage/producer-journal.js';
import { SegmentLog } from '../../broker/storage/segment-log.js';
import { StorageStats } from '../../broker/storage/storage-stats.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function open(
  fsync: FsyncPolicy,
  acksOnCommit: boolean,
  segmentBytes = 1 << 20,
  onLog?: (line: { msg: string }) => void,
): { stream: DurableStream; stats: StorageStats; dir: string; log: SegmentLog } {
  const dir = mkdtempSync(join(tmpdir(), 'felix-durable-stream-'));
  dirs.push(dir);
  const policy: DurablePolicy = {
    fsync,
    acksOnCommit,
    backlogBytes: 1 << 20,
    readChunkBytes: 64 * 1024,
    maxRecordBytes: 1 << 20,
  };
  const stats = new StorageStats();
  const log = SegmentLog.open(dir, { segmentBytes, maxRecordBytes: 1 << 20 });
  return {
    stream: new DurableStream(
      't/n/s',
      log,
      42,
      policy,
      { bytes: 0, ms: 0 },
      stats,
      onLog === undefined
        ? pino({ level: 'silent' })
        : pino({ level: 'info' }, { write: (text: string) => onLog(JSON.parse(text) as { msg: string }) }),
    ),
    stats,
    dir,
    log,
  };
}

let nextOffset = 0;
function frame(firstOffset: number, count = 1, bytes = 64): EventFrame {
  return { firstOffset, count, bytes: Buffer.alloc(bytes, firstOffset % 251), timing: null, messages: null };
}

class Waiter implements CommitWaiter {
  readonly ok: number[] = [];
  readonly failures: { id: number; code: StorageErrorCode }[] = [];
  committed(requestId: number): void {
    this.ok.push(requestId);
  }
  failed(requestId: number, _tag: number, code: StorageErrorCode): void {
    this.failures.push({ id: requestId, code });
  }
}

function settle(stream: DurableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    let ticks = 0;
    const check = (): void => {
      if (stream.idle) resolve();
      else if (++ticks > 2000) reject(new Error('the stream never became idle'));
      else setTimeout(check, 1);
    };
    check();
  });
}

describe('DurableStream', () => {
  it('on_commit: many acks share one write and one fsync (group commit), and none is released before it', async () => {
    const { stream, stats } = open('on_commit', true);
    const visible: number[] = [];
    stream.bind({ visible: (f) => visible.push(f.firstOffset), drained: () => undefined });
    const waiter = new Waiter();
    nextOffset = 0;
    for (let i = 0; i < 100; i++) {
      stream.append(frame(nextOffset));
      nextOffset++;
      stream.whenCommitted(nextOffset, waiter, i, 0);
    }
    expect(waiter.ok).toEqual([]);
    expect(visible).toEqual([]);
    await settle(stream);
    expect(waiter.ok).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(visible).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(stats.writes).toBe(1);
    expect(stats.fsyncs).toBe(1);
    expect(stream.readableEnd).toBe(100);
    stream.close();
  });

  it("writes a producer's claim to its journal before the log write that holds the publish, never after", async () => {
    for (const bytes of [64, 64 * 1024]) {
      const { stream, dir, log } = open('none', false);
      stream.journal = ProducerJournal.open(dir, 60_000, 0).journal;
      // What the journal file holds at the moment each log write is made: a kill -9 right after the write
      // reached the file leaves exactly that.
      const atWrite: number[] = [];
      const write = log.write.bind(log);
      log.write = (records, done) => {
        atWrite.push(fs.statSync(join(dir, JOURNAL_FILE), { throwIfNoEntry: false })?.size ?? 0);
        write(records, done);
      };
      stream.noteProducer('t', 77, 1, 1);
      stream.append(frame(0, 1, bytes));
      await settle(stream);
      expect(atWrite.length, `${bytes} B`).toBe(1);
      expect(atWrite[0], `${bytes} B`).toBeGreaterThan(0);
      stream.close();
      // And the claim is trusted at the next start: the log holds its event.
      const again = ProducerJournal.open(dir, 60_000, 1);
      expect(again.claims).toEqual([expect.objectContaining({ producerId: 77, first: 1, last: 1, end: 1 })]);
      again.journal.close();
    }
  });

  it('periodic: acks wait for the periodic fsync', async () => {
    const { stream, stats } = open('periodic', true);
    stream.bind({ visible: () => undefined, drained: () => undefined });
    const waiter = new Waiter();
    stream.append(frame(0, 4));
    stream.whenCommitted(4, waiter, 1, 0);
    await new Promise((r) => setTimeout(r, 20));
    expect(stream.log.nextOffset).toBe(4);
    expect(waiter.ok).toEqual([]);
    expect(stats.fsyncs).toBe(0);
    stream.requestSync();
    await settle(stream);
    expect(waiter.ok).toEqual([1]);
    expect(stats.fsyncs).toBe(1);
    stream.close();
  });

  it('without ack-on-commit, frames not yet written are served from memory to a catching-up reader', async () => {
    const { stream } = open('none', false);
    stream.bind({ visible: () => undefined, drained: () => undefined });
    stream.append(frame(0, 2));
    stream.append(frame(2, 2));
    expect(stream.readableEnd).toBe(0);
    expect(stream.framesInMemory(1).map((f) => f.firstOffset)).toEqual([0, 2]);
    await settle(stream);
    expect(stream.readableEnd).toBe(4);
    expect(stream.framesInMemory(4)).toEqual([]);
    stream.close();
  });

  it('a failed write refuses publishes (storage_full for ENOSPC), fails waiting acks, and recovers on retry', async () => {
    const { stream, stats } = open('on_commit', true);
    stream.bind({ visible: () => undefined, drained: () => undefined });
    const log = stream.log;
    const realWrite = log.write.bind(log);
    let failing = true;
    log.write = (records, done) => {
      if (!failing) return realWrite(records, done);
      queueMicrotask(() => done(Object.assign(new Error('no space'), { code: 'ENOSPC' })));
    };
    const waiter = new Waiter();
    stream.append(frame(0));
    stream.whenCommitted(1, waiter, 7, 0);
    await new Promise((r) => setTimeout(r, 10));
    expect(waiter.failures).toEqual([{ id: 7, code: 'storage_full' }]);
    expect(stream.refusal?.code).toBe('storage_full');
    expect(stats.writeErrors).toBe(1);
    // A publish arriving while refusing is answered at once.
    stream.whenCommitted(1, waiter, 8, 0);
    expect(waiter.failures.map((f) => f.id)).toEqual([7, 8]);
    failing = false;
    stream.retry();
    await settle(stream);
    expect(stream.refusal).toBeNull();
    expect(stream.log.nextOffset).toBe(1);
    stream.close();
  });

  it('a next segment that cannot be created is a failed write: refused, retried, and taken again once it can', async () => {
    const { stream, dir } = open('none', false, 4096);
    stream.append(frame(0, 1, 3000));
    await settle(stream);
    // The next segment's file cannot be made (a directory in its way, as a permission or a full disk
    // would refuse it); the write that needs it is large, so it goes through the thread pool.
    const blocker = join(dir, `${'1'.padStart(20, '0')}.log`);
    fs.mkdirSync(blocker);
    stream.append(frame(1, 1, 32 * 1024));
    await new Promise((r) => setTimeout(r, 20));
    expect(stream.refusal?.code).toBe('storage_error');
    fs.rmdirSync(blocker);
    stream.retry();
    await settle(stream);
    expect(stream.refusal).toBeNull();
    expect(stream.log.nextOffset).toBe(2);
    stream.close();
  });

  it('a failed write retried while another stream holds the only open-file place is written once granted', async () => {
    // One place: `other` holds it with unsynced writes, so the retry waits for its fsync to close its files.
    const budget = new OpenFileBudget(1);
    const { stream } = open('periodic', false);
    const other = open('periodic', false).stream;
    stream.files = budget;
    other.files = budget;
    const log = stream.log;
    const realWrite = log.write.bind(log);
    let failing = true;
    log.write = (records, done) => {
      if (!failing) return realWrite(records, done);
      queueMicrotask(() => done(Object.assign(new Error('too many open files'), { code: 'EMFILE' })));
    };
    stream.append(frame(0));
    await new Promise((r) => setTimeout(r, 10));
    expect(stream.refusal?.code).toBe('storage_error');
    failing = false;
    // `stream`'s files were never opened: it gives its place up at once, and `other` writes.
    other.append(frame(0));
    await settle(other);
    expect(budget.size).toBe(1);
    // The retry needs the place `other` holds: it waits for other's fsync, then writes — one retry is enough.
    stream.retry();
    expect(budget.waiters).toBe(1);
    await settle(stream);
    await new Promise((r) => setTimeout(r, 20));
    expect(stream.refusal).toBeNull();
    expect(stream.log.nextOffset).toBe(1);
    stream.close();
    other.close();
  });

  it('writes what waits at shutdown even while refusing (room may be back), and says so when it cannot', async () => {
    for (const roomBack of [true, false]) {
      const lines: { msg: string; events?: number; acked?: number }[] = [];
      const { stream, dir } = open('none', false, 4096, (line) => lines.push(line));
      stream.append(frame(0, 1, 3000));
      await settle(stream);
      const blocker = join(dir, `${'1'.padStart(20, '0')}.log`);
      fs.mkdirSync(blocker);
      stream.append(frame(1, 2, 32 * 1024));
      await new Promise((r) => setTimeout(r, 20));
      expect(stream.refusal).not.toBeNull();
      if (roomBack) fs.rmdirSync(blocker);
      stream.close();
      if (!roomBack) fs.rmdirSync(blocker);
      const reopened = SegmentLog.open(dir, { segmentBytes: 4096, maxRecordBytes: 1 << 20 });
      expect(reopened.nextOffset, `room back: ${roomBack}`).toBe(roomBack ? 3 : 1);
      reopened.closeSync();
      const lost = lines.find((l) => l.msg.startsWith('could not write the last events at shutdown'));
      if (roomBack) expect(lost).toBeUndefined();
      else expect(lost).toMatchObject({ events: 2, acked: 2 });
    }
  });

  it('retention removes sealed segments by bytes, and by age (sealing a quiet active segment first)', async () => {
    const { stream } = open('none', false, 4096);
    stream.bind({ visible: () => undefined, drained: () => undefined });
    // One write per turn: a segment is rolled between writes.
    for (let i = 0; i < 40; i++) {
      stream.append(frame(i, 1, 500));
      await settle(stream);
    }
    const segments = stream.log.segmentCount;
    expect(segments).toBeGreaterThan(4);
    stream.retention = { bytes: 8192, ms: 0 };
    for (let i = 0; i < 100 && stream.enforceRetention(Date.now()); i++)
      await new Promise((r) => setTimeout(r, 1));
    expect(stream.log.bytes).toBeLessThanOrEqual(8192);
    expect(stream.oldestOffset).toBeGreaterThan(0);
    stream.retention = { bytes: 0, ms: 1 };
    const later = Date.now() + 10_000;
    for (let i = 0; i < 100; i++) stream.enforceRetention(later);
    expect(stream.log.bytes).toBe(0);
    expect(stream.oldestOffset).toBe(40);
    stream.close();
  });
});
