import {
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_EVENT_BATCH_OFFSETS,
  HEADER_BYTES,
  writeFrameHeader,
} from '../../wire/index.js';

const FLAGS = FLAG_BINARY_EVENT_BATCH_SHARED | FLAG_EVENT_BATCH_OFFSETS;
const NO_SLAB = Buffer.alloc(0);
const FIRST_SLAB_BYTES = 1024;
// FLX1 header, u64 base offset, u32 count.
const PREFIX_BYTES = HEADER_BYTES + 8 + 4;

/**
 * Builds shared event-batch frames (flags 0x04|0x20) event by event, copying each payload exactly once:
 * from the receive scratch straight into its place in the frame. Frames are cut from large slabs, so a
 * small frame costs no allocation of its own; the slab lives as long as any frame cut from it.
 *
 * A frame is contiguous, so one that outgrows its slab would have to be moved (copied) to a bigger one. To
 * keep that off the steady path, a frame starts in a fresh slab whenever the rest of the current one could
 * not hold a frame as large as the recent ones (plus one event), and slabs hold several such frames: a
 * stream whose batches are larger than the slab (64 × 4 KiB) builds every one of them in place.
 *
 * With `headroom`, that many bytes of the slab are left free in front of every frame, so that per-subscriber
 * bytes (the TIMINGS header and stamps) can be written there and sent with the frame's body as one buffer.
 */
export class EventBatchBuilder {
  private slab: Buffer;
  private frameStart = 0;
  private position = 0;
  /** Events in the frame being built. */
  count = 0;
  /** Payload bytes in the frame being built. */
  payloadBytes = 0;
  /** A frame's prefix is reserved at frameStart (set before its first event is copied). */
  private open = false;
  /** Size of the next slab: FIRST_SLAB_BYTES, growing fourfold per slab up to slabBytes. */
  private nextSlabBytes = FIRST_SLAB_BYTES;
  /** Bytes (prefix and events) a new frame is expected to need: the recent frames' size, slowly forgotten. */
  private expectedFrameBytes = 0;
  /** Largest event (with its length field) in the last frame: the margin a frame may overshoot by. */
  private largestEvent = 0;
  private frameLargestEvent = 0;
  /** Upper bound of a frame's size from the batching limits (expectFrames), 0 when unknown. */
  private frameLimit = 0;
  /** Bytes of frames under construction moved to a fresh slab (the copy this class avoids): for tests. */
  movedBytes = 0;

  constructor(
    private readonly slabBytes = 256 * 1024,
    readonly headroom = 0,
  ) {
    // The first slab comes with the first event: a stream that is named but never published to (or an
    // auto-created one nobody uses) costs no buffer.
    this.slab = NO_SLAB;
  }

  /**
   * The batching limits frames are cut at (the last event may overshoot maxBytes): bounds how much room a
   * new frame reserves, so the slabs stay a few frames large.
   */
  expectFrames(maxEvents: number, maxBytes: number): void {
    this.frameLimit = PREFIX_BYTES + 4 * maxEvents + maxBytes;
  }

  add(payload: Uint8Array): void {
    const need = 4 + payload.length;
    if (!this.open) this.openFrame(need);
    if (need > this.frameLargestEvent) this.frameLargestEvent = need;
    this.ensure(need);
    const slab = this.slab;
    slab.writeUInt32BE(payload.length, this.position);
    slab.set(payload, this.position + 4);
    this.position += need;
    this.count++;
    this.payloadBytes += payload.length;
  }

  /** Closes the frame with the offset of its first event and returns its bytes (a view of the slab). */
  finish(baseOffset: number): Buffer {
    const slab = this.slab;
    const start = this.frameStart;
    writeFrameHeader(slab, start, FLAGS, this.position - start - HEADER_BYTES);
    // u64 as two u32 halves: offsets stay below 2^53.
    slab.writeUInt32BE(Math.floor(baseOffset / 0x1_0000_0000), start + HEADER_BYTES);
    slab.writeUInt32BE(baseOffset >>> 0, start + HEADER_BYTES + 4);
    slab.writeUInt32BE(this.count, start + HEADER_BYTES + 8);
    const frame = slab.subarray(start, this.position);
    // Forgotten by an eighth per frame: one small frame between large ones does not shrink the reservation.
    const expected = this.expectedFrameBytes;
    this.expectedFrameBytes = Math.max(frame.length, expected - (expected >>> 3));
    this.largestEvent = this.frameLargestEvent;
    this.frameLargestEvent = 0;
    this.frameStart = this.position;
    this.open = false;
    this.count = 0;
    this.payloadBytes = 0;
    return frame;
  }

  /** Opens a frame where the slab has room for one like the recent ones, starting a fresh slab if needed. */
  private openFrame(firstEvent: number): void {
    let room = Math.max(this.expectedFrameBytes + this.largestEvent, PREFIX_BYTES + firstEvent);
    if (this.frameLimit > 0) room = Math.min(room, this.frameLimit + this.largestEvent);
    room += this.headroom;
    if (this.frameStart + room > this.slab.length) {
      // Nothing of the frame is written yet: a fresh slab costs no copy (the old one's tail stays unused).
      // Room for four such frames keeps that unused tail a small part of the slab, also when frames are
      // larger than slabBytes.
      this.slab = Buffer.allocUnsafeSlow(Math.max(this.nextSlabBytes, 4 * room));
      this.nextSlabBytes = Math.min(this.slabBytes, this.nextSlabBytes * 4);
      this.frameStart = 0;
    }
    this.frameStart += this.headroom;
    this.position = this.frameStart + PREFIX_BYTES;
    this.open = true;
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.slab.length && this.frameStart + bytes <= this.slab.length) return;
    // Move the frame under construction to a fresh slab big enough for it and what comes next.
    const building = this.open ? this.position - this.frameStart : 0;
    // An open frame keeps its headroom; a frame about to open reserves it itself.
    const room = this.open ? this.headroom : 0;
    // Slabs grow with use: a stream that sees one small event keeps a small slab (100k such streams must
    // not cost 100k × slabBytes); a busy one reaches slabBytes after a few slabs.
    const next = Buffer.allocUnsafeSlow(Math.max(this.nextSlabBytes, 2 * (room + building + bytes)));
    this.nextSlabBytes = Math.min(this.slabBytes, this.nextSlabBytes * 4);
    if (building > 0) {
      this.slab.copy(next, room, this.frameStart, this.position);
      this.movedBytes += building;
    }
    this.slab = next;
    this.frameStart = room;
    this.position = room + building;
  }
}
