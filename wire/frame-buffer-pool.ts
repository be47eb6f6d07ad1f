/**
 * Large partial-frame buffers shared by the frame decoders of one process whose sinks never keep a
 * payload (the broker's: it copies what it keeps). A frame larger than a decoder's retained buffer — a
 * cache value of 64 KiB or more arriving over several reads — is assembled in a buffer taken from here and
 * given back once the frame is handled, instead of in fresh ones grown by doubling and dropped: for a
 * 64 KiB value that was ~250 KiB of allocation per request, the largest from mmap (page faults on every
 * frame), and the garbage the broker's full collections then chased.
 *
 * A buffer taken here already exists, so a header that merely claims a large frame allocates nothing, and
 * what the pool keeps is bounded by `maxBytes`.
 */
export class FrameBufferPool {
  private readonly free: Uint8Array[] = [];
  private heldBytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes of the buffers kept for reuse. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The smallest kept buffer of at least `bytes`, removed from the pool, or null when none is that large. */
  take(bytes: number): Uint8Array | null {
    const free = this.free;
    let best = -1;
    for (let i = 0; i < free.length; i++) {
      const size = free[i]!.byteLength;
      if (size >= bytes && (best < 0 || size < free[best]!.byteLength)) best = i;
    }
    if (best < 0) return null;
    const buffer = free[best]!;
    free[best] = free[free.length - 1]!;
    free.pop();
    this.heldBytes -= buffer.byteLength;
    return buffer;
  }

  /**
   * Keeps `buffer` for a later take(). Beyond maxBytes the smallest kept buffers make room for a larger
   * one; one that still does not fit is left to the garbage collector.
   */
  give(buffer: Uint8Array): void {
    const size = buffer.byteLength;
    if (size > this.maxBytes) return;
    const free = this.free;
    while (this.heldBytes + size > this.maxBytes) {
      let smallest = 0;
      for (let i = 1; i < free.length; i++)
        if (free[i]!.byteLength < free[smallest]!.byteLength) smallest = i;
      if (free.length === 0 || free[smallest]!.byteLength >= size) return;
      this.heldBytes -= free[smallest]!.byteLength;
      free[smallest] = free[free.length - 1]!;
      free.pop();
    }
    free.push(buffer);
    this.heldBytes += size;
  }
}
