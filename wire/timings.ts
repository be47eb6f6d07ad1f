/**
 * The TIMINGS extension (flag 0x80, negotiated at auth): stamps of the monotonic clock, in nanoseconds,
 * taken where a message passes each hop. On one host every process reads the same CLOCK_MONOTONIC, so
 * differences between stamps of different processes are meaningful there — and only there.
 *
 *   publish batch + 0x80:  the batch as usual, then u64 send_ns (the publisher's stamp)
 *   event batch + 0x80:    the batch as usual, then u64 send_ns, u64 decode_ns, u64 enqueue_ns, u64 write_ns
 *                          (publisher send of the batch's first event, broker decode done, broker fanout
 *                          enqueue, broker write to this subscriber's stream)
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

export function writeStamp(target: Uint8Array, offset: number, ns: number): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(offset, Math.floor(ns / 0x1_0000_0000));
  view.setUint32(offset + 4, ns >>> 0);
}

export function readStamp(source: Uint8Array, offset: number): number {
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  return view.getUint32(offset) * 0x1_0000_0000 + view.getUint32(offset + 4);
}

/** Splits a TIMINGS payload into the layout's own bytes and its trailing stamp block. */
export function splitStampBlock(payload: Uint8Array, blockBytes: number, what: string): Uint8Array {
  if (payload.byteLength < blockBytes) {
    throw new WireError(
      'truncated',
      `${what} with TIMINGS is shorter than its ${blockBytes}-byte stamp block`,
    );
  }
  return payload.subarray(0, payload.byteLength - blockBytes);
}

export function readEventStamps(payload: Uint8Array): EventStamps {
  const at = payload.byteLength - EVENT_STAMP_BYTES;
  return {
    send_ns: readStamp(payload, at),
    decode_ns: readStamp(payload, at + 8),
    enqueue_ns: readStamp(payload, at + 16),
    write_ns: readStamp(payload, at + 24),
  };
}

/**
 * The 12-byte header that turns an already encoded event-batch frame into its TIMINGS form: same bytes
 * after the header, then a stamp block. The body is shared; only this header and the block are new.
 */
export function timingsEventHeader(frame: Uint8Array): Buffer {
  const header = Buffer.from(frame.subarray(0, HEADER_BYTES));
  header.writeUInt16BE(header.readUInt16BE(6) | FLAG_TIMINGS, 6);
  header.writeUInt32BE(header.readUInt32BE(8) + EVENT_STAMP_BYTES, 8);
  return header;
}

/** A subscriber's stamp block: the batch's shared stamps plus this subscriber's write stamp. */
export function encodeEventStamps(
  sendNs: number,
  decodeNs: number,
  enqueueNs: number,
  writeNs: number,
): Buffer {
  const block = Buffer.allocUnsafe(EVENT_STAMP_BYTES);
  writeStamp(block, 0, sendNs);
  writeStamp(block, 8, decodeNs);
  writeStamp(block, 16, enqueueNs);
  writeStamp(block, 24, writeNs);
  return block;
}
