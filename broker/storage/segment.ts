import { join } from 'node:path';
import { findRecordAfterDamage, type FoundRecord } from './damage-search.js';

/** Bytes of log between two entries of a segment's sparse index. */
const INDEX_INTERVAL_BYTES = 4096;

/** `00000000000000001234.log`: the base offset, zero-padded so that names sort as offsets do. */
export function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}.log`;
}

const SEGMENT_NAME = /^(\d{20})\.log$/;

/** The base offset a segment file name stands for, or undefined for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (m === null) return undefined;
  const base = Number(m[1]);
  return Number.isSafeInteger(base) ? base : undefined;
}

/**
 * One file of a stream's log: the records from `baseOffset` up to `nextOffset`. Its sparse index maps record
 * offsets to file positions (one entry per INDEX_INTERVAL_BYTES), built as records are written, found at
 * recovery, or met by a reader scanning the file — so a segment recovered from an earlier run costs nothing
 * until somebody seeks inside it.
 */
export class Segment {
  readonly path: string;
  /** Sparse index: offsets[i] is the first offset of the record starting at positions[i]. */
  private readonly offsets: number[] = [];
  private readonly positions: number[] = [];
  /** The index covers every record that starts below this position. */
  indexedTo = 0;

  constructor(
    dir: string,
    readonly baseOffset: number,
    /** Bytes of complete records in the file (what readers may read). */
    public size: number,
    /** Offset after the last record (the next segment's base once sealed). */
    public nextOffset: number,
    /** When the segment was last written (ms since the epoch): age retention looks at this. */
    public lastWriteMs: number,
  ) {
    this.path = join(dir, segmentFileName(baseOffset));
  }

  /** Notes the record at `position` (called in file order by whoever meets it first). */
  noteRecord(position: number, firstOffset: number, end: number): void {
    if (position !== this.indexedTo) return;
    const n = this.positions.length;
    if (n === 0 || position - this.positions[n - 1]! >= INDEX_INTERVAL_BYTES) {
      this.offsets.push(firstOffset);
      this.positions.push(position);
    }
    this.indexedTo = end;
  }

  /**
   * Where the whole record after the damage at a position starts, once someone has looked: found once per
   * broker, not by every reader that meets the damage (the search reads up to one largest record).
   */
  private readonly afterDamage = new Map<number, FoundRecord>();

  /**
   * The whole record after damage at `position` in this segment's file `fd` (see damage-search.ts), or
   * null when none follows before `fileEnd`. Found, the damaged stretch is noted: indexing goes on past it.
   */
  skipDamage(
    fd: number,
    position: number,
    fileEnd: number,
    minOffset: number,
    maxPayload: number,
  ): FoundRecord | null {
    let found = this.afterDamage.get(position);
    if (found !== undefined) return found;
    const searched = findRecordAfterDamage(fd, position, fileEnd, minOffset, maxPayload);
    if (searched === null) return null;
    found = searched;
    this.afterDamage.set(position, found);
    this.noteGap(position, found.position);
    return found;
  }

  /** Notes a damaged stretch from `position` to `end` (readers skip it): indexing goes on past it. */
  noteGap(position: number, end: number): void {
    if (position === this.indexedTo) this.indexedTo = end;
  }

  /**
   * An indexed record at or before the one holding `offset`: its position and first offset (the segment's
   * start when none is indexed).
   */
  seek(offset: number): { readonly position: number; readonly firstOffset: number } {
    const offsets = this.offsets;
    let lo = 0;
    let hi = offsets.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (offsets[mid]! <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0
      ? { position: 0, firstOffset: this.baseOffset }
      : { position: this.positions[found]!, firstOffset: offsets[found]! };
  }
}
