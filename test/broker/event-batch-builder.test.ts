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
});
