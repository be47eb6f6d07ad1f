/**
 * Offsets missing between a durable stream's segments at start: a sealed segment lost from the middle of
 * the log (a bad copy or restore, a stray rm) leaves no trace in the names of those left, since a sealed
 * segment is taken to end where the next begins. Where each one really ends is in its last record, found
 * by reading the file's last few KiB (more only when that record is larger): one small read per sealed
 * segment, instead of reading them through. Offsets between that end and the next segment's base that no
 * unclean stop skipped (skipped-offsets.ts) are missing: readers cross them as a gap, and the start says so.
 */
import * as fs from 'node:fs';
import { readFully } from './damage-search.js';
import { parseRecord, RECORD_HEADER_BYTES } from './record-format.js';
import type { Segment } from './segment.js';
import { coveredBySkipped, type SkippedRange } from './skipped-offsets.js';

/** The end of the file read first when looking for its last record: a page holds most last records. */
const FIRST_TAIL_BYTES = 4096;

/** Offsets from `from` up to `to` (not included) that no segment holds, before the segment at `next`. */
export interface MissingOffsets {
  readonly from: number;
  readonly to: number;
  /** The path of the segment after the gap. */
  readonly next: string;
}

/** What the start finds about the sealed segments: offsets missing between them, and damaged ends. */
export interface SealedSegmentsReport {
  readonly missing: MissingOffsets[];
  /**
   * Sealed segments whose last whole record could not be found: cut short in the middle of a record,
   * damaged at their end, or unreadable. Readers skip the damage (a gap to subscribers); the start reports it.
   */
  readonly unended: string[];
}

/** Checks the end of each sealed segment of the log (oldest first; the last one is the active segment). */
export function inspectSealedSegments(
  segments: readonly Segment[],
  maxRecordBytes: number,
  skipped: readonly SkippedRange[],
): SealedSegmentsReport {
  const missing: MissingOffsets[] = [];
  const unended: string[] = [];
  for (let i = 0; i + 1 < segments.length; i++) {
    const next = segments[i + 1]!;
    const end = lastRecordEnd(segments[i]!, maxRecordBytes);
    if (end === undefined) {
      unended.push(segments[i]!.path);
      continue;
    }
    if (end >= next.baseOffset) continue;
    if (coveredBySkipped(skipped, end, next.baseOffset)) continue;
    missing.push({ from: end, to: next.baseOffset, next: next.path });
  }
  return { missing, unended };
}

/**
 * The offset after the last record of the sealed segment `seg`, or undefined when it cannot be told (an
 * unreadable file, a file not ending with a whole record: damage that readers meet and skip).
 * The last record is the earliest whole, checksum-verified record in the tail read that ends exactly at
 * the file's end. (A payload embedding such a record could be taken for it only where the real one starts
 * before the tail read: the cost is a wrong gap report, never a wrong read.)
 */
function lastRecordEnd(seg: Segment, maxRecordBytes: number): number | undefined {
  const size = seg.size;
  if (size < RECORD_HEADER_BYTES) return undefined;
  const most = Math.min(size, RECORD_HEADER_BYTES + maxRecordBytes);
  let fd: number;
  try {
    fd = fs.openSync(seg.path, 'r');
  } catch {
    return undefined;
  }
  try {
    for (let window = Math.min(size, FIRST_TAIL_BYTES); ; window = Math.min(most, window * 16)) {
      const buf = Buffer.allocUnsafe(window);
      if (readFully(fd, buf, window, size - window) < window) return undefined;
      for (let at = 0; at + RECORD_HEADER_BYTES <= window; at++) {
        if (buf.readUInt32BE(at) !== window - at - RECORD_HEADER_BYTES) continue;
        const r = parseRecord(buf, at, window, maxRecordBytes);
        if (r.status === 'ok' && r.firstOffset >= seg.baseOffset) return r.firstOffset + r.count;
      }
      if (window === most) return undefined;
    }
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
