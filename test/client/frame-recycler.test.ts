import { describe, expect, it } from 'vitest';
import { FrameRecycler, RECYCLED_FROM_BYTES, RECYCLED_UP_TO_BYTES } from '../../client/frame-recycler.js';
import { HEADER_BYTES, readFrameHeader } from '../../wire/index.js';

const FLAGS = 0x40;

describe('FrameRecycler', () => {
  it('makes frames of the exact length with their header, whatever buffer they live in', () => {
    const recycler = new FrameRecycler(1 << 20);
    for (const payload of [10, RECYCLED_FROM_BYTES, 5000, 70_000, RECYCLED_UP_TO_BYTES + 1]) {
      const frame = recycler.frame(FLAGS, payload);
      expect(frame.length).toBe(HEADER_BYTES + payload);
      expect(readFrameHeader(frame)).toMatchObject({ flags: FLAGS, length: payload });
    }
  });

  it('gives a recycled buffer to the next frame of its size class, and only then', () => {
    const recycler = new FrameRecycler(1 << 20);
    const first = recycler.frame(FLAGS, 5000);
    const whileLent = recycler.frame(FLAGS, 5000);
    expect(whileLent.buffer).not.toBe(first.buffer);
    recycler.recycle(first);
    expect(recycler.bytes).toBe(8192);
    const otherClass = recycler.frame(FLAGS, 20_000);
    expect(otherClass.buffer).not.toBe(first.buffer);
    const sameClass = recycler.frame(FLAGS, 6000);
    expect(sameClass.buffer).toBe(first.buffer);
    expect(recycler.bytes).toBe(0);
  });

  it('takes a frame back once: a second recycle of it, or of a foreign or small frame, is ignored', () => {
    const recycler = new FrameRecycler(1 << 20);
    const frame = recycler.frame(FLAGS, 5000);
    recycler.recycle(frame);
    recycler.recycle(frame);
    recycler.recycle(Buffer.alloc(8192));
    recycler.recycle(recycler.frame(FLAGS, 100));
    expect(recycler.bytes).toBe(8192);
    const a = recycler.frame(FLAGS, 5000);
    const b = recycler.frame(FLAGS, 5000);
    expect(a.buffer).toBe(frame.buffer);
    expect(b.buffer).not.toBe(frame.buffer);
  });

  it('keeps at most maxBytes for reuse', () => {
    const recycler = new FrameRecycler(3 * 8192);
    const frames = Array.from({ length: 5 }, () => recycler.frame(FLAGS, 5000));
    for (const f of frames) recycler.recycle(f);
    expect(recycler.bytes).toBe(3 * 8192);
  });
});
