import { describe, expect, it, vi } from 'vitest';
import { ByteReader } from '../../wire/bytes.js';
import {
  decodeBinaryPublishAck,
  decodeBinaryPublishBatch,
  decodeEventBatch,
  decodeFramePayload,
  decodeWholeFrame,
  encodeBinaryPublishAck,
  encodeBinaryPublishBatch,
  encodeEventBatch,
  encodeSharedEventBatch,
  FLAG_BINARY_EVENT_BATCH,
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_BINARY_PUBLISH_ACKED,
  FLAG_BINARY_PUBLISH_BATCH,
  FLAG_EVENT_BATCH_OFFSETS,
} from '../../wire/index.js';
import { expectWireError, normalize } from './helpers.js';

/** Bytes written out by hand from the layouts in docs/protocol.md, independent of the encoder. */
const be = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const header = (flags: number, length: number) =>
  `464c5831 0001 ${flags.toString(16).padStart(4, '0')} ${length.toString(16).padStart(8, '0')}`;
const text = (value: string) => Buffer.from(value).toString('hex');

describe('event batch layouts', () => {
  const payloads = [Buffer.from('a'), Buffer.from('bc')];
  // count 2, then (len 1, "a"), (len 2, "bc")
  const list = `00000002 00000001 ${text('a')} 00000002 ${text('bc')}`;

  it('per-subscription batch (0x02) matches the layout byte for byte', () => {
    const expected = be(`${header(0x02, 8 + 15)} 0000000000000007 ${list}`);
    expect(encodeEventBatch(7, payloads)).toEqual(expected);
  });

  it('per-subscription batch with offsets (0x22) puts base_offset after the subscription id', () => {
    const expected = be(`${header(0x22, 16 + 15)} 0000010000000007 000000000000002a ${list}`);
    expect(encodeEventBatch(2 ** 40 + 7, payloads, 42)).toEqual(expected);
  });

  it('shared batch (0x04) has no subscription id', () => {
    expect(encodeSharedEventBatch(payloads)).toEqual(be(`${header(0x04, 15)} ${list}`));
  });

  it('shared batch with offsets (0x24)', () => {
    expect(encodeSharedEventBatch(payloads, 2 ** 53 - 1)).toEqual(
      be(`${header(0x24, 8 + 15)} 001fffffffffffff ${list}`),
    );
  });

  it.each([
    ['0x02', (p: Buffer[]) => encodeEventBatch(3, p), { subscription_id: 3 }],
    ['0x22', (p: Buffer[]) => encodeEventBatch(3, p, 9), { subscription_id: 3, base_offset: 9 }],
    ['0x04', (p: Buffer[]) => encodeSharedEventBatch(p), {}],
    ['0x24', (p: Buffer[]) => encodeSharedEventBatch(p, 0), { base_offset: 0 }],
  ])('%s round-trips, empty payloads included', (_flags, encode, fields) => {
    for (const batch of [
      [],
      [Buffer.alloc(0)],
      [Buffer.from('x'), Buffer.alloc(0), Buffer.alloc(70_000, 7)],
    ]) {
      const frame = decodeWholeFrame(encode(batch));
      expect(normalize(decodeFramePayload(frame.flags, frame.payload))).toEqual(
        normalize({ type: 'binary_event_batch', ...fields, payloads: batch }),
      );
    }
  });

  it('one shared Buffer decodes the same for every subscriber, and payloads are views into it', () => {
    const shared = encodeSharedEventBatch(payloads, 5);
    const first = decodeEventBatch(
      FLAG_BINARY_EVENT_BATCH_SHARED | FLAG_EVENT_BATCH_OFFSETS,
      shared.subarray(12),
    );
    const second = decodeEventBatch(
      FLAG_BINARY_EVENT_BATCH_SHARED | FLAG_EVENT_BATCH_OFFSETS,
      shared.subarray(12),
    );
    expect(normalize(first)).toEqual(normalize(second));
    expect(first.payloads[1].buffer).toBe(shared.buffer);
  });
});

describe('publish batch layouts', () => {
  const body = `0002 ${text('t1')} 0007 ${text('default')} 0004 ${text('demo')} 00000001 00000005 ${text('hello')}`;
  const batch = { tenant_id: 't1', namespace: 'default', stream: 'demo', payloads: [Buffer.from('hello')] };

  it('plain batch (0x01) matches the layout', () => {
    expect(encodeBinaryPublishBatch(batch)).toEqual(be(`${header(0x01, 32)} ${body}`));
  });

  it('acked batch (0x09) prefixes request id and ack mode (1 per_message, 2 per_batch)', () => {
    expect(encodeBinaryPublishBatch({ ...batch, request_id: 258, ack: 'per_message' })).toEqual(
      be(`${header(0x09, 41)} 0000000000000102 01 ${body}`),
    );
    expect(encodeBinaryPublishBatch({ ...batch, request_id: 258, ack: 'per_batch' })).toEqual(
      be(`${header(0x09, 41)} 0000000000000102 02 ${body}`),
    );
  });

  it('acked batch with PRODUCER (0x0109) puts producer_id and sequence after the ack byte', () => {
    const producer = {
      ...batch,
      request_id: 258,
      ack: 'per_batch' as const,
      producer_id: 2 ** 53 - 1,
      sequence: 5,
    };
    const expected = be(
      `${header(0x0109, 57)} 0000000000000102 02 001fffffffffffff 0000000000000005 ${body}`,
    );
    expect(encodeBinaryPublishBatch(producer)).toEqual(expected);
    const frame = decodeWholeFrame(expected);
    expect(normalize(decodeFramePayload(frame.flags, frame.payload))).toEqual(
      normalize({ type: 'publish_batch', ...producer }),
    );
    // With TIMINGS the stamp block still trails the body.
    const stamped = decodeWholeFrame(encodeBinaryPublishBatch({ ...producer, send_ns: 99 }));
    expect(stamped.flags).toBe(0x0189);
    expect(decodeFramePayload(stamped.flags, stamped.payload)).toMatchObject({
      producer_id: 2 ** 53 - 1,
      sequence: 5,
      send_ns: 99,
    });
  });

  it('refuses PRODUCER fields that cannot be sent, and producer 0 on decode naming the request', () => {
    expectWireError(() => encodeBinaryPublishBatch({ ...batch, producer_id: 1, sequence: 1 }), 'malformed');
    expectWireError(
      () => encodeBinaryPublishBatch({ ...batch, request_id: 1, ack: 'per_message', producer_id: 1 }),
      'malformed',
    );
    const zero = be(`0000000000000009 01 0000000000000000 0000000000000001 ${body}`);
    const error = expectWireError(() => decodeFramePayload(0x0109, zero), 'malformed');
    expect(error.requestId).toBe(9);
    // A prefix cut short inside the producer fields still names the request.
    const short = be(`0000000000000009 01 0000000000000003`);
    expect(expectWireError(() => decodeFramePayload(0x0109, short), 'truncated').requestId).toBe(9);
  });

  it('round-trips names in UTF-8, empty batches and zero-length payloads', () => {
    for (const input of [
      { tenant_id: 'tenant-ü', namespace: '名前', stream: '', payloads: [] },
      {
        tenant_id: 't',
        namespace: 'n',
        stream: 's',
        payloads: [Buffer.alloc(0), Buffer.from([1])],
        request_id: 1,
        ack: 'per_batch' as const,
      },
    ]) {
      const frame = decodeWholeFrame(encodeBinaryPublishBatch(input));
      expect(normalize(decodeBinaryPublishBatch(frame.flags, frame.payload))).toEqual(
        normalize({ type: 'publish_batch', ...input }),
      );
    }
  });

  it('ack none is the plain layout; request ids need an ack mode and vice versa', () => {
    expect(encodeBinaryPublishBatch({ ...batch, ack: 'none' })).toEqual(encodeBinaryPublishBatch(batch));
    expectWireError(() => encodeBinaryPublishBatch({ ...batch, request_id: 1 }), 'malformed');
    expectWireError(() => encodeBinaryPublishBatch({ ...batch, ack: 'per_batch' }), 'malformed');
  });

  it('refuses names longer than a u16 length can say', () => {
    expectWireError(
      () => encodeBinaryPublishBatch({ ...batch, stream: 'x'.repeat(65_536) }),
      'field_too_long',
    );
    expect(() => encodeBinaryPublishBatch({ ...batch, stream: 'x'.repeat(65_535) })).not.toThrow();
  });

  it('names the request id when an acked batch has a bad body', () => {
    const acked = be(`0000000000000063 02 0002 ${text('t1')} 0009`);
    const error = expectWireError(() => decodeBinaryPublishBatch(0x09, acked), 'truncated');
    expect(error.requestId).toBe(99);
    expect(
      expectWireError(() => decodeBinaryPublishBatch(0x09, be('0000000000000063 07')), 'malformed').requestId,
    ).toBe(99);
  });

  it('rejects invalid UTF-8 names', () => {
    expectWireError(() => decodeBinaryPublishBatch(0x01, be(`0002 fffe 0000 0000 00000000`)), 'malformed');
  });
});

describe('publish ack layout', () => {
  it('matches the layout and round-trips', () => {
    expect(encodeBinaryPublishAck({ type: 'publish_error', request_id: 9, message: 'no' })).toEqual(
      be(`${header(0x10, 13)} 01 0000000000000009 0002 ${text('no')}`),
    );
    expect(decodeBinaryPublishAck(be('00 0000000000000007 0000'))).toEqual({
      type: 'publish_ok',
      request_id: 7,
    });
  });

  it('ignores bytes after the message (as Felix), rejects unknown statuses', () => {
    expect(decodeBinaryPublishAck(be('00 0000000000000007 0000 ffff'))).toEqual({
      type: 'publish_ok',
      request_id: 7,
    });
    expect(
      expectWireError(() => decodeBinaryPublishAck(be('02 0000000000000007 0000')), 'malformed').requestId,
    ).toBe(7);
  });
});

describe('hostile counts and lengths', () => {
  it.each([
    ['event batch', FLAG_BINARY_EVENT_BATCH, be('0000000000000001 ffffffff')],
    ['shared batch', FLAG_BINARY_EVENT_BATCH_SHARED, be('ffffffff 00000000')],
    [
      'publish batch',
      FLAG_BINARY_PUBLISH_BATCH,
      be(`0001 ${text('t')} 0001 ${text('n')} 0001 ${text('s')} ffffffff`),
    ],
  ])('a %s claiming 2^32 - 1 payloads in a tiny frame fails as truncated', (_what, flags, payload) => {
    expectWireError(() => decodeFramePayload(flags, payload), 'truncated');
  });

  it('a hostile count fails before a single item is read or allocated for', () => {
    // 2^32 - 1 claimed, then 22 well-formed empty items: an unbounded loop would read them all first.
    const payload = Buffer.concat([be('ffffffff'), Buffer.alloc(88)]);
    const u32 = vi.spyOn(ByteReader.prototype, 'u32');
    try {
      expectWireError(() => decodeEventBatch(FLAG_BINARY_EVENT_BATCH_SHARED, payload), 'truncated');
      expect(u32).toHaveBeenCalledTimes(1);
    } finally {
      u32.mockRestore();
    }
  });

  it('the count bound rejects only counts the frame cannot hold', () => {
    // Three zero-length payloads need exactly 3 × 4 bytes after the count.
    expect(
      decodeEventBatch(FLAG_BINARY_EVENT_BATCH_SHARED, be('00000003 00000000 00000000 00000000')).payloads,
    ).toHaveLength(3);
    expectWireError(
      () => decodeEventBatch(FLAG_BINARY_EVENT_BATCH_SHARED, be('00000004 00000000 00000000 00000000')),
      'truncated',
    );
  });

  it.each([
    ['a payload length past the end', FLAG_BINARY_EVENT_BATCH_SHARED, be('00000001 ffffffff 00')],
    ['a length prefix cut short', FLAG_BINARY_EVENT_BATCH_SHARED, be('00000001 0000')],
    ['a name length past the end', FLAG_BINARY_PUBLISH_BATCH, be('fff0 74')],
  ])('%s fails as truncated', (_what, flags, payload) => {
    expectWireError(() => decodeFramePayload(flags, payload), 'truncated');
  });

  it('a u64 above 2^53 - 1 is rejected rather than rounded', () => {
    expectWireError(
      () => decodeEventBatch(FLAG_BINARY_EVENT_BATCH, be('0020000000000000 00000000')),
      'malformed',
    );
  });

  it('bytes after the last payload are rejected', () => {
    expectWireError(() => decodeEventBatch(FLAG_BINARY_EVENT_BATCH_SHARED, be('00000000 00')), 'malformed');
  });

  it('flag combinations without a layout are typed errors', () => {
    expectWireError(() => decodeFramePayload(FLAG_BINARY_PUBLISH_ACKED, be('00')), 'invalid_flags');
    expectWireError(() => decodeFramePayload(FLAG_EVENT_BATCH_OFFSETS, be('00')), 'invalid_flags');
    expectWireError(
      () => decodeFramePayload(FLAG_BINARY_EVENT_BATCH | FLAG_BINARY_EVENT_BATCH_SHARED, be('00')),
      'invalid_flags',
    );
    // TIMINGS alone, or on a message or an ack, forms no layout.
    expectWireError(() => decodeFramePayload(0x80, be('00')), 'invalid_flags');
    expectWireError(() => decodeFramePayload(0xc0, be('00')), 'invalid_flags');
    expectWireError(() => decodeFramePayload(0x90, be('00')), 'invalid_flags');
    // PRODUCER only modifies an acked publish batch.
    expectWireError(() => decodeFramePayload(0x100, be('00')), 'invalid_flags');
    expectWireError(() => decodeFramePayload(0x101, be('00')), 'invalid_flags');
    expectWireError(() => decodeFramePayload(0x140, be('00')), 'invalid_flags');
    expectWireError(() => decodeFramePayload(0x200, be('00')), 'unknown_flags');
  });
});
