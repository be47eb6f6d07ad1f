/**
 * Reads one stream's log from any offset still on disk, a bounded chunk at a time, without loading the
 * log into memory. Every record's checksum is verified before it is handed out: a damaged record is never
 * served; the reader skips it to the next whole record after it (or, when none follows within one largest
 * record, past the rest of that segment) — the offsets it skipped show as a gap — and counts it. A segment
 * that holds nothing more, is no longer there or is shorter than the log knows is crossed to the next
 * segment's first offset the same way: a reader never waits on a hole in the log. Any other error (a disk
 * failing, a segment that is not a file) ends the read, after what was read before it has been handed out.
 */
import * as fs from 'node:fs';
import { parseRecord, type StoredRecord } from './record-format.js';
import type { Segment } from './segment.js';
import type { SegmentLog } from './segment-log.js';

export interface ReadResult {
  readonly records: StoredRecord[];
  /** Records found damaged (and skipped) by this read. */
  readonly corrupt: number;
  /** Nothing more is on disk below the limit now (an empty result without it means: read again). */
  readonly atEnd: boolean;
  /** Where the next read should start (past any damaged record skipped). */
  readonly next: number;
  /** Segments found gone or cut short under the log, crossed by this read: path and why. */
  readonly unreadable: readonly string[];
}

/** A segment file no longer there (as opposed to a disk failing): its offsets are gone for good, a gap. */
function segmentGone(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

type Finish = (
  err: Error | null,
  records: StoredRecord[],
  corrupt: number,
  atEnd: boolean,
  next: number,
) => void;

export class LogReader {
  private segment: Segment | null = null;
  private fd = -1;
  /** Position in `segment` of the record holding `expected`, when the reader is positioned. */
  private position = 0;
  /** The first offset of the record at `position` (what a damaged record there should have held). */
  private positionOffset = 0;
  /** The offset the next read is expected to ask for: a read from it continues at `position`. */
  private expected = -1;
  private busy = false;
  private closed = false;
  /** Segments crossed as unreadable during the current read. */
  private unreadable: string[] = [];

  constructor(
    private readonly log: SegmentLog,
    private readonly maxRecordBytes: number,
  ) {}

  /**
   * Records holding `from` and after it (the first may start before `from`), about `maxBytes` of them, none
   * at or past `limit`. An empty result means nothing more is on disk below `limit` now. When `from` is older
   * than the log's oldest offset (retention removed it), reading starts at the oldest.
   */
  read(
    from: number,
    limit: number,
    maxBytes: number,
    done: (err: Error | null, result: ReadResult) => void,
  ): void {
    if (this.busy || this.closed)
      throw new Error('LogReader.read: a read is in flight or the reader is closed');
    this.busy = true;
    this.unreadable = [];
    const finish: Finish = (err, records, corrupt, atEnd, next) => {
      this.busy = false;
      // Closed during the read: the file closes now that no read of it is in flight.
      if (this.closed) this.closeFile();
      done(err, { records, corrupt, atEnd, next, unreadable: this.unreadable });
    };
    this.readFrom(from, limit, maxBytes, [], 0, 0, finish);
  }

  /**
   * Closes the reader. A read in flight keeps its file open until it returns: closing the descriptor under
   * it would fail it with EBADF (reported as a storage error of a reader nobody reads any more), or let it
   * read whatever file took the descriptor's number meanwhile.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.busy) this.closeFile();
  }

  private readFrom(
    from: number,
    limit: number,
    maxBytes: number,
    records: StoredRecord[],
    corrupt: number,
    hops: number,
    finish: Finish,
  ): void {
    if (this.closed || from >= limit) {
      finish(null, records, corrupt, true, from);
      return;
    }
    // Bounded: a run of empty or damaged segments is crossed over several reads.
    if (hops > 64) {
      finish(null, records, corrupt, false, from);
      return;
    }
    const located = this.locate(from);
    if (located === undefined) {
      finish(null, records, corrupt, true, from);
      return;
    }
    if (located !== true) {
      // A segment of the log that cannot be opened.
      if (!segmentGone(located.error)) {
        this.fail(located.error, records, corrupt, from, finish);
        return;
      }
      const later = this.cross(located.segment, 'gone');
      if (later === undefined) finish(null, records, corrupt, true, from);
      else
        this.readFrom(Math.max(from, later.baseOffset), limit, maxBytes, records, corrupt, hops + 1, finish);
      return;
    }
    const seg = this.segment!;
    const readable = seg.size - this.position;
    if (readable <= 0) {
      // This segment is read through: on to the next one, from its first offset (what lies between, this
      // segment does not hold: a gap).
      const later = this.after(seg);
      if (later === undefined) {
        finish(null, records, corrupt, true, from);
        return;
      }
      this.expected = -1;
      this.readFrom(Math.max(from, later.baseOffset), limit, maxBytes, records, corrupt, hops + 1, finish);
      return;
    }
    const buf = Buffer.allocUnsafeSlow(Math.min(maxBytes, readable));
    const start = this.position;
    fs.read(this.fd, buf, 0, buf.length, start, (err, got) => {
      if (this.closed) {
        finish(null, records, corrupt, true, from);
        return;
      }
      if (err !== null) {
        this.expected = -1;
        // (An open file stays readable when it is deleted: only opening finds a segment gone.)
        this.fail(err, records, corrupt, from, finish);
        return;
      }
      // A short read of a file means its end: it is shorter than the size the log knows for it (cut short
      // under the broker), and what it held past here is gone.
      const cutShort = got < buf.length;
      let at = 0;
      let next = from;
      let damaged = false;
      let atOffset = this.positionOffset;
      while (at < got) {
        const r = parseRecord(buf, at, got, this.maxRecordBytes);
        if (r.status === 'short') {
          if (at === 0 && start + r.needed <= seg.size && !cutShort) {
            // One record larger than the chunk: read it whole next time.
            this.position = start;
            this.expected = from;
            this.readFrom(from, limit, Math.max(maxBytes, r.needed), records, corrupt, hops + 1, finish);
            return;
          }
          if (start + at + r.needed > seg.size) damaged = true; // a sealed segment ending inside a record
          break;
        }
        if (r.status === 'corrupt') {
          damaged = true;
          break;
        }
        seg.noteRecord(start + at, r.firstOffset, start + r.end);
        if (r.firstOffset >= limit) break;
        at = r.end;
        atOffset = r.firstOffset + r.count;
        if (r.firstOffset + r.count <= next) continue; // before the cursor: skipped
        records.push({
          firstOffset: r.firstOffset,
          count: r.count,
          bytes: buf.subarray(r.payloadStart, r.end),
        });
        next = r.firstOffset + r.count;
      }
      this.position = start + at;
      this.positionOffset = atOffset;
      if (cutShort && this.position < seg.size) {
        // Served what was whole; the rest of the segment is crossed (the next read moves past it).
        this.cross(seg, `cut short at ${start + got} of ${seg.size} bytes`);
        this.position = seg.size;
      } else if (damaged) {
        // Never served: on to the next whole record after it, else past the rest of this segment.
        corrupt++;
        const found = seg.skipDamage(this.fd, start + at, seg.size, atOffset, this.maxRecordBytes);
        if (found !== null) {
          this.position = found.position;
          this.positionOffset = found.firstOffset;
          next = Math.max(next, found.firstOffset);
        } else {
          this.position = seg.size;
          next = Math.max(next, seg.nextOffset);
        }
      }
      this.expected = next;
      if (records.length === 0 && (damaged || this.position >= seg.size)) {
        // Nothing usable in what was read: carry on into the next segment.
        this.readFrom(next, limit, maxBytes, records, corrupt, hops + 1, finish);
        return;
      }
      finish(null, records, corrupt, false, next);
    });
  }

  /**
   * Notes `seg`, which cannot be read (gone), as crossed; returns the segment where the read goes on (its
   * first offset: the offsets between show as a gap), undefined when none follows.
   */
  private cross(seg: Segment, why: string): Segment | undefined {
    this.unreadable.push(`${seg.path} (${why})`);
    return this.after(seg);
  }

  /**
   * A read that met an error: what it read before is handed out first (the next read, from where this one
   * stopped, meets the error again and reports it).
   */
  private fail(err: Error, records: StoredRecord[], corrupt: number, from: number, finish: Finish): void {
    if (records.length > 0) finish(null, records, corrupt, false, from);
    else finish(err, records, corrupt, false, from);
  }

  /** The segment after `seg` in the log, if any. */
  private after(seg: Segment): Segment | undefined {
    return this.log.segmentList.find((s) => s.baseOffset > seg.baseOffset);
  }

  /**
   * Positions the reader at the record holding `from` (or the oldest, when `from` was removed). Undefined
   * when the log holds no segment (or retention removed the one found meanwhile: the next read finds the
   * oldest); the segment and the error when a segment of the log cannot be opened.
   */
  private locate(from: number): true | undefined | { segment: Segment; error: Error } {
    if (this.segment !== null && from === this.expected) return true;
    const segments = this.log.segmentList;
    if (segments.length === 0) return undefined;
    let i = segments.length - 1;
    while (i > 0 && segments[i]!.baseOffset > from) i--;
    const seg = segments[i]!;
    const opened = this.open(seg);
    if (opened !== true) {
      // Removed by retention between the lookup and the open: not a hole, the log just moved on.
      return this.log.segmentList.includes(seg) ? { segment: seg, error: opened } : undefined;
    }
    const entry = seg.seek(from);
    this.position = entry.position;
    this.positionOffset = entry.firstOffset;
    this.expected = from;
    return true;
  }

  private open(seg: Segment): true | Error {
    if (this.segment === seg) return true;
    this.closeFile();
    try {
      this.fd = fs.openSync(seg.path, 'r');
    } catch (err) {
      return err as Error;
    }
    this.segment = seg;
    this.position = 0;
    this.positionOffset = seg.baseOffset;
    return true;
  }

  private closeFile(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.segment = null;
  }
}
