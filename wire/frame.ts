/**
 * FLX1 framing: a 12-byte big-endian header (magic, version, flags, payload length) and the payload.
 */
import { WireError } from './errors.js';

export const MAGIC = 0x464c5831; // "FLX1"
export const VERSION = 1;
export const HEADER_BYTES = 12;
/** Largest payload length the header can express. */
export const MAX_ENCODABLE_PAYLOAD_BYTES = 0xffff_ffff;
/** FELIX_MAX_FRAME_BYTES default: the largest payload a receiver accepts. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * Most payloads one publish batch frame may carry. Bytes bound a frame, but a batch of empty payloads costs
 * per payload (an object each, a stamp and a length in every event frame): 5.5 M of them fit 16 MiB, and
 * one such frame held the broker for seconds. 65,536 bound that to milliseconds; more go as more batches.
 */
export const MAX_BATCH_PAYLOADS = 65_536;

export interface FrameHeader {
  flags: number;
  /** Payload length in bytes, excluding the header. */
  length: number;
}

/** Writes a header for a payload of `length` bytes at `offset` of `target`. */
export function writeFrameHeader(target: Uint8Array, offset: number, flags: number, length: number): void {
  if (length > MAX_ENCODABLE_PAYLOAD_BYTES) {
    throw new WireError('frame_too_large', `payload of ${length} bytes does not fit a u32 length`, { flags });
  }
  target[offset] = 0x46;
  target[offset + 1] = 0x4c;
  target[offset + 2] = 0x58;
  target[offset + 3] = 0x31;
  target[offset + 4] = 0;
  target[offset + 5] = VERSION;
  target[offset + 6] = flags >>> 8;
  target[offset + 7] = flags & 0xff;
  target[offset + 8] = length >>> 24;
  target[offset + 9] = (length >>> 16) & 0xff;
  target[offset + 10] = (length >>> 8) & 0xff;
  target[offset + 11] = length & 0xff;
}

/**
 * A Buffer holding a header for `payloadLength` bytes, with room for the payload after it. Encoders
 * fill the payload in place, so a frame is one allocation and no copy.
 */
/** Makes the buffer of a frame of `payloadLength` payload bytes with `flags`, its header written. */
export type FrameAllocator = (flags: number, payloadLength: number) => Buffer;

export function allocateFrame(flags: number, payloadLength: number): Buffer {
  if (payloadLength > MAX_ENCODABLE_PAYLOAD_BYTES) {
    throw new WireError('frame_too_large', `payload of ${payloadLength} bytes does not fit a u32 length`, {
      flags,
    });
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payloadLength);
  writeFrameHeader(frame, 0, flags, payloadLength);
  return frame;
}

/** Frames an already-encoded payload (one copy of it). */
export function encodeFrame(flags: number, payload: Uint8Array): Buffer {
  const frame = allocateFrame(flags, payload.byteLength);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/**
 * The reason the header at `offset` (12 bytes must be there) cannot start a frame, or undefined when it
 * can. Returned rather than thrown so the stream decoder's per-frame path has no exception handling.
 */
export function checkFrameHeader(bytes: Uint8Array, offset: number): WireError | undefined {
  const magic =
    ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
  if (magic !== MAGIC) {
    return new WireError('bad_magic', `bad frame magic 0x${magic.toString(16).padStart(8, '0')}`);
  }
  const version = (bytes[offset + 4] << 8) | bytes[offset + 5];
  if (version !== VERSION) return new WireError('bad_version', `unsupported frame version ${version}`);
  return undefined;
}

/** The flags of the header at `offset`, which checkFrameHeader accepted. */
export function headerFlags(bytes: Uint8Array, offset: number): number {
  return (bytes[offset + 6] << 8) | bytes[offset + 7];
}

/** The payload length of the header at `offset`, which checkFrameHeader accepted. */
export function headerLength(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset + 8] << 24) |
      (bytes[offset + 9] << 16) |
      (bytes[offset + 10] << 8) |
      bytes[offset + 11]) >>>
    0
  );
}

/**
 * Reads and validates the header at `offset` (which must have 12 bytes). Throws the fatal
 * `bad_magic`/`bad_version`: after either, the byte stream cannot be split into frames any more.
 */
export function readFrameHeader(bytes: Uint8Array, offset = 0): FrameHeader {
  const problem = checkFrameHeader(bytes, offset);
  if (problem) throw problem;
  return { flags: headerFlags(bytes, offset), length: headerLength(bytes, offset) };
}

export interface WholeFrame extends FrameHeader {
  /** A view into the input: no copy. */
  payload: Uint8Array;
}

/**
 * Splits one complete frame held in `bytes` (header and payload, nothing after). For tests, tools and
 * single-frame datagrams; streams go through FrameDecoder.
 */
export function decodeWholeFrame(bytes: Uint8Array): WholeFrame {
  if (bytes.byteLength < HEADER_BYTES) {
    throw new WireError('incomplete', `a frame needs ${HEADER_BYTES} header bytes, got ${bytes.byteLength}`);
  }
  const header = readFrameHeader(bytes, 0);
  const end = HEADER_BYTES + header.length;
  if (bytes.byteLength !== end) {
    throw new WireError(
      bytes.byteLength < end ? 'incomplete' : 'malformed',
      `frame declares ${header.length} payload bytes but ${bytes.byteLength - HEADER_BYTES} follow the header`,
      { flags: header.flags, frameLength: header.length },
    );
  }
  return { flags: header.flags, length: header.length, payload: bytes.subarray(HEADER_BYTES, end) };
}
