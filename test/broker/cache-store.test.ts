import { describe, expect, it } from 'vitest';
import { CacheStore, ENTRY_OVERHEAD_BYTES } from '../../broker/core/cache-store.js';

function store(maxBytes = 1 << 20, clock = { t: 0 }) {
  const s = new CacheStore(
    {
      cacheMaxBytes: maxBytes,
      cacheMaxKeyBytes: 1024,
      cacheMaxValueBytes: 1 << 16,
      cacheExpiryKeysPerTick: 2,
      cacheExpiryTickMs: 100,
    },
    { cacheAllowed: () => ({ ok: true, value: true }) },
    () => clock.t,
  );
  return { s, clock };
}

describe('CacheStore', () => {
  it('expires lazily on read once the TTL passed', () => {
    const { s, clock } = store();
    s.put('k', Buffer.from('v'), 500);
    clock.t = 499;
    expect(s.get('k')?.toString()).toBe('v');
    clock.t = 500;
    expect(s.get('k')).toBeNull();
    expect(s.expirations).toBe(1);
    expect(s.size).toBe(0);
  });

  it('expires actively with bounded work per tick, soonest first, skipping renewed keys', () => {
    const { s, clock } = store();
    for (let i = 0; i < 5; i++) s.put(`k${i}`, Buffer.from('v'), 100 + i);
    s.put('k0', Buffer.from('renewed'), 10_000); // its old deadline must not remove it
    clock.t = 1000;
    expect(s.expireSome(2)).toBe(2);
    expect(s.size).toBe(3);
    expect(s.expireSome(10)).toBe(2);
    expect(s.size).toBe(1);
    expect(s.get('k0')?.toString()).toBe('renewed');
  });

  it('deletes and reports whether the key existed', () => {
    const { s } = store();
    s.put('k', Buffer.from('v'), null);
    expect(s.delete('k')?.toString()).toBe('v');
    expect(s.delete('k')).toBeNull();
    expect(s.get('k')).toBeNull();
  });

  it('evicts from the tenant holding the most bytes, least recently used first within it', () => {
    const entry = ENTRY_OVERHEAD_BYTES + 2 + 100; // key "kN" + 100-byte value
    const { s } = store(entry * 6);
    s.put('a1', Buffer.alloc(100), null, 'a');
    s.put('a2', Buffer.alloc(100), null, 'a');
    for (let i = 0; i < 4; i++) s.put(`b${i}`, Buffer.alloc(100), null, 'b');
    // Full. b holds 4, a 2: b's oldest goes, though a's are older.
    s.put('b4', Buffer.alloc(100), null, 'b');
    expect(s.get('b0')).toBeNull();
    expect(s.get('a1')).not.toBeNull();
    // a grows: b (4 of 7) still holds the most and pays; then a (4 of 7) does, its least recently used
    // first (a2: a1 was read since).
    s.put('a3', Buffer.alloc(100), null, 'a');
    expect(s.get('b1')).toBeNull();
    s.put('a4', Buffer.alloc(100), null, 'a');
    expect(s.get('a2')).toBeNull();
    expect(s.bytes).toBeLessThanOrEqual(entry * 6);
    for (const k of ['a1', 'a3', 'a4', 'b2', 'b3', 'b4']) expect(s.get(k), k).not.toBeNull();
    expect(s.evictions).toBe(3);
    // Only the entry just put left in its tenant: the next largest pays instead.
    const { s: t } = store(entry * 2);
    t.put('x1', Buffer.alloc(100), null, 'x');
    t.put('y1', Buffer.alloc(100), null, 'y');
    t.put('z1', Buffer.alloc(100), null, 'z');
    expect(t.get('z1')).not.toBeNull();
    expect(t.evictions).toBe(1);
  });

  it('evicts least recently used entries first to stay under the byte bound', () => {
    const entry = ENTRY_OVERHEAD_BYTES + 2 + 100; // key "kN" + 100-byte value
    const { s } = store(entry * 3);
    s.put('k1', Buffer.alloc(100), null);
    s.put('k2', Buffer.alloc(100), null);
    s.put('k3', Buffer.alloc(100), null);
    s.get('k1'); // k2 is now the least recently used
    s.put('k4', Buffer.alloc(100), null);
    expect(s.get('k2')).toBeNull();
    expect(s.get('k1')).not.toBeNull();
    expect(s.get('k3')).not.toBeNull();
    expect(s.get('k4')).not.toBeNull();
    expect(s.evictions).toBe(1);
    expect(s.bytes).toBeLessThanOrEqual(entry * 3);
  });

  it('counts keys, values and overhead, and keeps an own copy of the value', () => {
    const { s } = store();
    const scratch = Buffer.from('abcd');
    s.put('key', scratch, null);
    scratch.fill(0);
    expect(s.get('key')?.toString()).toBe('abcd');
    expect(s.bytes).toBe(3 + 4 + ENTRY_OVERHEAD_BYTES);
    s.put('key', Buffer.alloc(10), null);
    expect(s.bytes).toBe(3 + 10 + ENTRY_OVERHEAD_BYTES);
  });

  it('keeps neither evicted values nor an unbounded expiry heap when TTL puts overflow the byte cap', () => {
    const { s } = store(64 * 1024);
    const value = Buffer.alloc(1024, 7);
    // An hour's TTL: nothing expires during the test, so only eviction and compaction can bound the heap.
    for (let i = 0; i < 20_000; i++) s.put(`key-${i}`, value, 3_600_000);
    expect(s.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(s.evictions).toBeGreaterThan(19_000);
    expect(s.expiryQueueLength).toBeLessThanOrEqual(Math.max(1024, 2 * s.size) + 1);
    // Replacing one key again and again is the same story.
    for (let i = 0; i < 5_000; i++) s.put('hot', value, 3_600_000);
    expect(s.expiryQueueLength).toBeLessThanOrEqual(Math.max(1024, 2 * s.size) + 1);
    expect(s.get('hot')?.length).toBe(1024);
  });

  it('still expires soonest first after a compaction', () => {
    const { s, clock } = store(1 << 30);
    for (let i = 0; i < 3000; i++) s.put(`k${i % 1000}`, Buffer.from('v'), 10_000 - (i % 1000));
    clock.t = 9_500;
    // Deadlines 9001..10000 for the live keys: exactly those at or below 9,500 go.
    expect(s.expireSome(10_000)).toBe(500);
    expect(s.size).toBe(500);
  });

  it('a put without TTL over an entry with one keeps it past the old deadline', () => {
    const { s, clock } = store();
    s.put('k', Buffer.from('short'), 100);
    s.put('k', Buffer.from('kept'), null);
    clock.t = 1000;
    expect(s.expireSome(10)).toBe(0);
    expect(s.get('k')?.toString()).toBe('kept');
  });
});
