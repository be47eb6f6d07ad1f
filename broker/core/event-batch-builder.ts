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

  constructor(
    private readonly slabBytes = 256 * 1024,
    readonly headroom = 0,
  ) {
    // The first slab comes with the first event: a stream that is named but never published to (or an
    // auto-created one nobody uses) costs no buffer.
    this.slab = NO_SLAB;
  }

  add(payload: Uint8Array): void {
    if (!this.open) {
      this.ensure(this.headroom + PREFIX_BYTES);
      this.frameStart += this.headroom;
      this.position = this.frameStart + PREFIX_BYTES;
      this.open = true;
    }
    const need = 4 + payload.length;
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
    this.frameStart = this.position;
    this.open = false;
    this.count = 0;
    this.payloadBytes = 0;
    return frame;
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
    if (building > 0) this.slab.copy(next, room, this.frameStart, this.position);
    this.slab = next;
    this.frameStart = room;
    this.position = room + building;
  }
}
