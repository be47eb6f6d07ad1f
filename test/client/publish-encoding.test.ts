import { describe, expect, it } from 'vitest';
import { FelixError } from '../../client/errors.js';
import { negotiate } from '../../client/negotiation.js';
import {
  encodeChunkedPublish,
  encodePublishFrame,
  planBatch,
  type PublishTarget,
} from '../../client/publish-encoding.js';
import { wholePayloadLimit } from '../../client/publisher.js';
import {
  FLAG_BINARY_PUBLISH_ACKED,
  FLAG_BINARY_PUBLISH_BATCH,
  FLAG_MSGPACK,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  MAX_BATCH_PAYLOADS,
  PublishChunkAssembler,
  decodeWholeFrame,
  decodeFramePayload,
  decodeMessage,
  type PublishChunkMessage,
} from '../../wire/index.js';

const target: PublishTarget = {
  tenant: 't1',
  namespace: 'default',
  stream: 'demo',
  hash: 0,
  what: 'publish to t1/default/demo',
};
// A felix-ts broker with timings off; `timed` is one with them on (FELIX_DISABLE_TIMINGS=0).
const felixTs = negotiate({
  type: 'auth_ok',
  server_flags: KNOWN_FLAGS & ~0x80,
  server_features: KNOWN_FEATURES,
});
const timed = negotiate({ type: 'auth_ok', server_flags: KNOWN_FLAGS, server_features: KNOWN_FEATURES });
const noAckedBinary = negotiate({ type: 'auth_ok', server_flags: KNOWN_FLAGS & ~FLAG_BINARY_PUBLISH_ACKED });
const oldBroker = negotiate({ type: 'ok' });
const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);

describe('planBatch', () => {
  it('keeps a batch within the chunk size in one frame', () => {
    expect(planBatch([bytes(10), bytes(10)], 100, 1000)).toEqual([{ kind: 'frame', start: 0, end: 2 }]);
  });

  it('splits a larger batch into frames of at most chunkBytes payload bytes, in order', () => {
    const payloads = [bytes(40), bytes(40), bytes(40), bytes(10), bytes(90)];
    expect(planBatch(payloads, 100, 1000)).toEqual([
      { kind: 'frame', start: 0, end: 2 },
      { kind: 'frame', start: 2, end: 4 },
      { kind: 'frame', start: 4, end: 5 },
    ]);
  });

  it('splits a batch of many small payloads at MAX_BATCH_PAYLOADS a frame, which the broker refuses beyond', () => {
    const payloads = Array.from({ length: 2 * MAX_BATCH_PAYLOADS + 5 }, () => bytes(0));
    expect(planBatch(payloads, 1 << 20, Infinity)).toEqual([
      { kind: 'frame', start: 0, end: MAX_BATCH_PAYLOADS },
      { kind: 'frame', start: MAX_BATCH_PAYLOADS, end: 2 * MAX_BATCH_PAYLOADS },
      { kind: 'frame', start: 2 * MAX_BATCH_PAYLOADS, end: 2 * MAX_BATCH_PAYLOADS + 5 },
    ]);
  });

  it('sends a payload above chunkBytes alone: whole up to chunkedAbove, as a chunked publish beyond', () => {
    const payloads = [bytes(10), bytes(500), bytes(10), bytes(5000), bytes(10)];
    expect(planBatch(payloads, 100, 1000)).toEqual([
      { kind: 'frame', start: 0, end: 1 },
      { kind: 'frame', start: 1, end: 2 },
      { kind: 'frame', start: 2, end: 3 },
      { kind: 'chunked', index: 3 },
      { kind: 'frame', start: 4, end: 5 },
    ]);
    // A broker that takes no chunks gets every payload whole.
    expect(planBatch(payloads, 100, Infinity)).toEqual([
      { kind: 'frame', start: 0, end: 1 },
      { kind: 'frame', start: 1, end: 2 },
      { kind: 'frame', start: 2, end: 3 },
      { kind: 'frame', start: 3, end: 4 },
      { kind: 'frame', start: 4, end: 5 },
    ]);
  });
});

describe('wholePayloadLimit', () => {
  it('is FELIX_PUBLISH_WHOLE_MAX_BYTES within the chunk size and what a frame holds', () => {
    expect(wholePayloadLimit(1 << 20, 16 << 10, 16 << 20, 1024)).toBe(1 << 20);
    // Never below the chunk size: a payload that fits a batch frame is never chunked.
    expect(wholePayloadLimit(4 << 10, 16 << 10, 16 << 20, 1024)).toBe(16 << 10);
    // Never above a frame with its envelope.
    expect(wholePayloadLimit(1 << 20, 16 << 10, 256 << 10, 1024)).toBe((256 << 10) - 1024);
  });
});

describe('encodePublishFrame', () => {
  it('stamps the frame with the send time only when TIMINGS was negotiated', () => {
    const before = Number(process.hrtime.bigint());
    const stamped = decodeWholeFrame(
      encodePublishFrame(target, [Buffer.from('x')], 'none', undefined, timed, 1 << 20),
    );
    expect(stamped.flags).toBe(FLAG_BINARY_PUBLISH_BATCH | 0x80);
    const message = decodeFramePayload(stamped.flags, stamped.payload);
    expect(message.type === 'publish_batch' && message.send_ns).toBeGreaterThanOrEqual(before);
    const plain = encodePublishFrame(target, [Buffer.from('x')], 'none', undefined, felixTs, 1 << 20);
    expect(plain.length).toBe(stamped.payload.length + 12 - 8);
  });

  it('encodes an acked publish as an acked binary batch carrying the request id', () => {
    const frame = encodePublishFrame(target, [Buffer.from('hello')], 'per_message', 7, felixTs, 1 << 20);
    const { flags, payload } = decodeWholeFrame(frame);
    expect(flags).toBe(FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_PUBLISH_ACKED);
    const message = decodeFramePayload(flags, payload);
    expect(message).toMatchObject({
      type: 'publish_batch',
      stream: 'demo',
      request_id: 7,
      ack: 'per_message',
    });
  });

  it('encodes an unacknowledged publish as a plain binary batch without request id', () => {
    const frame = encodePublishFrame(
      target,
      [Buffer.from('a'), Buffer.from('b')],
      'none',
      undefined,
      felixTs,
      1 << 20,
    );
    const { flags, payload } = decodeWholeFrame(frame);
    expect(flags).toBe(FLAG_BINARY_PUBLISH_BATCH);
    const message = decodeFramePayload(flags, payload);
    expect(
      message.type === 'publish_batch' && message.payloads.map((p) => Buffer.from(p).toString()),
    ).toEqual(['a', 'b']);
    expect(message).not.toHaveProperty('request_id');
  });

  it('falls back to a publish_batch message when acked binary batches were not confirmed', () => {
    const frame = encodePublishFrame(target, [Buffer.from('x')], 'per_batch', 9, noAckedBinary, 1 << 20);
    const { flags, payload } = decodeWholeFrame(frame);
    expect(flags).toBe(FLAG_MSGPACK);
    expect(decodeMessage(flags, payload)).toMatchObject({
      type: 'publish_batch',
      request_id: 9,
      ack: 'per_batch',
    });
  });

  it('uses JSON towards a broker that predates negotiation', () => {
    const frame = encodePublishFrame(target, [Buffer.from('x')], 'per_message', 3, oldBroker, 1 << 20);
    const { flags, payload } = decodeWholeFrame(frame);
    expect(flags).toBe(0);
    expect(JSON.parse(Buffer.from(payload).toString())).toMatchObject({
      type: 'publish_batch',
      request_id: 3,
    });
  });

  it('refuses a frame above the frame limit with payload_too_large', () => {
    const attempt = () => encodePublishFrame(target, [bytes(5000)], 'per_message', 1, oldBroker, 4096);
    expect(attempt).toThrow(FelixError);
    expect(attempt).toThrow(/FELIX_MAX_FRAME_BYTES/);
  });

  it('copies the payload into the frame, so the caller may reuse its buffer', () => {
    const payload = Buffer.from('before');
    const frame = encodePublishFrame(target, [payload], 'none', undefined, felixTs, 1 << 20);
    payload.write('AFTER!');
    const { flags, payload: body } = decodeWholeFrame(frame);
    const message = decodeFramePayload(flags, body);
    expect(message.type === 'publish_batch' && Buffer.from(message.payloads[0]!).toString()).toBe('before');
  });
});

describe('encodeChunkedPublish', () => {
  it('produces chunks the broker reassembles into the original payload, acked once', () => {
    const payload = Buffer.from(Array.from({ length: 40_000 }, (_, i) => i % 251));
    const frames = encodeChunkedPublish(target, payload, 'per_message', 11, 4, 16_384, felixTs);
    expect(frames).toHaveLength(3);
    const assembler = new PublishChunkAssembler({ maxPayloadBytes: 1 << 20 });
    const chunks = frames.map((frame) => {
      const { flags, payload: body } = decodeWholeFrame(frame);
      return decodeMessage(flags, body) as PublishChunkMessage;
    });
    expect(chunks.map((c) => c.byte_offset)).toEqual([0, 16_384, 32_768]);
    expect(chunks[0]).toMatchObject({ publish_id: 4, request_id: 11, ack: 'per_message', total_len: 40_000 });
    expect(chunks[1]).not.toHaveProperty('request_id');
    expect(assembler.accept(chunks[0]!)).toBeUndefined();
    expect(assembler.accept(chunks[1]!)).toBeUndefined();
    const whole = assembler.accept(chunks[2]!);
    expect(Buffer.compare(Buffer.from(whole!.payload), payload)).toBe(0);
    expect(whole).toMatchObject({ request_id: 11, ack: 'per_message' });
  });
});

describe('producer id and sequence (IDEMPOTENT_PUBLISH)', () => {
  const noProducerFlag = negotiate({
    type: 'auth_ok',
    server_flags: KNOWN_FLAGS & ~0x0100,
    server_features: KNOWN_FEATURES,
  });

  it('rides on an acked binary batch as flag 0x0100 where the broker confirmed it', () => {
    expect([felixTs.idempotentPublish, felixTs.binaryProducer]).toEqual([true, true]);
    const frame = decodeWholeFrame(
      encodePublishFrame(target, [bytes(3)], 'per_message', 9, felixTs, 1 << 20, 77, 5),
    );
    expect(frame.flags).toBe(0x0109);
    expect(decodeFramePayload(frame.flags, frame.payload)).toMatchObject({
      request_id: 9,
      producer_id: 77,
      sequence: 5,
    });
  });

  it('falls back to a message where the broker takes no 0x0100, and to nothing on unacked publishes', () => {
    const asMessage = decodeWholeFrame(
      encodePublishFrame(target, [bytes(3)], 'per_batch', 9, noProducerFlag, 1 << 20, 77, 5),
    );
    expect(asMessage.flags).toBe(FLAG_MSGPACK);
    expect(decodeMessage(asMessage.flags, asMessage.payload)).toMatchObject({ producer_id: 77, sequence: 5 });
    const unacked = decodeWholeFrame(
      encodePublishFrame(target, [bytes(3)], 'none', undefined, felixTs, 1 << 20, 77, 5),
    );
    expect(unacked.flags).toBe(FLAG_BINARY_PUBLISH_BATCH);
    expect(decodeFramePayload(unacked.flags, unacked.payload)).not.toHaveProperty('producer_id');
  });

  it('rides on the first piece of a chunked publish', () => {
    const chunks = encodeChunkedPublish(target, bytes(250), 'per_message', 4, 1, 100, felixTs, 77, 6).map(
      (c) => decodeWholeFrame(c),
    );
    const pieces = chunks.map((c) => decodeMessage(c.flags, c.payload) as PublishChunkMessage);
    expect(pieces.map((p) => [p.producer_id, p.sequence])).toEqual([
      [77, 6],
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });

  it('is not negotiated with a broker that does not advertise it', () => {
    expect(oldBroker.idempotentPublish).toBe(false);
    expect(
      negotiate({ type: 'auth_ok', server_flags: KNOWN_FLAGS, server_features: 0 }).idempotentPublish,
    ).toBe(false);
  });
});
