import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventBatchBuilder } from '../../broker/core/event-batch-builder.js';
import { encodeSharedEventBatch } from '../../wire/index.js';

describe('EventBatchBuilder', () => {
  it.each([0, 32])(
    'builds frames byte-identical to the wire encoder, across slab boundaries (headroom %i)',
    (headroom) => {
      const builder = new EventBatchBuilder(4096, headroom);
      const frames: Buffer[] = [];
      const expected: Buffer[] = [];
      let offset = 0;
      // Payload sizes straddle the slab size so first events, middle events and whole frames all move.
      for (const sizes of [[10], [3000, 900], [5000], [1, 2, 3], [4090], [0, 4096, 17]]) {
        const payloads = sizes.map((n) => randomBytes(n));
        for (const p of payloads) builder.add(p);
        frames.push(builder.finish(offset));
        expected.push(encodeSharedEventBatch(payloads, offset));
        offset += payloads.length;
      }
      // Every frame has its headroom in front of it, which belongs to no other frame.
      for (const f of frames) {
        expect(f.byteOffset).toBeGreaterThanOrEqual(headroom);
        new Uint8Array(f.buffer, f.byteOffset - headroom, headroom).fill(0xee);
      }
      // Every earlier frame is still intact after later ones were built (and their headroom written).
      frames.forEach((f, i) => expect(f.equals(expected[i]!)).toBe(true));
    },
  );

  it.each([
    ['64 × 4 KiB frames, larger than the 256 KiB slab', 64, 1024 * 1024, 4096],
    ['16 × 4 KiB frames cut at 64 KiB, four and a bit per slab', 64, 64 * 1024, 4096],
    ['64 × 256 B frames', 64, 64 * 1024, 256],
  ])('builds %s in place once warm: no frame is moved to a fresh slab', (_, maxEvents, maxBytes, size) => {
    const builder = new EventBatchBuilder(undefined, 16);
    builder.expectFrames(maxEvents, maxBytes);
    let offset = 0;
    let movedWhenWarm = -1;
    for (let frame = 0; frame < 40; frame++) {
      const payloads: Buffer[] = [];
      // Cut as Topic cuts: at maxEvents, or once maxBytes is reached.
      while (payloads.length < maxEvents && builder.payloadBytes < maxBytes) {
        const p = randomBytes(size);
        payloads.push(p);
        builder.add(p);
      }
      const bytes = builder.finish(offset);
      expect(bytes.equals(encodeSharedEventBatch(payloads, offset))).toBe(true);
      offset += payloads.length;
      // The first slabs are small and grow with use (a quiet stream must stay cheap): moves while warming up.
      if (frame === 4) movedWhenWarm = builder.movedBytes;
    }
    expect(builder.movedBytes).toBe(movedWhenWarm);
  });
});
