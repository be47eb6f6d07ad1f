import { describe, expect, it } from 'vitest';
import { CacheTarget, encodeCacheLookup, encodeCachePut } from '../../wire/cache-request-writer.js';
import { FLAG_MSGPACK, decodeWholeFrame, encodeMessage, type Message } from '../../wire/index.js';

const target = new CacheTarget('t1', 'default', 'primary');
const address = { tenant_id: 't1', namespace: 'default', cache: 'primary' };

// Lengths on either side of every MessagePack size boundary the encoder branches on.
const keys = ['', 'k', 'x'.repeat(31), 'x'.repeat(32), 'é'.repeat(128), 'y'.repeat(70_000)];
const values = [0, 1, 255, 256, 65_535, 65_536].map((n) => Buffer.alloc(n, n & 0xff));
const numbers = [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3];

describe('cache frames', () => {
  it('encodes cache_put byte for byte as the generic MessagePack codec does', () => {
    for (const key of keys) {
      for (const value of values) {
        for (const ttl of [null, ...numbers]) {
          const id = numbers[(key.length + value.length) % numbers.length]!;
          const message: Message = { type: 'cache_put', ...address, key, value, request_id: id, ttl_ms: ttl };
          const frame = encodeCachePut(target, key, value, id, ttl, true);
          expect(
            frame.equals(encodeMessage(message, { msgpack: true })),
            `${key.length}/${value.length}`,
          ).toBe(true);
        }
      }
    }
  });

  it('encodes cache_get and cache_delete byte for byte as the generic codec does', () => {
    for (const type of ['cache_get', 'cache_delete'] as const) {
      for (const key of keys) {
        for (const id of numbers) {
          const frame = encodeCacheLookup(type, target, key, id, true);
          const expected = encodeMessage({ type, ...address, key, request_id: id }, { msgpack: true });
          expect(frame.equals(expected)).toBe(true);
        }
      }
    }
  });

  it('uses JSON towards a broker without MessagePack, values in base64', () => {
    const frame = encodeCachePut(target, 'k', Buffer.from('cached'), 8, 1000, false);
    const { flags, payload } = decodeWholeFrame(frame);
    expect(flags).toBe(0);
    expect(Buffer.from(payload).toString()).toBe(
      '{"type":"cache_put","tenant_id":"t1","namespace":"default","cache":"primary","key":"k",' +
        '"value":"Y2FjaGVk","request_id":8,"ttl_ms":1000}',
    );
    expect(decodeWholeFrame(encodeCacheLookup('cache_get', target, 'k', 9, false)).flags).toBe(0);
  });

  it('reuses the encoded address across requests to the same cache', () => {
    expect(target.prefix('cache_get')).toBe(target.prefix('cache_get'));
    expect(decodeWholeFrame(encodeCacheLookup('cache_get', target, 'k', 1, true)).flags).toBe(FLAG_MSGPACK);
  });
});
