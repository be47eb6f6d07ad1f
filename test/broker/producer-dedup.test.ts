import { describe, expect, it } from 'vitest';
import { ProducerDedup, WINDOW_SEQUENCES } from '../../broker/core/producer-dedup.js';

function dedup(windowMs = 1000, maxProducers = 100): ProducerDedup {
  return new ProducerDedup({ windowMs, maxProducers }, 0);
}

/** Offers `sequence` as the publish path does: a duplicate is reported, anything else recorded. */
function offer(d: ProducerDedup, sequence: number, producer = 7, tenant = 't1'): 'new' | 'duplicate' {
  const state = d.producer(tenant, producer)!;
  if (state.has(sequence)) return 'duplicate';
  state.add(sequence);
  return 'new';
}

describe('ProducerDedup', () => {
  it('accepts each sequence once, in order', () => {
    const d = dedup();
    expect([1, 2, 3].map((s) => offer(d, s))).toEqual(['new', 'new', 'new']);
    expect([1, 2, 3].map((s) => offer(d, s))).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(offer(d, 4)).toBe('new');
  });

  it('accepts sequences out of order within the window, each once', () => {
    const d = dedup();
    const order = [3, 1, 5, 2, 4, 3, 5, 6, 1];
    expect(order.map((s) => offer(d, s))).toEqual([
      'new',
      'new',
      'new',
      'new',
      'new',
      'duplicate',
      'duplicate',
      'new',
      'duplicate',
    ]);
  });

  it('a producer first seen mid-stream (after a restart) takes the gap below it as not yet seen', () => {
    const d = dedup();
    expect(offer(d, 1001)).toBe('new');
    expect(offer(d, 1000)).toBe('new');
    expect(offer(d, 1001)).toBe('duplicate');
  });

  it('counts what lies more than the window below the newest sequence as settled', () => {
    const d = dedup();
    expect(offer(d, 2)).toBe('new'); // 1 is missing: out of order from here
    const far = 2 + WINDOW_SEQUENCES + 10;
    expect(offer(d, far)).toBe('new');
    expect(offer(d, 1)).toBe('duplicate'); // slid below the window
    expect(offer(d, far - 1)).toBe('new'); // still inside it
    expect(offer(d, far - 1)).toBe('duplicate');
    expect(offer(d, 2)).toBe('duplicate');
  });

  it('keeps producers apart, and never lets another tenant use (or suppress with) a producer id', () => {
    const d = dedup();
    expect(offer(d, 1, 7)).toBe('new');
    expect(offer(d, 1, 8)).toBe('new');
    expect(d.producer('t2', 7)).toBeUndefined();
    expect(offer(d, 1, 7)).toBe('duplicate');
  });

  it('forgets a producer idle for longer than the window', () => {
    const d = dedup(1000);
    offer(d, 1, 7);
    d.sweep(500);
    offer(d, 1, 8); // touched at 500
    d.sweep(1200); // 7 was last used at 0: gone; 8 at 500: kept
    expect(d.size).toBe(1);
    expect(offer(d, 1, 8)).toBe('duplicate');
    expect(offer(d, 1, 7)).toBe('new');
  });

  it('a producer in use stays, however long it has existed', () => {
    const d = dedup(1000);
    for (let t = 0; t <= 5000; t += 250) {
      d.sweep(t);
      expect(offer(d, t / 250 + 1)).toBe('new');
    }
    expect(d.size).toBe(1);
  });

  it('past maxProducers, the tenant holding the most forgets its own: another tenant keeps its producers', () => {
    const d = dedup(60_000, 100);
    expect(d.producer('victim', 1)!.has(1)).toBe(false);
    d.producer('victim', 1)!.add(1);
    // Another tenant creates producers without end (each acked publish with a new producer id).
    for (let id = 1000; id < 1000 + 10_000; id++) d.producer('flooder', id)!.add(1);
    expect(d.size).toBe(100);
    expect(d.producer('victim', 1)!.has(1)).toBe(true);
    // The flooder kept its most recent ones.
    expect(d.producer('flooder', 1000 + 9_999)!.has(1)).toBe(true);
    expect(d.producer('flooder', 1000)!.has(1)).toBe(false);
  });

  it('holds at most maxProducers, forgetting the least recently used first', () => {
    const d = dedup(60_000, 3);
    for (const [i, producer] of [1, 2, 3].entries()) {
      d.sweep(i * 250);
      offer(d, 1, producer);
    }
    d.sweep(1000);
    offer(d, 2, 1); // 1 is used again: 2 is now the least recently used
    offer(d, 1, 4);
    expect(d.size).toBe(3);
    expect(offer(d, 1, 2)).toBe('new'); // forgotten
    expect(offer(d, 2, 1)).toBe('duplicate');
  });
});
