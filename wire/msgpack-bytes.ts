/**
 * The few MessagePack forms the hand-written cache frames use (wire/cache-frames.ts), written and read
 * in place on a Buffer. The forms are the shortest ones, as msgpackr writes them, so a hand-written
 * frame is byte for byte what the generic codec would produce.
 */

// str and bin share one layout: a short form, then 8-, 16- and 32-bit lengths after a type byte.
const STR = { fixed: 0xa0, fixedBelow: 32, u8: 0xd9, u16: 0xda, u32: 0xdb } as const;
const BIN = { fixed: 0, fixedBelow: 0, u8: 0xc4, u16: 0xc5, u32: 0xc6 } as const;
type SizedForm = typeof STR | typeof BIN;

export const NIL = 0xc0;
const TWO_POW_32 = 0x1_0000_0000;

/** A map key (or any constant string) as its MessagePack bytes, to copy into frames. */
export function encodedString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(strHeaderBytes(bytes.length) + bytes.length);
  bytes.copy(out, writeStrHeader(out, 0, bytes.length));
  return out;
}

function sizedHeaderBytes(form: SizedForm, length: number): number {
  return length < form.fixedBelow ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function writeSizedHeader(form: SizedForm, out: Buffer, at: number, length: number): number {
  if (length < form.fixedBelow) {
    out[at] = form.fixed | length;
    return at + 1;
  }
  if (length < 0x100) {
    out[at] = form.u8;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = form.u16;
    out.writeUInt16BE(length, at + 1);
    return at + 3;
  }
  out[at] = form.u32;
  out.writeUInt32BE(length, at + 1);
  return at + 5;
}

export function strHeaderBytes(length: number): number {
  return sizedHeaderBytes(STR, length);
}

export function writeStrHeader(out: Buffer, at: number, length: number): number {
  return writeSizedHeader(STR, out, at, length);
}

/** Bytes of `text` as a MessagePack str, given its UTF-8 length. */
export function strBytes(utf8Length: number): number {
  return strHeaderBytes(utf8Length) + utf8Length;
}

/** Writes `text` (of UTF-8 length `utf8Length`) as a str; returns where the next value goes. */
export function writeStr(out: Buffer, at: number, text: string, utf8Length: number): number {
  at = writeStrHeader(out, at, utf8Length);
  return at + out.write(text, at, utf8Length, 'utf8');
}

export function binHeaderBytes(length: number): number {
  return sizedHeaderBytes(BIN, length);
}

export function writeBinHeader(out: Buffer, at: number, length: number): number {
  return writeSizedHeader(BIN, out, at, length);
}

export function uintBytes(value: number): number {
  return value < 0x80 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < TWO_POW_32 ? 5 : 9;
}

/** A non-negative safe integer in its shortest MessagePack form; returns where the next value goes. */
export function writeUint(out: Buffer, at: number, value: number): number {
  if (value < 0x80) {
    out[at] = value;
    return at + 1;
  }
  if (value < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = value;
    return at + 2;
  }
  if (value < 0x10000) {
    out[at] = 0xcd;
    out.writeUInt16BE(value, at + 1);
    return at + 3;
  }
  if (value < TWO_POW_32) {
    out[at] = 0xce;
    out.writeUInt32BE(value, at + 1);
    return at + 5;
  }
  // int64, as msgpackr writes the bigint the wire codec makes of a u64 above u32 (same value to any reader).
  out[at] = 0xd3;
  out.writeUInt32BE(Math.floor(value / TWO_POW_32), at + 1);
  out.writeUInt32BE(value >>> 0, at + 5);
  return at + 9;
}

/**
 * A forward-only reader over one MessagePack value's bytes, for the frames whose shape is known. Every
 * read returns a sentinel (-1, or null) instead of throwing when the bytes are not the expected form:
 * the caller then hands the frame to the generic codec, which gives the precise error.
 */
/** The last short text one field decoded to (MsgpackCursor.memoText); longer texts are not kept. */
export class TextMemo {
  readonly bytes = Buffer.alloc(64);
  length = -1;
  text = '';
}

export class MsgpackCursor {
  buf: Buffer = EMPTY;
  at = 0;
  end = 0;
  /** Start and end of the last str or bin read. */
  start = 0;
  stop = 0;

  reset(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.at = start;
    this.end = end;
  }

  /** A map header's entry count, or -1. */
  mapLength(): number {
    const { buf, at } = this;
    if (at >= this.end) return -1;
    const b = buf[at]!;
    if ((b & 0xf0) === 0x80) {
      this.at = at + 1;
      return b & 0x0f;
    }
    if (b === 0xde && at + 3 <= this.end) {
      this.at = at + 3;
      return buf.readUInt16BE(at + 1);
    }
    return -1;
  }

  /** Reads a str or bin (as `form`) and leaves its bytes in start..stop; false when it is not one. */
  private sized(form: SizedForm): boolean {
    const { buf, at, end } = this;
    if (at >= end) return false;
    const b = buf[at]!;
    let length: number;
    let body: number;
    if (form.fixedBelow !== 0 && (b & 0xe0) === form.fixed) {
      length = b & 0x1f;
      body = at + 1;
    } else if (b === form.u8 && at + 2 <= end) {
      length = buf[at + 1]!;
      body = at + 2;
    } else if (b === form.u16 && at + 3 <= end) {
      length = buf.readUInt16BE(at + 1);
      body = at + 3;
    } else if (b === form.u32 && at + 5 <= end) {
      length = buf.readUInt32BE(at + 1);
      body = at + 5;
    } else return false;
    if (body + length > end) return false;
    this.start = body;
    this.stop = body + length;
    this.at = body + length;
    return true;
  }

  /** A str whose bytes are all ASCII (so every decoder reads the same text): false otherwise. */
  asciiStr(): boolean {
    if (!this.sized(STR)) return false;
    const { buf, stop } = this;
    for (let i = this.start; i < stop; i++) if (buf[i]! > 0x7f) return false;
    return true;
  }

  /** The text of the last asciiStr(). */
  text(): string {
    return this.buf.toString('latin1', this.start, this.stop);
  }

  /**
   * The text of the last asciiStr(), the same string as last time when `memo` saw the same bytes: the
   * names a client repeats in every request (tenant, namespace, cache) are compared, not decoded again,
   * and come back as one string the caller can compare by identity.
   */
  memoText(memo: TextMemo): string {
    const { buf, start, stop } = this;
    const length = stop - start;
    const seen = memo.bytes;
    if (length === memo.length) {
      let i = 0;
      while (i < length && buf[start + i] === seen[i]) i++;
      if (i === length) return memo.text;
    }
    const text = buf.toString('latin1', start, stop);
    if (length <= seen.length) {
      buf.copy(seen, 0, start, stop);
      memo.length = length;
      memo.text = text;
    }
    return text;
  }

  bin(): boolean {
    return this.sized(BIN);
  }

  /** Consumes a nil if one is next. */
  nil(): boolean {
    if (this.at < this.end && this.buf[this.at] === NIL) {
      this.at++;
      return true;
    }
    return false;
  }

  /** A non-negative integer up to 2^53 - 1 in any integer form, or -1. */
  uint(): number {
    const { buf, at, end } = this;
    if (at >= end) return -1;
    const b = buf[at]!;
    if (b < 0x80) {
      this.at = at + 1;
      return b;
    }
    switch (b) {
      case 0xcc:
        if (at + 2 > end) return -1;
        this.at = at + 2;
        return buf[at + 1]!;
      case 0xcd:
        if (at + 3 > end) return -1;
        this.at = at + 3;
        return buf.readUInt16BE(at + 1);
      case 0xce:
        if (at + 5 > end) return -1;
        this.at = at + 5;
        return buf.readUInt32BE(at + 1);
      case 0xcf:
      case 0xd3: {
        if (at + 9 > end) return -1;
        const high = buf.readUInt32BE(at + 1);
        // Above 2^53 - 1 (or negative, for int64) is not a safe integer: the generic codec decides.
        if (high > 0x1f_ffff) return -1;
        this.at = at + 9;
        return high * TWO_POW_32 + buf.readUInt32BE(at + 5);
      }
      default:
        return -1;
    }
  }

  /** Whether the last str read holds exactly `name`'s bytes (a map key). */
  is(name: Buffer): boolean {
    const length = this.stop - this.start;
    if (length !== name.length) return false;
    const buf = this.buf;
    for (let i = 0; i < length; i++) if (buf[this.start + i] !== name[i]) return false;
    return true;
  }
}

const EMPTY = Buffer.alloc(0);
