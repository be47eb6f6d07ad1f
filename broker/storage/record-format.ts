/**
 * The on-disk record: one per stored frame. A 20-byte header, then the frame's bytes as they were sent to
 * subscribers (so replay from disk needs no re-encoding):
 *
 *   u32 payload length | u32 CRC-32 | u64 first offset | u32 event count | payload
 *
 * The CRC covers everything after itself (offset, count and payload), so a record whose header or body was
 * torn or damaged is recognised and never served. CRC-32 is node:zlib's (zlib's own, hardware-assisted
 * where the CPU has it): no checksum code of our own.
 */
import { readSync } from 'node:fs';
import { crc32 } from 'node:zlib';

export const RECORD_HEADER_BYTES = 20;
const CRC_COVERS_FROM = 8;

/** One stored record, as written and as read back. `bytes` is the frame (a view of a read buffer on reads). */
export interface StoredRecord {
  readonly firstOffset: number;
  readonly count: number;
  readonly bytes: Buffer;
}

export function recordBytes(payloadLength: number): number {
  return RECORD_HEADER_BYTES + payloadLength;
}

/** Writes `record` at `at` in `target` (which must have recordBytes(payload) room); returns the end. */
export function writeRecord(target: Buffer, at: number, record: StoredRecord): number {
  const payload = record.bytes;
  target.writeUInt32BE(payload.length, at);
  // u64 as two u32 halves: offsets stay below 2^53.
  target.writeUInt32BE(Math.floor(record.firstOffset / 0x1_0000_0000), at + 8);
  target.writeUInt32BE(record.firstOffset >>> 0, at + 12);
  target.writeUInt32BE(record.count, at + 16);
  payload.copy(target, at + RECORD_HEADER_BYTES);
  const end = at + RECORD_HEADER_BYTES + payload.length;
  target.writeUInt32BE(crc32(target.subarray(at + CRC_COVERS_FROM, end)), at + 4);
  return end;
}

export type ParsedRecord =
  | {
      readonly status: 'ok';
      readonly firstOffset: number;
      readonly count: number;
      /** Where the payload starts and the record ends, in the buffer parsed. */
      readonly payloadStart: number;
      readonly end: number;
    }
  /** The buffer ends inside the record: read more (or, at the end of a file, a torn tail). */
  | { readonly status: 'short'; readonly needed: number }
  /** The checksum does not match, or the header is impossible. */
  | { readonly status: 'corrupt' };

/**
 * The record at `at` in `buf` (bytes up to `limit`). `maxPayload` rejects impossible lengths before any
 * read is sized by them. `verify` false skips the CRC (index scans that serve nothing).
 */
export function parseRecord(
  buf: Buffer,
  at: number,
  limit: number,
  maxPayload: number,
  verify = true,
): ParsedRecord {
  if (limit - at < RECORD_HEADER_BYTES) return { status: 'short', needed: RECORD_HEADER_BYTES };
  const length = buf.readUInt32BE(at);
  if (length > maxPayload) return { status: 'corrupt' };
  const end = at + RECORD_HEADER_BYTES + length;
  if (end > limit) return { status: 'short', needed: RECORD_HEADER_BYTES + length };
  if (verify && crc32(buf.subarray(at + CRC_COVERS_FROM, end)) !== buf.readUInt32BE(at + 4)) {
    return { status: 'corrupt' };
  }
  const firstOffset = buf.readUInt32BE(at + 8) * 0x1_0000_0000 + buf.readUInt32BE(at + 12);
  const count = buf.readUInt32BE(at + 16);
  return { status: 'ok', firstOffset, count, payloadStart: at + RECORD_HEADER_BYTES, end };
}

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

function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
