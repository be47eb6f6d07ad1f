/**
 * One stream's log on disk: append-only segment files of checksummed records (record-format.ts), the shape
 * of Kafka's log and NATS's filestore. Writes are positional and one at a time (the caller keeps one in
 * flight), so a failed write can be cut back to the last whole record; reads are bounded by what completed
 * writes put in the file, so a reader never sees half a record that is still being written.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  parseRecord,
  recordBytes,
  writeRecord,
  RECORD_HEADER_BYTES,
  type StoredRecord,
} from './record-format.js';
import { makeDirectory, syncDirectory } from './atomic-file.js';
import { DamagedFileError } from './damaged-file.js';
import { findRecordAfterDamage } from './damage-search.js';
import { Segment, parseSegmentFileName } from './segment.js';

export interface SegmentLogOptions {
  /** A segment is sealed and a new one started once it holds this many bytes. */
  readonly segmentBytes: number;
  /** Largest record payload accepted when reading: a larger length field marks a damaged record. */
  readonly maxRecordBytes: number;
  /**
   * Small writes go to the file from the event loop (SYNC_WRITE_MAX_BYTES); false: every write through
   * the thread pool. Off under fsync on_commit, where an fdatasync follows every write anyway and loop
   * writes measured slower (durable ack-on-commit b1: 0.86× the rate, +8% p50; docs/benchmarks.md).
   */
  readonly writeFromLoop?: boolean;
  /** Told of each write made from the event loop; `slow`: it took over SLOW_SYNC_WRITE_MS. */
  readonly onLoopWrite?: (slow: boolean) => void;
  /**
   * Offsets below this may have been given out (the stream's offset reservation): a last segment starting
   * after the one before it ends, but not beyond this, is the log continued past a gap (skipTo), not junk.
   */
  readonly reservedTo?: number;
  /**
   * The files cannot be written (a read-only file system, or files the broker may not write): recovery
   * changes nothing on disk and the log is only read. An empty sealed segment, or a last one holding no
   * record, is left where it is and out of the log; a torn tail stays in its file and the log ends before it.
   */
  readonly readOnly?: boolean;
}

/** What recovery found at open. */
export interface RecoveryReport {
  readonly segments: number;
  readonly bytes: number;
  readonly nextOffset: number;
  /** Bytes cut from the end of the last segment: a record torn by a crash mid-write. */
  readonly truncatedBytes: number;
  /** Why the tail was cut ('short': the file ends inside a record; 'corrupt': a checksum mismatch). */
  readonly truncatedBecause: 'short' | 'corrupt' | null;
  readonly emptySegmentsRemoved: number;
  /** Damaged stretches of the last segment with whole records after them: kept, skipped by readers. */
  readonly holes: number;
  readonly holeBytes: number;
  /** The log is whole below this offset: where the first damage met began, or nextOffset when none was. */
  readonly intactTo: number;
  /**
   * A last segment that held no whole record and did not start where the one before it ended (junk named
   * like a segment): renamed to this path, out of the log, instead of moving the offsets to its name.
   */
  readonly setAside: string | null;
}

interface TailRecovery {
  readonly truncatedBytes: number;
  readonly because: 'short' | 'corrupt' | null;
  readonly holes: number;
  readonly holeBytes: number;
  /** The offset at which the first damage began (a hole or the torn tail); null when none. */
  readonly damagedFrom: number | null;
}

const RECOVERY_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Writes up to this size go to the file from the event loop, as Redis writes its AOF: a page-cache copy of a
 * few KiB costs less than the thread pool's hand-off, wake-up and completion turn (durable f1 b1 p99 −33%
 * at the same rate; with acks that wait for the write, against JetStream, 0.46× → 0.64× at b1 and 0.46× →
 * 1.03× at f10 b64 4 KiB: docs/benchmarks.md "Small writes from the event loop"). Larger ones — a batched
 * load's group commits — stay in the thread pool, where a long copy does not hold up every other stream.
 */
export const SYNC_WRITE_MAX_BYTES = 16 * 1024;
/**
 * A write from the event loop that took longer than this (dirty-page throttling, a journal commit forced by
 * another stream's fsync, a slow device) sends this log's writes back to the thread pool for
 * SLOW_WRITE_BACKOFF_MS: a stalled disk must not stall the broker's other streams and clients.
 */
export const SLOW_SYNC_WRITE_MS = 1;
export const SLOW_WRITE_BACKOFF_MS = 1000;
/**
 * One buffer for every log's writes from the event loop: each is copied into the page cache before its
 * call returns, so none outlives it (one per stream would cost 16 KiB × every durable stream).
 */
const loopWriteBuffer = Buffer.allocUnsafeSlow(SYNC_WRITE_MAX_BYTES);

export class SegmentLog {
  private readonly segments: Segment[];
  /**
   * The active (last) segment's file, open for positional writes; -1 while closed (the log is opened lazily,
   * and an idle stream's files are closed under FELIX_DURABLE_MAX_OPEN_STREAMS: the next write reopens it).
   */
  private fd = -1;
  /** Written since the last fsync began: closing the files then needs an fsync first (unless policy none). */
  private dirty = false;
  /** Sealed segments written since the last sync: synced (then closed) by the next sync(). */
  private unsyncedFds: number[] = [];
  private writing = false;
  private closed = false;
  /** Until when (performance.now()) writes go to the thread pool after a slow write from the event loop. */
  private threadPoolUntil = 0;
  /** Offset after the last record written. */
  nextOffset: number;
  /** Bytes of all segments. */
  bytes: number;
  readonly recovery: RecoveryReport;

  private constructor(
    readonly dir: string,
    private readonly options: SegmentLogOptions,
    segments: Segment[],
    recovery: RecoveryReport,
  ) {
    this.segments = segments;
    const active = segments[segments.length - 1]!;
    this.nextOffset = active.nextOffset;
    this.bytes = recovery.bytes;
    this.recovery = recovery;
  }

  /**
   * Opens the log in `dir` (creating it, with a first segment at `firstOffset`, when empty) and recovers it:
   * sealed segments are taken as they are (their end is the next one's base); the last one is read through,
   * every record's checksum verified, and whatever follows the last whole record is truncated.
   */
  static open(dir: string, options: SegmentLogOptions, firstOffset = 0): SegmentLog {
    const readOnly = options.readOnly === true;
    if (!readOnly) makeDirectory(dir);
    const bases = fs
      .readdirSync(dir)
      .map(parseSegmentFileName)
      .filter((b): b is number => b !== undefined)
      .sort((a, b) => a - b);
    let emptySegmentsRemoved = 0;
    const segments: Segment[] = [];
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const seg = new Segment(dir, base, 0, i + 1 < bases.length ? bases[i + 1]! : base, 0);
      const st = fs.statSync(seg.path);
      if (!st.isFile()) throw new DamagedFileError(seg.path, 'named like a segment but not a regular file');
      seg.size = st.size;
      seg.lastWriteMs = st.mtimeMs;
      // An empty sealed segment (a crash right after a roll, then a new roll) holds nothing: drop it.
      if (st.size === 0 && i + 1 < bases.length) {
        if (!readOnly) fs.unlinkSync(seg.path);
        emptySegmentsRemoved++;
        continue;
      }
      segments.push(seg);
    }
    if (segments.length === 0) {
      if (readOnly) throw new DamagedFileError(dir, 'no segment file, and none can be made (read-only)');
      const seg = new Segment(dir, firstOffset, 0, firstOffset, Date.now());
      fs.closeSync(fs.openSync(seg.path, 'wx'));
      syncDirectory(dir);
      segments.push(seg);
    }
    const { tail, setAside } = recoverLast(
      dir,
      segments,
      options.maxRecordBytes,
      options.reservedTo ?? 0,
      readOnly,
    );
    let bytes = 0;
    for (const s of segments) bytes += s.size;
    return new SegmentLog(dir, options, segments, {
      segments: segments.length,
      bytes,
      nextOffset: segments[segments.length - 1]!.nextOffset,
      truncatedBytes: tail.truncatedBytes,
      truncatedBecause: tail.because,
      emptySegmentsRemoved,
      holes: tail.holes,
      holeBytes: tail.holeBytes,
      intactTo: tail.damagedFrom ?? segments[segments.length - 1]!.nextOffset,
      setAside,
    });
  }

  /** Oldest offset on disk (equals nextOffset when the log holds nothing). */
  get oldestOffset(): number {
    const first = this.segments[0]!;
    return first.size === 0 ? this.nextOffset : first.baseOffset;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** @internal for readers: the segments, oldest first (the last is the active one). */
  get segmentList(): readonly Segment[] {
    return this.segments;
  }

  /**
   * Appends `records` (consecutive, the first at nextOffset) with one positional write. On failure the file
   * is cut back to where the write started, so it still ends with a whole record, and nothing is counted.
   * A small write is made at once, from the event loop, and `done` is called before this returns; a larger
   * one (or any while the disk was recently slow) goes through the thread pool.
   */
  write(records: readonly StoredRecord[], done: (err: NodeJS.ErrnoException | null) => void): void {
    if (records.length === 0) {
      queueMicrotask(() => done(null));
      return;
    }
    // Reopening may fail (EMFILE): an I/O error like a failed write, which the stream retries.
    try {
      this.openActive();
    } catch (err) {
      done(err as NodeJS.ErrnoException);
      return;
    }
    const bytes = this.recordsBytes(records);
    if (
      bytes <= SYNC_WRITE_MAX_BYTES &&
      this.options.writeFromLoop !== false &&
      performance.now() >= this.threadPoolUntil
    ) {
      this.writeFromLoop(records, bytes, done);
      return;
    }
    let prepared;
    try {
      prepared = this.prepare(records, bytes, null);
    } catch (err) {
      // Starting the next segment failed (no space, no permission): a failed write like any other.
      if (!isErrno(err)) throw err;
      done(err);
      return;
    }
    const { active, buf, start } = prepared;
    const fd = this.fd;
    const total = buf.length;
    this.writing = true;
    const finish = (err: NodeJS.ErrnoException | null): void => {
      this.writing = false;
      if (err !== null) {
        // Cut a partial write back to the last whole record (ENOSPC usually writes part, then fails).
        fs.ftruncate(fd, start, () => done(err));
        return;
      }
      this.completed(active, records, start, total);
      done(null);
    };
    const writeFrom = (offset: number): void => {
      fs.write(fd, buf, offset, total - offset, start + offset, (err, written) => {
        if (err !== null) finish(err);
        else if (offset + written < total) writeFrom(offset + written);
        else finish(null);
      });
    };
    writeFrom(0);
  }

  private writeFromLoop(
    records: readonly StoredRecord[],
    bytes: number,
    done: (err: NodeJS.ErrnoException | null) => void,
  ): void {
    const started = performance.now();
    let failure: NodeJS.ErrnoException | null = null;
    try {
      this.writeBlocking(records, bytes, loopWriteBuffer);
    } catch (err) {
      failure = err as NodeJS.ErrnoException;
    }
    const ended = performance.now();
    const slow = ended - started > SLOW_SYNC_WRITE_MS;
    if (slow) this.threadPoolUntil = ended + SLOW_WRITE_BACKOFF_MS;
    this.options.onLoopWrite?.(slow);
    done(failure);
  }

  /** The same as write(), blocking: for the last frames at shutdown. Throws on failure. */
  writeSync(records: readonly StoredRecord[]): void {
    if (records.length === 0) return;
    this.openActive();
    this.writeBlocking(records, this.recordsBytes(records), null);
  }

  /** Whether the active segment's file is open. */
  get filesOpen(): boolean {
    return this.fd >= 0;
  }

  /** Whether anything was written since the last fsync began (closing then loses no data, only the fsync). */
  get unsynced(): boolean {
    return this.dirty;
  }

  /** Opens the active segment's file when it is closed. Throws what the file system throws. */
  private openActive(): void {
    if (this.fd >= 0 || this.closed) return;
    this.fd = fs.openSync(this.segments[this.segments.length - 1]!.path, 'r+');
  }

  /**
   * Closes the files until the next write (an idle stream under FELIX_DURABLE_MAX_OPEN_STREAMS). The caller
   * fsyncs first when its policy promises it: closing never discards written data (the page cache keeps it),
   * but an fsync after reopening would not be told of a write-back error from before.
   */
  closeFiles(): void {
    if (this.writing || this.closed || this.fd < 0) return;
    for (const fd of this.unsyncedFds) fs.closeSync(fd);
    this.unsyncedFds = [];
    const fd = this.fd;
    this.fd = -1;
    fs.closeSync(fd);
  }

  private writeBlocking(records: readonly StoredRecord[], bytes: number, into: Buffer | null): void {
    const { active, buf, start } = this.prepare(records, bytes, into);
    let offset = 0;
    try {
      while (offset < buf.length)
        offset += fs.writeSync(this.fd, buf, offset, buf.length - offset, start + offset);
    } catch (err) {
      // Cut a partial write back to the last whole record (ENOSPC usually writes part, then fails).
      try {
        fs.ftruncateSync(this.fd, start);
      } catch {
        // Recovery at the next start truncates a torn tail too; the write's own error is the one to report.
      }
      throw err;
    }
    this.completed(active, records, start, buf.length);
  }

  private recordsBytes(records: readonly StoredRecord[]): number {
    let total = 0;
    for (const r of records) total += recordBytes(r.bytes.length);
    return total;
  }

  /**
   * Checks a write, rolls the segment when it would grow past its size, and encodes the records into
   * `into` (when given, and large enough) or a buffer of their own.
   */
  private prepare(
    records: readonly StoredRecord[],
    total: number,
    into: Buffer | null,
  ): { active: Segment; buf: Buffer; start: number } {
    if (this.writing || this.closed) throw new Error('SegmentLog: a write is in flight or the log is closed');
    if (records[0]!.firstOffset !== this.nextOffset) {
      throw new Error(`SegmentLog: expected offset ${this.nextOffset}, got ${records[0]!.firstOffset}`);
    }
    let active = this.segments[this.segments.length - 1]!;
    if (active.size > 0 && active.size + total > this.options.segmentBytes) active = this.roll();
    // Copied once into one buffer: one syscall, and the frames' own memory is free to change after this.
    const buf =
      into !== null && into.length >= total ? into.subarray(0, total) : Buffer.allocUnsafeSlow(total);
    let at = 0;
    for (const r of records) at = writeRecord(buf, at, r);
    return { active, buf, start: active.size };
  }

  private completed(active: Segment, records: readonly StoredRecord[], start: number, total: number): void {
    let position = start;
    for (const r of records) {
      const end = position + recordBytes(r.bytes.length);
      active.noteRecord(position, r.firstOffset, end);
      position = end;
    }
    const last = records[records.length - 1]!;
    active.size += total;
    active.nextOffset = last.firstOffset + last.count;
    active.lastWriteMs = Date.now();
    this.nextOffset = active.nextOffset;
    this.bytes += total;
    this.dirty = true;
  }

  /** Makes everything written so far durable (fdatasync of the active segment and of any sealed since). */
  sync(done: (err: NodeJS.ErrnoException | null) => void): void {
    try {
      // Files closed with writes unsynced (only under policy none, which never asks): reopened to sync them.
      if (this.dirty) this.openActive();
    } catch (err) {
      done(err as NodeJS.ErrnoException);
      return;
    }
    const sealed = this.unsyncedFds;
    this.unsyncedFds = [];
    // The segment active now: a roll during this sync hands it to the next sync, which syncs it again.
    // Closed (-1): nothing was written since the fsync before its files were closed.
    const active = this.fd;
    this.dirty = false;
    let i = 0;
    const next = (err: NodeJS.ErrnoException | null): void => {
      if (err !== null) {
        for (const fd of sealed.slice(i)) fs.close(fd, () => undefined);
        this.dirty = true;
        done(err);
        return;
      }
      if (i < sealed.length) {
        const fd = sealed[i++]!;
        fs.fdatasync(fd, (e) => fs.close(fd, () => next(e)));
      } else if (active < 0) done(null);
      else
        fs.fdatasync(active, (e) => {
          if (e !== null) this.dirty = true;
          done(e);
        });
    };
    next(null);
  }

  /** Closes sealed segments' files without syncing them (fsync policy none: the OS writes them back). */
  closeSealed(): void {
    for (const fd of this.unsyncedFds) fs.close(fd, () => undefined);
    this.unsyncedFds = [];
  }

  /**
   * Continues the log at `offset`, beyond its end: the offsets between are a gap (given out before an
   * unclean stop and lost with it; offset-reservation.ts), which readers cross as they cross a segment cut
   * short. The next record written starts there, in a segment of its own (the empty active one renamed).
   * Throws what the file system throws; the log is then as it was. Call with no write in flight.
   */
  skipTo(offset: number): void {
    if (offset <= this.nextOffset) return;
    const active = this.segments[this.segments.length - 1]!;
    if (active.size > 0) {
      const end = this.nextOffset;
      this.nextOffset = offset;
      try {
        this.roll();
      } catch (err) {
        this.nextOffset = end;
        throw err;
      }
      return;
    }
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
    const moved = new Segment(this.dir, offset, 0, offset, Date.now());
    fs.renameSync(active.path, moved.path);
    syncDirectory(this.dir);
    this.segments[this.segments.length - 1] = moved;
    this.nextOffset = offset;
  }

  /** Seals the active segment (when it holds anything) so that retention may remove it. */
  sealActive(): void {
    if (this.writing || this.closed) return;
    if (this.segments[this.segments.length - 1]!.size > 0) this.roll();
  }

  /** The oldest sealed segment, which retention may remove; undefined when only the active one exists. */
  oldestSealed():
    { readonly size: number; readonly lastWriteMs: number; readonly nextOffset: number } | undefined {
    return this.segments.length > 1 ? this.segments[0] : undefined;
  }

  /** Removes the oldest sealed segment (retention). Readers holding it open finish reading it. */
  dropOldestSegment(done: (err: NodeJS.ErrnoException | null) => void): void {
    if (this.segments.length <= 1) {
      queueMicrotask(() => done(null));
      return;
    }
    const seg = this.segments.shift()!;
    this.bytes -= seg.size;
    fs.unlink(seg.path, (err) => done(err));
  }

  /** Closes the files. Call with no write in flight. */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.unsyncedFds) fs.closeSync(fd);
    this.unsyncedFds = [];
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** Syncs and closes (clean shutdown). */
  syncAndCloseSync(): void {
    if (this.closed) return;
    for (const fd of this.unsyncedFds) fs.fdatasyncSync(fd);
    // Closed while idle with writes not yet synced (policy none): reopened for the shutdown fsync.
    if (this.fd < 0 && this.dirty) this.openActive();
    if (this.fd >= 0) fs.fdatasyncSync(this.fd);
    this.dirty = false;
    this.closeSync();
  }

  /** Starts the next segment. Throws what the file system throws, the log then as it was (retried later). */
  private roll(): Segment {
    const seg = new Segment(this.dir, this.nextOffset, 0, this.nextOffset, Date.now());
    const fd = fs.openSync(seg.path, 'wx+');
    try {
      // The new file's name must survive a crash as surely as the records that will go into it.
      syncDirectory(this.dir);
    } catch (err) {
      // Undone, so that the write's retry can create it again ('wx+' refuses a file left behind).
      fs.closeSync(fd);
      fs.rmSync(seg.path, { force: true });
      throw err;
    }
    if (this.fd >= 0) {
      this.unsyncedFds.push(this.fd);
      this.fd = fd;
    } else {
      // Files closed (sealed by retention while idle): they stay closed, the next write opens the new one.
      fs.closeSync(fd);
    }
    this.segments.push(seg);
    return seg;
  }
}

/**
 * Recovers the log's last segment (recoverTail). One that holds no whole record at its start is the tail
 * only if it starts where the one before it ends: a crash right after a roll leaves it so, empty or with a
 * torn first record — or where the log continued past a gap (SegmentLog.skipTo), up to the offsets reserved. Anything else named like a segment (junk, a stray copy) would move the stream's next
 * offset to its name: it is renamed out of the log (`.damaged`), and the segment before it, read through
 * to learn where it ends, is the tail. Reading that segment costs a start-up only in this rare case.
 */
function recoverLast(
  dir: string,
  segments: Segment[],
  maxRecordBytes: number,
  reservedTo: number,
  readOnly: boolean,
): { tail: TailRecovery; setAside: string | null } {
  const last = segments[segments.length - 1]!;
  if (segments.length < 2 || !holdsNoWholeRecord(last, maxRecordBytes))
    return { tail: recoverTail(last, maxRecordBytes, readOnly), setAside: null };
  const previous = segments[segments.length - 2]!;
  const previousTail = recoverTail(previous, maxRecordBytes, readOnly);
  // Where the one before ends, or past a gap that the offset reservation covers (skipTo, then a crash).
  if (
    previous.nextOffset === last.baseOffset ||
    (previous.nextOffset < last.baseOffset && last.baseOffset <= reservedTo)
  )
    return { tail: recoverTail(last, maxRecordBytes, readOnly), setAside: null };
  if (readOnly) {
    segments.pop();
    return { tail: previousTail, setAside: null };
  }
  let aside = `${last.path}.damaged`;
  if (fs.existsSync(aside)) aside = `${last.path}.${Date.now()}.damaged`;
  fs.renameSync(last.path, aside);
  syncDirectory(dir);
  segments.pop();
  return { tail: previousTail, setAside: aside };
}

/**
 * Whether recovery would find no whole record in the segment: none at its start (of its base offset), nor
 * one after that as the search past damage finds them (recoverTail would cut it all as a torn tail).
 */
function holdsNoWholeRecord(seg: Segment, maxRecordBytes: number): boolean {
  const fd = fs.openSync(seg.path, 'r');
  try {
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    if (fs.readSync(fd, header, 0, RECORD_HEADER_BYTES, 0) === RECORD_HEADER_BYTES) {
      const length = header.readUInt32BE(0);
      if (length <= maxRecordBytes && RECORD_HEADER_BYTES + length <= seg.size) {
        const record = Buffer.alloc(RECORD_HEADER_BYTES + length);
        fs.readSync(fd, record, 0, record.length, 0);
        const r = parseRecord(record, 0, record.length, maxRecordBytes);
        if (r.status === 'ok' && r.firstOffset === seg.baseOffset) return false;
      }
    }
    return findRecordAfterDamage(fd, 0, seg.size, seg.baseOffset, maxRecordBytes) === null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads the last segment through, checking every record, indexing it as it goes; cuts the file after the
 * last whole, valid record (read-only: leaves it, the segment ending there for readers). Sets the segment's
 * size and nextOffset.
 */
function recoverTail(seg: Segment, maxRecordBytes: number, readOnly: boolean): TailRecovery {
  const fd = fs.openSync(seg.path, readOnly ? 'r' : 'r+');
  try {
    const fileSize = fs.fstatSync(fd).size;
    let position = 0;
    let next = seg.baseOffset;
    let buf = Buffer.allocUnsafe(Math.min(RECOVERY_CHUNK_BYTES, Math.max(fileSize, RECORD_HEADER_BYTES)));
    let because: 'short' | 'corrupt' | null = null;
    let holes = 0;
    let holeBytes = 0;
    let damagedFrom: number | null = null;
    for (;;) {
      // Each pass reads one chunk from `position` and consumes the whole records in it.
      while (position < fileSize) {
        const want = Math.min(buf.length, fileSize - position);
        const got = fs.readSync(fd, buf, 0, want, position);
        let at = 0;
        let grew = false;
        while (at < got && because === null) {
          const r = parseRecord(buf, at, got, maxRecordBytes);
          if (r.status === 'ok') {
            // Offsets must continue record to record: anything else is damage the CRC could not see.
            if (r.firstOffset !== next) because = 'corrupt';
            else {
              seg.noteRecord(position + at, r.firstOffset, position + r.end);
              next = r.firstOffset + r.count;
              at = r.end;
            }
          } else if (r.status === 'short' && position + at + r.needed <= fileSize) {
            // A whole record that did not fit in this chunk: read on (with a larger buffer when it needs one).
            if (r.needed > buf.length) {
              buf = Buffer.allocUnsafe(r.needed);
              grew = true;
            }
            break;
          } else because = r.status;
        }
        position += at;
        // No progress and no larger buffer to try: the file ends inside a record.
        if (because === null && at === 0 && !grew) because = 'short';
        if (because !== null) break;
      }
      if (because === null) break;
      damagedFrom ??= next;
      // Damage at `position`. Whole records after it make it a hole (rot, a page lost out of order): they
      // were written — perhaps acked — and are kept, their offsets with them; readers skip the hole and see
      // the gap. Only damage that nothing follows is a torn tail, cut off below.
      const found = seg.skipDamage(fd, position, fileSize, next, maxRecordBytes);
      if (found === null) break;
      holes++;
      holeBytes += found.position - position;
      next = found.firstOffset;
      position = found.position;
      because = null;
    }
    const truncatedBytes = fileSize - position;
    if (truncatedBytes > 0 && !readOnly) {
      fs.ftruncateSync(fd, position);
      fs.fdatasyncSync(fd);
    }
    seg.size = position;
    seg.nextOffset = next;
    return {
      truncatedBytes,
      because: truncatedBytes > 0 ? (because ?? 'short') : null,
      holes,
      holeBytes,
      damagedFrom,
    };
  } finally {
    fs.closeSync(fd);
  }
}

/** An error the file system reported (as opposed to a defect). */
function isErrno(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && 'syscall' in err;
}
