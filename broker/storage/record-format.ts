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
