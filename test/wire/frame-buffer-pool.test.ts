// Large partial-frame buffers shared by the broker's decoders: frames above the retained buffer are built
// in a pooled buffer that holds the whole frame, reach the sink as views (owned false) and go back after.
import { describe, expect, it } from 'vitest';
import { FrameBufferPool, FrameDecoder, HEADER_BYTES, writeFrameHeader } from '../../wire/index.js';

function frame(length: number, seed: number): Buffer {
  const out = Buffer.alloc(HEADER_BYTES + length);
  writeFrameHeader(out, 0, 0, length);
  for (let i = 0; i < length; i++) out[HEADER_BYTES + i] = (i * 31 + seed) & 0xff;
  return out;
}

function pushInChunks(decoder: FrameDecoder, bytes: Buffer, chunk: number): void {
  for (let at = 0; at < bytes.length; at += chunk) decoder.push(bytes.subarray(at, at + chunk));
}

describe('FrameBufferPool', () => {
  it('hands out the smallest kept buffer that is large enough, and only once', () => {
    const pool = new FrameBufferPool(1 << 20);
    const small = new Uint8Array(100_000);
    const large = new Uint8Array(300_000);
    pool.give(large);
    pool.give(small);
    expect(pool.bytes).toBe(400_000);
    expect(pool.take(90_000)).toBe(small);
    expect(pool.take(90_000)).toBe(large);
    expect(pool.take(1)).toBeNull();
    expect(pool.bytes).toBe(0);
  });

  it('keeps at most maxBytes, making room for a larger buffer by dropping smaller ones', () => {
    const pool = new FrameBufferPool(500_000);
    pool.give(new Uint8Array(200_000));
    pool.give(new Uint8Array(200_000));
    pool.give(new Uint8Array(50_000)); // fits: 450,000
    pool.give(new Uint8Array(300_000)); // drops the 50,000 and one 200,000
    expect(pool.bytes).toBe(500_000);
    expect(pool.take(250_000)!.byteLength).toBe(300_000);
    pool.give(new Uint8Array(600_000)); // larger than the whole pool: not kept
    expect(pool.bytes).toBe(200_000);
  });
});

describe('FrameDecoder with a pool', () => {
  it('builds every large frame in one reused buffer and delivers it as a view, byte for byte', () => {
    const pool = new FrameBufferPool(8 << 20);
    const seen: { bytes: Buffer; owned: boolean; buffer: ArrayBufferLike }[] = [];
    const decoder = new FrameDecoder(
      {
        onFrame: (_flags, payload, owned) =>
          seen.push({ bytes: Buffer.from(payload), owned, buffer: payload.buffer }),
        onError: (error) => {
          throw error;
        },
      },
      { pool },
    );
    const frames = [0, 1, 2, 3, 4].map((seed) => frame(65_536 + 100, seed));
    for (const f of frames) pushInChunks(decoder, f, 32 * 1024);
    expect(seen.map((s) => s.bytes.equals(frames[seen.indexOf(s)]!.subarray(HEADER_BYTES)))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(seen.every((s) => !s.owned)).toBe(true);
    // The first frame grew a buffer; every later one was built in that same buffer, taken from the pool.
    expect(new Set(seen.slice(1).map((s) => s.buffer)).size).toBe(1);
    expect(pool.bytes).toBeGreaterThanOrEqual(65_536 + 100);
  });

  it('gives a buffer back when the stream is reset mid-frame, and grows as before when none fits', () => {
    const pool = new FrameBufferPool(1 << 20);
    const decoder = new FrameDecoder({ onFrame: () => {}, onError: () => {} }, { pool });
    pushInChunks(decoder, frame(200_000, 1), 32 * 1024); // leaves its buffers in the pool
    const kept = pool.bytes;
    expect(kept).toBeGreaterThanOrEqual(200_000);
    decoder.push(frame(150_000, 2).subarray(0, 100_000)); // half a frame, in a pooled buffer
    expect(pool.bytes).toBeLessThanOrEqual(kept - 150_000);
    decoder.reset();
    expect(pool.bytes).toBe(kept);
    // A header that claims more than any pooled buffer holds: growth with what arrived, as without a pool.
    decoder.push(frame(4 << 20, 3).subarray(0, HEADER_BYTES + 1000));
    // (the 1,000 bytes fit the decoder's own retained buffer: nothing taken, nothing allocated)
    expect(decoder.bufferCapacity).toBeLessThanOrEqual(64 * 1024);
    expect(pool.bytes).toBe(kept);
  });
});
