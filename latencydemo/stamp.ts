/**
 * The header every published payload starts with, as in Felix's latency demo (16 bytes ahead of the
 * `--payload` bytes): the send time and the event's sequence number in the run. Publisher and subscribers
 * live in the same process, so the send time is read on the same clock as the receive time.
 *
 *   bytes 0..8   send time, performance.now() in ms (float64, big-endian)
 *   bytes 8..12  sequence number in the case (uint32, big-endian): warmup events first, then measured ones
 *   bytes 12..16 zero (reserved, keeps the header as long as Felix's u128 nanosecond stamp)
 */
export const STAMP_BYTES = 16;

const SEQ_AT = 8;

/** Bytes of one event on the wire as published: the header plus the `--payload` bytes. */
export function eventBytes(payload: number): number {
  return STAMP_BYTES + payload;
}

/** A zero-filled payload with room for the header; reused for every batch (the SDK copies on publish). */
export function allocatePayload(payload: number): Buffer {
  return Buffer.alloc(eventBytes(payload));
}

export function writeStamp(target: Buffer, sentAt: number, seq: number): void {
  target.writeDoubleBE(sentAt, 0);
  target.writeUInt32BE(seq, SEQ_AT);
}

// Payloads the SDK hands over are Buffers (views of the frame's one copy); any other Uint8Array is read
// through this scratch, so no event ever allocates.
const scratch = new Uint8Array(STAMP_BYTES);
const scratchView = new DataView(scratch.buffer);

function view(payload: Uint8Array): Buffer | DataView {
  if (Buffer.isBuffer(payload)) return payload;
  for (let i = 0; i < STAMP_BYTES; i++) scratch[i] = payload[i]!;
  return scratchView;
}

/** The send time written by writeStamp. */
export function readSentAt(payload: Uint8Array): number {
  const v = view(payload);
  return v instanceof DataView ? v.getFloat64(0) : v.readDoubleBE(0);
}

/** The sequence number written by writeStamp. */
export function readSeq(payload: Uint8Array): number {
  const v = view(payload);
  return v instanceof DataView ? v.getUint32(SEQ_AT) : v.readUInt32BE(SEQ_AT);
}
