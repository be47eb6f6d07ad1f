/**
 * The TIMINGS extension (flag 0x80, negotiated at auth): stamps of the monotonic clock, in nanoseconds,
 * taken where a message passes each hop. On one host every process reads the same CLOCK_MONOTONIC, so
 * differences between stamps of different processes are meaningful there — and only there.
 *
 *   publish batch + 0x80:  the batch as usual, then u64 send_ns (the publisher's stamp)
 *   event batch + 0x80:    u64 send_ns, u64 decode_ns, u64 enqueue_ns, u64 write_ns, then the batch as usual
 *                          (publisher send of the batch's first event, broker decode done, broker fanout
 *                          enqueue, broker write to this subscriber's stream). First, not last: the broker
 *                          sends the FLX1 header and this block as one small write per subscriber, followed
 *                          by the batch bytes every subscriber shares.
 *
 * Without the flag no stamp byte travels. A stamp of 0 means "not known".
 */
import { WireError } from './errors.js';
import { HEADER_BYTES } from './frame.js';
import { FLAG_TIMINGS } from './flags.js';

export const PUBLISH_STAMP_BYTES = 8;
export const EVENT_STAMP_BYTES = 32;

export interface EventStamps {
  send_ns: number;
  decode_ns: number;
  enqueue_ns: number;
  write_ns: number;
}

/**
 * Nanoseconds of CLOCK_MONOTONIC as a JS number. Exact to the nanosecond for 104 days of uptime and
 * within a few nanoseconds for years after, which differences of microseconds never notice.
 */
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

// Byte by byte, big-endian: no DataView or Buffer wrapper per stamp on this per-batch path.
export function writeStamp(target: Uint8Array, offset: number, ns: number): void {
  const hi = Math.floor(ns / 0x1_0000_0000);
  const lo = ns >>> 0;
  target[offset] = hi >>> 24;
  target[offset + 1] = (hi >>> 16) & 0xff;
  target[offset + 2] = (hi >>> 8) & 0xff;
  target[offset + 3] = hi & 0xff;
  target[offset + 4] = lo >>> 24;
  target[offset + 5] = (lo >>> 16) & 0xff;
  target[offset + 6] = (lo >>> 8) & 0xff;
  target[offset + 7] = lo & 0xff;
}

export function readStamp(source: Uint8Array, offset: number): number {
  const hi =
    ((source[offset]! << 24) |
      (source[offset + 1]! << 16) |
      (source[offset + 2]! << 8) |
      source[offset + 3]!) >>>
    0;
  const lo =
    ((source[offset + 4]! << 24) |
      (source[offset + 5]! << 16) |
      (source[offset + 6]! << 8) |
      source[offset + 7]!) >>>
    0;
  return hi * 0x1_0000_0000 + lo;
}

/** Splits a TIMINGS payload into the layout's own bytes and its stamp block (leading or trailing). */
export function splitStampBlock(
  payload: Uint8Array,
  blockBytes: number,
  what: string,
  leading = false,
): Uint8Array {
  if (payload.byteLength < blockBytes) {
    throw new WireError(
      'truncated',
      `${what} with TIMINGS is shorter than its ${blockBytes}-byte stamp block`,
    );
  }
  return leading ? payload.subarray(blockBytes) : payload.subarray(0, payload.byteLength - blockBytes);
}

/** The stamps that lead an event batch's TIMINGS payload. */
export function readEventStamps(payload: Uint8Array): EventStamps {
  return {
    send_ns: readStamp(payload, 0),
    decode_ns: readStamp(payload, 8),
    enqueue_ns: readStamp(payload, 16),
    write_ns: readStamp(payload, 24),
  };
}

/**
 * The 12-byte header that turns an already encoded event-batch frame into its TIMINGS form: this header,
 * a stamp block, then the same body bytes. The body is shared; only header and block are per subscriber.
 */
export function timingsEventHeader(frame: Uint8Array): Buffer {
  const header = Buffer.from(frame.subarray(0, HEADER_BYTES));
  header.writeUInt16BE(header.readUInt16BE(6) | FLAG_TIMINGS, 6);
  header.writeUInt32BE(header.readUInt32BE(8) + EVENT_STAMP_BYTES, 8);
  return header;
}

/**
 * What a subscriber gets before the shared body of a TIMINGS event batch, in one buffer (one write): the
 * TIMINGS header (timingsEventHeader) and the stamps, the write stamp being this subscriber's.
 */
export function encodeEventStampPrefix(
  timingsHeader: Uint8Array,
  sendNs: number,
  decodeNs: number,
  enqueueNs: number,
  writeNs: number,
): Buffer {
  const prefix = Buffer.allocUnsafe(HEADER_BYTES + EVENT_STAMP_BYTES);
  prefix.set(timingsHeader, 0);
  writeStamp(prefix, HEADER_BYTES, sendNs);
  writeStamp(prefix, HEADER_BYTES + 8, decodeNs);
  writeStamp(prefix, HEADER_BYTES + 16, enqueueNs);
  writeStamp(prefix, HEADER_BYTES + 24, writeNs);
  return prefix;
}
