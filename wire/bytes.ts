/**
 * Bounded big-endian reading and writing for the binary layouts. Every read checks what is left before
 * touching it, so a hostile length or count fails as `truncated` instead of reading past the payload.
 */
import { WireError } from './errors.js';

const TWO_POW_32 = 0x1_0000_0000;
/** Largest high word of a u64 that keeps the value within Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class ByteReader {
  private readonly bytes: Uint8Array;
  private position: number;
  private readonly end: number;

  /** Reads `bytes[start..end)`: a part of a payload is read in place, without a view of its own. */
  constructor(bytes: Uint8Array, start = 0, end = bytes.byteLength) {
    this.bytes = bytes;
    this.position = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  u8(): number {
    this.need(1, 'a u8');
    return this.bytes[this.position++];
  }

  u16(): number {
    this.need(2, 'a u16');
    const b = this.bytes;
    const p = this.position;
    this.position = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  u32(): number {
    this.need(4, 'a u32');
    const b = this.bytes;
    const p = this.position;
    this.position = p + 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /** A u64 as a number; values above 2^53 - 1 are rejected rather than rounded. */
  u64(field: string): number {
    // Checked whole, so a short payload is refused naming the u64 the layout expects, not its second half
    // (the message is built only then: this runs for every binary batch and ack).
    if (this.end - this.position < 8) this.need(8, `a u64 ${field}`);
    const high = this.u32();
    const low = this.u32();
    if (high > MAX_SAFE_HIGH_WORD) throw new WireError('malformed', `${field} exceeds 2^53 - 1`);
    return high * TWO_POW_32 + low;
  }

  /** The next `length` bytes as a view (no copy). */
  bytesView(length: number, what: string): Uint8Array {
    this.need(length, what);
    const start = this.position;
    this.position = start + length;
    return this.bytes.subarray(start, this.position);
  }

  /** A u16-length-prefixed UTF-8 string. */
  shortString(field: string): string {
    const length = this.u16();
    const view = this.bytesView(length, field);
    try {
      return strictUtf8.decode(view);
    } catch {
      throw new WireError('malformed', `${field} is not valid UTF-8`);
    }
  }

  /**
   * A count of u32-length-prefixed items, bounded by what is left: each item needs at least its 4-byte
   * prefix, so a count the payload cannot hold fails here, before anything is allocated for it.
   */
  itemCount(what: string): number {
    const count = this.u32();
    if (count > this.remaining / 4) {
      throw new WireError(
        'truncated',
        `${what} count ${count} exceeds what ${this.remaining} bytes can hold`,
      );
    }
    return count;
  }

  /** Fails if bytes are left over: they would mean the layout was misread. */
  expectEnd(what: string): void {
    if (this.remaining !== 0)
      throw new WireError('malformed', `${this.remaining} unexpected bytes after ${what}`);
  }

  private need(length: number, what: string): void {
    if (this.end - this.position < length) {
      throw new WireError(
        'truncated',
        `payload ends before ${what} (${length} bytes needed, ${this.remaining} left)`,
      );
    }
  }
}

export function writeU64(target: Buffer, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new WireError('malformed', `${value} is not an integer from 0 to 2^53 - 1`);
  }
  target.writeUInt32BE(Math.floor(value / TWO_POW_32), offset);
  target.writeUInt32BE(value >>> 0, offset + 4);
}

/** An owned copy of `bytes`, for keeping data that arrived as a transient view. */
export function copyBytes(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
