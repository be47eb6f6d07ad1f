/**
 * Finding the next whole record after a damaged one in a segment file, so that damage which spares the
 * records after it (a flipped bit, a page lost out of order) is a hole to skip rather than the end of the
 * log. Used by recovery and by readers, through Segment.skipDamage (which remembers what it found).
 */
import { readSync } from 'node:fs';
import { parseRecord, RECORD_HEADER_BYTES } from './record-format.js';

/** Where a record found past damage starts, and what it holds. */
export interface FoundRecord {
  readonly position: number;
  readonly firstOffset: number;
  readonly count: number;
  readonly end: number;
}

const SCAN_CHUNK_BYTES = 1024 * 1024;

/**
 * After damage at `from` in the file `fd` (a record whose checksum, header or offset is wrong): the first
 * whole record after it — checksum verified, within `fileEnd` — whose first offset is `minOffset` or more,
 * and no more above it than the damaged bytes could have held events. Damage that spares the records after
 * it (a flipped bit, a page lost out of order) is then a hole in the file, not its end; only when nothing
 * follows is it a torn tail. The search looks no further than one largest record past `from` (a damaged
 * length cannot hide more) and checks a checksum only where a plausible header starts, so it reads about
 * that window once. Synchronous: it runs only when damage was found, which is rare.
 */
export function findRecordAfterDamage(
  fd: number,
  from: number,
  fileEnd: number,
  minOffset: number,
  maxPayload: number,
): FoundRecord | null {
  const lastStart = Math.min(fileEnd - RECORD_HEADER_BYTES, from + RECORD_HEADER_BYTES + maxPayload);
  // Usually the damage spared the length: the next record then starts right after the damaged one.
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  if (readFully(fd, header, RECORD_HEADER_BYTES, from) === RECORD_HEADER_BYTES) {
    const length = header.readUInt32BE(0);
    const next = from + RECORD_HEADER_BYTES + length;
    if (length <= maxPayload && next <= lastStart) {
      const found = checkCandidate(fd, next, fileEnd, from, minOffset, maxPayload);
      if (found !== null) return found;
    }
  }
  const chunk = Buffer.allocUnsafe(SCAN_CHUNK_BYTES + RECORD_HEADER_BYTES);
  for (let base = from + 1; base <= lastStart; base += SCAN_CHUNK_BYTES) {
    const got = readFully(fd, chunk, Math.min(chunk.length, fileEnd - base), base);
    const starts = Math.min(SCAN_CHUNK_BYTES, lastStart - base + 1, got - RECORD_HEADER_BYTES + 1);
    for (let i = 0; i < starts; i++) {
      const length = chunk.readUInt32BE(i);
      if (length > maxPayload || base + i + RECORD_HEADER_BYTES + length > fileEnd) continue;
      const count = chunk.readUInt32BE(i + 16);
      if (count === 0) continue;
      const firstOffset = chunk.readUInt32BE(i + 8) * 0x1_0000_0000 + chunk.readUInt32BE(i + 12);
      // Every event of a record takes at least a byte: the damage can have held no more than that.
      if (firstOffset < minOffset || firstOffset > minOffset + (base + i - from)) continue;
      const found = checkCandidate(fd, base + i, fileEnd, from, minOffset, maxPayload);
      if (found !== null) return found;
    }
  }
  return null;
}

/** The whole, checksum-verified record at `at` if its header is plausible after damage at `from`. */
function checkCandidate(
  fd: number,
  at: number,
  fileEnd: number,
  from: number,
  minOffset: number,
  maxPayload: number,
): FoundRecord | null {
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  if (readFully(fd, header, RECORD_HEADER_BYTES, at) < RECORD_HEADER_BYTES) return null;
  const length = header.readUInt32BE(0);
  const count = header.readUInt32BE(16);
  const firstOffset = header.readUInt32BE(8) * 0x1_0000_0000 + header.readUInt32BE(12);
  const bytes = RECORD_HEADER_BYTES + length;
  if (length > maxPayload || at + bytes > fileEnd || count === 0) return null;
  if (firstOffset < minOffset || firstOffset > minOffset + (at - from)) return null;
  const record = Buffer.allocUnsafe(bytes);
  if (readFully(fd, record, bytes, at) < bytes) return null;
  const r = parseRecord(record, 0, bytes, maxPayload);
  return r.status === 'ok' ? { position: at, firstOffset, count, end: at + bytes } : null;
}

/** Reads `length` bytes at `position` (fewer only at the end of the file); returns how many it read. */
export function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
