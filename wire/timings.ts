/**
 * The TIMINGS extension (flag 0x80, negotiated at auth): stamps of the monotonic clock, in nanoseconds,
 * taken where a message passes each hop. On one host every process reads the same CLOCK_MONOTONIC, so
 * differences between stamps of different processes are meaningful there — and only there.
 *
 *   publish batch + 0x80:  the batch as usual, then u64 send_ns (the publisher's stamp)
 *   event batch + 0x80:    u64 send_ns, u64 decode_ns, u64 enqueue_ns, u64 write_ns, then the batch as usual
 *                          (publisher send of the batch's first event, broker decode done, broker fanout
 *                          enqueue, broker write to this subscriber's stream). First, not last: the broker
 *                          writes the FLX1 header and this block per subscriber in front of the batch bytes
 *                          every subscriber shares, in room it leaves there, and sends them as one buffer.
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
 * The offset of performance.now() on CLOCK_MONOTONIC, in ns. Both read libuv's uv_hrtime (CLOCK_MONOTONIC),
 * performance.now() counting from this process's start; the offset is taken from the closest of a few
 * paired reads, so it is off by less than one read of the clock (well under a microsecond).
 */
const PERFORMANCE_ORIGIN_NS = ((): number => {
  let gap = Infinity;
  let origin = 0;
  for (let i = 0; i < 5; i++) {
    const before = performance.now();
    const ns = Number(process.hrtime.bigint());
    const after = performance.now();
    if (after - before < gap) {
      gap = after - before;
      origin = ns - ((before + after) / 2) * 1e6;
    }
  }
  return origin;
})();

/**
 * Nanoseconds of CLOCK_MONOTONIC as a JS number. Exact to the nanosecond for 104 days of uptime and
 * within a few nanoseconds for years after, which differences of microseconds never notice. Read through
 * performance.now() (the same clock): unlike process.hrtime.bigint() it allocates nothing per stamp.
 */
export function monotonicNs(): number {
  return Math.round(PERFORMANCE_ORIGIN_NS + performance.now() * 1e6);
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

/** Fails unless a TIMINGS payload is long enough for its stamp block. */
export function checkStampBlock(payload: Uint8Array, blockBytes: number, what: string): void {
  if (payload.byteLength < blockBytes) {
    throw new WireError(
      'truncated',
      `${what} with TIMINGS is shorter than its ${blockBytes}-byte stamp block`,
    );
  }
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

/** What precedes the shared body of a TIMINGS event batch: its FLX1 header and the stamp block. */
export const EVENT_STAMP_PREFIX_BYTES = HEADER_BYTES + EVENT_STAMP_BYTES;

/**
 * Writes, at the start of `target`, what a subscriber gets before the shared body of an already encoded
 * event-batch `frame` (its bytes from offset HEADER_BYTES on; only its header is read, so `frame` may be
 * just that): the header turned into its TIMINGS form (FLAG_TIMINGS set, length grown by the block) and the
 * stamps, the write stamp being this subscriber's. Allocates nothing: the broker writes it into the room it
 * leaves in front of each frame.
 */
export function writeEventStampPrefix(
  target: Uint8Array,
  frame: Uint8Array,
  sendNs: number,
  decodeNs: number,
  enqueueNs: number,
  writeNs: number,
): void {
  for (let i = 0; i < 6; i++) target[i] = frame[i]!;
  // flags (u16 at 6) | FLAG_TIMINGS
  target[6] = frame[6]! | (FLAG_TIMINGS >>> 8);
  target[7] = frame[7]! | (FLAG_TIMINGS & 0xff);
  // length (u32 at 8) + the block
  const length =
    (((frame[8]! << 24) | (frame[9]! << 16) | (frame[10]! << 8) | frame[11]!) >>> 0) + EVENT_STAMP_BYTES;
  target[8] = length >>> 24;
  target[9] = (length >>> 16) & 0xff;
  target[10] = (length >>> 8) & 0xff;
  target[11] = length & 0xff;
  writeStamp(target, HEADER_BYTES, sendNs);
  writeStamp(target, HEADER_BYTES + 8, decodeNs);
  writeStamp(target, HEADER_BYTES + 16, enqueueNs);
  writeStamp(target, HEADER_BYTES + 24, writeNs);
}

/** writeEventStampPrefix into a buffer of its own. */
export function encodeEventStampPrefix(
  frame: Uint8Array,
  sendNs: number,
  decodeNs: number,
  enqueueNs: number,
  writeNs: number,
): Buffer {
  const prefix = Buffer.allocUnsafe(EVENT_STAMP_PREFIX_BYTES);
  writeEventStampPrefix(prefix, frame, sendNs, decodeNs, enqueueNs, writeNs);
  return prefix;
}
