import { describe, expect, it } from 'vitest';
import {
  EVENT_STAMP_BYTES,
  PUBLISH_STAMP_BYTES,
  decodeBinaryPublishBatch,
  decodeEventBatch,
  decodeWholeFrame,
  encodeBinaryPublishBatch,
  encodeEventStampPrefix,
  encodeSharedEventBatch,
  monotonicNs,
  readStamp,
  writeEventStampPrefix,
  EVENT_STAMP_PREFIX_BYTES,
  writeStamp,
} from '../../wire/index.js';

const batch = {
  tenant_id: 't1',
  namespace: 'ns',
  stream: 's',
  payloads: [Buffer.from('a'), Buffer.from('bc')],
};

describe('TIMINGS stamps', () => {
  it('adds exactly an 8-byte send stamp to a publish batch, and nothing without it', () => {
    const plain = encodeBinaryPublishBatch(batch);
    const stamped = encodeBinaryPublishBatch({ ...batch, send_ns: 123_456_789_012 });
    expect(stamped.length - plain.length).toBe(PUBLISH_STAMP_BYTES);
    const frame = decodeWholeFrame(stamped);
    expect(frame.flags).toBe(0x81);
    const decoded = decodeBinaryPublishBatch(frame.flags, frame.payload);
    expect(decoded.send_ns).toBe(123_456_789_012);
    expect(decoded.payloads.map((p) => Buffer.from(p).toString())).toEqual(['a', 'bc']);
    expect(decodeBinaryPublishBatch(0x01, decodeWholeFrame(plain).payload).send_ns).toBeUndefined();
  });

  it('turns a shared event batch into its stamped form with a new header and a trailing block only', () => {
    const shared = encodeSharedEventBatch([Buffer.from('x'), Buffer.from('yz')], 40);
    const prefix = encodeEventStampPrefix(shared, 1, 2, 3, 4);
    expect(prefix.length).toBe(EVENT_STAMP_PREFIX_BYTES);
    const stamped = Buffer.concat([prefix, shared.subarray(12)]);
    expect(stamped.length - shared.length).toBe(EVENT_STAMP_BYTES);
    const frame = decodeWholeFrame(stamped);
    expect(frame.flags).toBe(0xa4);
    const decoded = decodeEventBatch(frame.flags, frame.payload);
    expect(decoded.base_offset).toBe(40);
    expect(decoded.payloads.map((p) => Buffer.from(p).toString())).toEqual(['x', 'yz']);
    expect(decoded.stamps).toEqual({ send_ns: 1, decode_ns: 2, enqueue_ns: 3, write_ns: 4 });
  });

  it('writes the same prefix into a reused buffer, leaving the shared frame untouched', () => {
    const shared = encodeSharedEventBatch([Buffer.from('x')], 7);
    const before = Buffer.from(shared);
    const scratch = Buffer.alloc(EVENT_STAMP_PREFIX_BYTES, 0xee);
    writeEventStampPrefix(scratch, shared, 5, 6, 7, 8);
    expect(scratch).toEqual(encodeEventStampPrefix(shared, 5, 6, 7, 8));
    expect(shared).toEqual(before);
    writeEventStampPrefix(scratch, shared, 9, 10, 11, 2 ** 40 + 3);
    const decoded = decodeEventBatch(0xa4, Buffer.concat([scratch, shared.subarray(12)]).subarray(12));
    expect(decoded.stamps).toEqual({ send_ns: 9, decode_ns: 10, enqueue_ns: 11, write_ns: 2 ** 40 + 3 });
  });

  it('keeps stamps of years of uptime to within nanoseconds, and reads the clock as it moves', () => {
    const buf = Buffer.alloc(8);
    const yearNs = 365 * 24 * 3600 * 1e9 + 987_654_321;
    writeStamp(buf, 0, yearNs);
    expect(Math.abs(readStamp(buf, 0) - yearNs)).toBeLessThanOrEqual(8);
    const a = monotonicNs();
    const b = monotonicNs();
    expect(b).toBeGreaterThan(a);
  });

  it('rejects a stamped frame too short for its block', () => {
    expect(() => decodeEventBatch(0xa4, Buffer.alloc(10))).toThrow(/stamp block/);
  });
});
