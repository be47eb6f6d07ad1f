import { describe, expect, it } from 'vitest';
import { WorkerPicker, streamHash } from '../../client/sharding.js';

const names = Array.from({ length: 2000 }, (_, i) => `stream-${i}`);

describe('hash_stream sharding', () => {
  it('sends every publish to one stream through the same worker', () => {
    const picker = new WorkerPicker('hash_stream', 8);
    for (const name of names.slice(0, 50)) {
      const first = picker.pick(streamHash('t1', 'default', name));
      for (let i = 0; i < 5; i++) expect(picker.pick(streamHash('t1', 'default', name))).toBe(first);
    }
  });

  it('is a function of tenant, namespace and stream only (a fresh picker agrees)', () => {
    const a = new WorkerPicker('hash_stream', 8);
    const b = new WorkerPicker('hash_stream', 8);
    b.pick(streamHash('t1', 'default', 'warm-up'));
    for (const name of names.slice(0, 50)) {
      const hash = streamHash('t1', 'default', name);
      expect(a.pick(hash)).toBe(b.pick(hash));
    }
  });

  it('spreads streams over all workers, none starved or overloaded', () => {
    const picker = new WorkerPicker('hash_stream', 8);
    const counts = new Array<number>(8).fill(0);
    for (const name of names) counts[picker.pick(streamHash('t1', 'default', name))]!++;
    // 250 expected per worker; a usable hash stays well within a factor of two.
    for (const count of counts) {
      expect(count).toBeGreaterThan(125);
      expect(count).toBeLessThan(500);
    }
  });

  it('keeps the name boundaries: moving a character between names changes the hash', () => {
    expect(streamHash('t1', 'ab', 'c')).not.toBe(streamHash('t1', 'a', 'bc'));
    expect(streamHash('t', '1ab', 'c')).not.toBe(streamHash('t1', 'ab', 'c'));
    expect(streamHash('t1', 'default', 'x')).not.toBe(streamHash('t2', 'default', 'x'));
  });
});

describe('rr sharding', () => {
  it('rotates through every worker regardless of the stream', () => {
    const picker = new WorkerPicker('rr', 3);
    const hash = streamHash('t1', 'default', 'hot');
    expect([0, 1, 2, 3, 4, 5, 6].map(() => picker.pick(hash))).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });
});
