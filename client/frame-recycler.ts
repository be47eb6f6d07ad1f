/**
 * Request frames (publish batches, cache puts) a client sends and gets back once the broker answered them.
 *
 * A frame of 4 KiB or more is beyond Node's buffer pool, so each was an ArrayBuffer of its own, dropped once
 * its request was answered: cache puts of 4 KiB at 32 in flight spent a third of the client's time on them
 * and their collection (docs/benchmarks.md, "Request frames reused"). A frame lives in a buffer of a
 * power-of-two size class and goes back to its class's free list when its request succeeded: the broker
 * had then read every byte of it, so neither the transport nor quiche still refers to it. Frames of
 * requests that failed, timed out or were lost are left to the garbage collector, since some of their bytes
 * may still wait to be sent. The free lists hold at most `maxBytes`.
 */
import { allocateFrame, HEADER_BYTES, writeFrameHeader, type FrameAllocator } from '../wire/index.js';

/** Frames this large and up come from the recycler; smaller ones from Node's pool, as before. */
export const RECYCLED_FROM_BYTES = 4 * 1024;
/** Larger frames are allocated and dropped as they come: they are rare, and would pin much memory. */
export const RECYCLED_UP_TO_BYTES = 2 * 1024 * 1024;

export class FrameRecycler {
  /** Free buffers by size class (index: log2 of their size). */
  private readonly free: ArrayBuffer[][] = [];
  /** Buffers handed out and not yet given back: only these are taken back, and each only once. */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private heldBytes = 0;
  readonly allocate: FrameAllocator = (flags, payloadLength) => this.frame(flags, payloadLength);

  constructor(readonly maxBytes: number) {}

  /** Bytes kept in the free lists. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** A frame of `payloadLength` payload bytes with its header, in a recycled buffer when one is free. */
  frame(flags: number, payloadLength: number): Buffer {
    const length = HEADER_BYTES + payloadLength;
    if (length < RECYCLED_FROM_BYTES || length > RECYCLED_UP_TO_BYTES)
      return allocateFrame(flags, payloadLength);
    const sizeClass = 32 - Math.clz32(length - 1);
    let buffer = this.free[sizeClass]?.pop();
    if (buffer !== undefined) this.heldBytes -= buffer.byteLength;
    // An ArrayBuffer of its own (not zero-filled): its identity is what recycle() recognises.
    else buffer = Buffer.allocUnsafeSlow(2 ** sizeClass).buffer as ArrayBuffer;
    this.lent.add(buffer);
    const frame = Buffer.from(buffer, 0, length);
    writeFrameHeader(frame, 0, flags, payloadLength);
    return frame;
  }

  /** `frame`'s request succeeded: its buffer may carry the next frame of its class. Others are ignored. */
  recycle(frame: Uint8Array): void {
    const buffer = frame.buffer as ArrayBuffer;
    if (!this.lent.delete(buffer)) return;
    if (this.heldBytes + buffer.byteLength > this.maxBytes) return;
    (this.free[31 - Math.clz32(buffer.byteLength)] ??= []).push(buffer);
    this.heldBytes += buffer.byteLength;
  }
}
