import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CacheTarget, encodeCacheLookup, encodeCachePut } from '../../wire/cache-request-writer.js';
import {
  cacheOkFrameBytes,
  cacheValueFrameBytes,
  measureAddress,
  newCacheAnswerSlot,
  newCacheRequestSlot,
  readCacheAnswer,
  readCacheRequest,
  writeCacheOkFrame,
  writeCacheValueFrame,
  type AddressLengths,
  type CacheRequestMessage,
} from '../../wire/cache-frames.js';
import { HEADER_BYTES, decodeMessage, encodeMessage, type Message } from '../../wire/index.js';

const address = { tenant_id: 't1', namespace: 'default', cache: 'primary' };
const keys = ['', 'k', 'x'.repeat(31), 'x'.repeat(32), 'y'.repeat(300), 'é'.repeat(40)];
const values = [null, 0, 1, 255, 256, 65_536].map((n) => (n === null ? null : Buffer.alloc(n, n & 0xff)));
const ids = [undefined, 0, 127, 128, 65_535, 65_536, 2 ** 32, 2 ** 40 + 3];

function payloadOf(frame: Buffer): Buffer {
  return frame.subarray(HEADER_BYTES);
}

/** The generic decoder's reading, or the error it gives. */
function generic(payload: Buffer): Message | Error {
  try {
    return decodeMessage(0x40, payload);
  } catch (error) {
    return error as Error;
  }
}

function slotAsMessage(slot: ReturnType<typeof newCacheRequestSlot>): Record<string, unknown> {
  const m: Record<string, unknown> = { type: slot.type, ...address };
  m.tenant_id = slot.tenant_id;
  m.namespace = slot.namespace;
  m.cache = slot.cache;
  m.key = slot.key;
  if (slot.type === 'cache_put') {
    m.value = Buffer.from(slot.value);
    m.ttl_ms = slot.ttl_ms;
  }
  if (slot.request_id !== undefined) m.request_id = slot.request_id;
  return m;
}

function normalise(message: Message): Record<string, unknown> {
  const m = { ...message } as Record<string, unknown>;
  if (m.value instanceof Uint8Array) m.value = Buffer.from(m.value);
  return m;
}

describe('cache answers written by hand', () => {
  it('writes cache_value byte for byte as the generic MessagePack codec does', () => {
    const lengths: AddressLengths = { tenant: 0, namespace: 0, cache: 0, key: 0 };
    for (const key of keys) {
      for (const value of values) {
        for (const id of ids) {
          const request: CacheRequestMessage = { type: 'cache_get', ...address, key, request_id: id };
          measureAddress(request, lengths);
          const bytes = cacheValueFrameBytes(lengths, value, id);
          const out = Buffer.alloc(bytes + 10, 0xee);
          const end = writeCacheValueFrame(out, 5, request, lengths, value);
          expect(end).toBe(5 + bytes);
          const expected: Message = { type: 'cache_value', ...address, key, value };
          if (id !== undefined) expected.request_id = id;
          expect(out.subarray(5, end).equals(encodeMessage(expected, { msgpack: true }))).toBe(true);
        }
      }
    }
  });

  it('writes cache_ok byte for byte as the generic codec does', () => {
    for (const id of ids) {
      if (id === undefined) continue;
      const out = Buffer.alloc(cacheOkFrameBytes(id));
      expect(writeCacheOkFrame(out, 0, id)).toBe(out.length);
      expect(out.equals(encodeMessage({ type: 'cache_ok', request_id: id }, { msgpack: true }))).toBe(true);
    }
  });
});

describe('cache requests read by hand', () => {
  const target = new CacheTarget('t1', 'default', 'primary');

  it("reads the client's requests as the generic codec does", () => {
    const slot = newCacheRequestSlot();
    for (const key of keys.filter((k) => Buffer.byteLength(k) === k.length)) {
      for (const id of ids.filter((i) => i !== undefined)) {
        for (const frame of [
          encodeCachePut(target, key, Buffer.from('value'), id, 1000, true),
          encodeCachePut(target, key, Buffer.alloc(0), id, null, true),
          encodeCacheLookup('cache_get', target, key, id, true),
          encodeCacheLookup('cache_delete', target, key, id, true),
        ]) {
          const payload = payloadOf(frame);
          expect(readCacheRequest(payload, slot)).toBe(true);
          expect(slotAsMessage(slot)).toEqual(normalise(generic(payload) as Message));
        }
      }
    }
  });

  it('reads a run of requests whose names repeat, change and share lengths as the generic codec does', () => {
    // The reader keeps the last tenant, namespace and cache it decoded and compares the next ones' bytes:
    // names of equal length that differ, names longer than it keeps, and the same name after another.
    const names = [
      't1',
      't2',
      'default',
      'defaulu',
      'primary',
      'primarz',
      'n'.repeat(64),
      'm'.repeat(65),
      'a',
    ];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            tenant: fc.constantFrom(...names),
            namespace: fc.constantFrom(...names),
            cache: fc.constantFrom(...names),
            key: fc.constantFrom('k', 'key-1', 'x'.repeat(40)),
            put: fc.boolean(),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (requests) => {
          const slot = newCacheRequestSlot();
          for (const [i, r] of requests.entries()) {
            const target = new CacheTarget(r.tenant, r.namespace, r.cache);
            const frame = r.put
              ? encodeCachePut(target, r.key, Buffer.from([i & 0xff]), i, null, true)
              : encodeCacheLookup('cache_get', target, r.key, i, true);
            expect(readCacheRequest(payloadOf(frame), slot)).toBe(true);
            expect(slotAsMessage(slot)).toEqual(normalise(generic(payloadOf(frame)) as Message));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads fields in any order and without request_id, as the generic codec does', () => {
    const slot = newCacheRequestSlot();
    const payload = pack({ type: 'cache_put', value: Buffer.from('v'), key: 'k', ...address, ttl_ms: 5 });
    expect(readCacheRequest(payload, slot)).toBe(true);
    expect(slotAsMessage(slot)).toEqual(normalise(generic(payload) as Message));
  });

  it('leaves every frame it cannot read without doubt to the generic codec', () => {
    const slot = newCacheRequestSlot();
    const cases: Record<string, unknown>[] = [
      { type: 'cache_get', ...address, key: 'é' }, // not ASCII
      { type: 'cache_get', ...address, key: 'k', extra: 1 }, // unknown field
      { type: 'cache_get', ...address }, // no key
      { type: 'cache_put', ...address, key: 'k' }, // put without value
      { type: 'cache_put', ...address, key: 'k', value: null },
      { type: 'cache_put', ...address, key: 'k', value: 'text' }, // str, not bin
      { type: 'cache_get', ...address, key: 'k', request_id: -1 },
      { type: 'cache_get', ...address, key: 'k', request_id: 1.5 },
      { type: 'cache_get', ...address, key: 'k', ttl_ms: 5 }, // ttl on a get
      { type: 'publish', ...address, key: 'k' },
      { ...address, key: 'k', type: 'cache_get' }, // type not first
    ];
    for (const wire of cases) {
      expect(readCacheRequest(pack(wire), slot), JSON.stringify(wire)).toBe(false);
    }
    const valid = payloadOf(encodeCacheLookup('cache_get', target, 'k', 1, true));
    expect(readCacheRequest(Buffer.concat([valid, Buffer.of(0)]), slot)).toBe(false); // trailing byte
    expect(readCacheRequest(valid.subarray(0, valid.length - 1), slot)).toBe(false); // truncated
  });

  it('accepts a mutated frame only when the generic codec reads it the same way', () => {
    const slot = newCacheRequestSlot();
    const seeds = [
      payloadOf(encodeCachePut(target, 'key-1', Buffer.from('value'), 300, 1000, true)),
      payloadOf(encodeCachePut(target, 'key-2', Buffer.alloc(40, 1), 70_000, null, true)),
      payloadOf(encodeCacheLookup('cache_get', target, 'key-3', 5, true)),
      payloadOf(encodeCacheLookup('cache_delete', target, 'key-4', 2 ** 33, true)),
    ];
    let random = 42;
    const next = (): number => (random = (random * 1103515245 + 12345) & 0x7fffffff);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const payload = Buffer.from(seeds[i % seeds.length]!);
      for (let flips = 1 + (next() % 3); flips > 0; flips--) payload[next() % payload.length] = next() & 0xff;
      if (!readCacheRequest(payload, slot)) continue;
      accepted++;
      const decoded = generic(payload);
      expect(decoded).not.toBeInstanceOf(Error);
      expect(slotAsMessage(slot)).toEqual(normalise(decoded as Message));
    }
    expect(accepted).toBeGreaterThan(100);
  });
});

describe('cache answers read by hand', () => {
  it('reads cache_value and cache_ok as the generic codec does', () => {
    const slot = newCacheAnswerSlot();
    for (const value of values) {
      const frame = encodeMessage(
        { type: 'cache_value', ...address, key: 'k', value, request_id: 77 },
        { msgpack: true },
      );
      expect(readCacheAnswer(payloadOf(frame), slot)).toBe(true);
      expect(slot.type).toBe('cache_value');
      expect(slot.request_id).toBe(77);
      expect(slot.value === null ? null : Buffer.from(slot.value)).toEqual(value);
    }
    const ok = encodeMessage({ type: 'cache_ok', request_id: 2 ** 40 }, { msgpack: true });
    expect(readCacheAnswer(payloadOf(ok), slot)).toBe(true);
    expect(slot).toMatchObject({ type: 'cache_ok', request_id: 2 ** 40, value: null });
  });

  it('leaves errors and answers without request_id to the generic codec', () => {
    const slot = newCacheAnswerSlot();
    const frames: Message[] = [
      { type: 'error', message: 'no', request_id: 3 },
      { type: 'cache_value', ...address, key: 'k', value: null },
      { type: 'ok' },
    ];
    for (const message of frames) {
      expect(readCacheAnswer(payloadOf(encodeMessage(message, { msgpack: true })), slot)).toBe(false);
    }
    expect(readCacheAnswer(pack({ type: 'cache_ok', request_id: 1, more: 2 }), slot)).toBe(false);
  });
});
