import { describe, expect, it } from 'vitest';
import {
  copyBytes,
  decodeMessage,
  encodeMessage,
  FrameDecoder,
  type Message,
  type PublishChunkMessage,
  PublishChunkAssembler,
  type PublishMessage,
  splitPublish,
} from '../../wire/index.js';
import { expectWireError, normalize } from './helpers.js';

const publishOf = (size: number, extra: Partial<PublishMessage> = {}): PublishMessage => ({
  type: 'publish',
  tenant_id: 't',
  namespace: 'n',
  stream: 's',
  payload: Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) & 0xff)),
  ...extra,
});

describe('splitPublish', () => {
  it.each([
    [0, 4],
    [1, 4],
    [4, 4],
    [5, 4],
    [16_385, 16_384],
  ])('splits %i bytes into %i-byte chunks that cover the payload exactly once', (size, chunkBytes) => {
    const publish = publishOf(size, { request_id: 3, ack: 'per_message' });
    const chunks = splitPublish(publish, chunkBytes, 11);
    expect(chunks).toHaveLength(Math.max(1, Math.ceil(size / chunkBytes)));
    let expectedOffset = 0;
    for (const [index, chunk] of chunks.entries()) {
      expect(chunk.byte_offset).toBe(expectedOffset);
      expect(chunk.total_len).toBe(size);
      expect(chunk.payload.byteLength).toBeLessThanOrEqual(chunkBytes);
      expect(chunk.request_id).toBe(index === 0 ? 3 : undefined);
      expectedOffset += chunk.payload.byteLength;
    }
    expect(expectedOffset).toBe(size);
  });
});

describe('PublishChunkAssembler', () => {
  it('carries producer_id and sequence on the first chunk into the reassembled publish', () => {
    const publish = publishOf(10, { request_id: 4, ack: 'per_message', producer_id: 77, sequence: 9 });
    const chunks = splitPublish(publish, 4, 1);
    expect(chunks.map((c) => [c.producer_id, c.sequence])).toEqual([
      [77, 9],
      [undefined, undefined],
      [undefined, undefined],
    ]);
    const assembler = new PublishChunkAssembler({ maxPayloadBytes: 1 << 20 });
    let whole: PublishMessage | undefined;
    for (const chunk of chunks) whole = assembler.accept(chunk);
    expect(whole).toMatchObject({ request_id: 4, producer_id: 77, sequence: 9 });
    // A later piece naming another sequence does not continue the publish.
    const again = splitPublish(publish, 4, 2);
    assembler.accept(again[0]!);
    expectWireError(() => assembler.accept({ ...again[1]!, producer_id: 77, sequence: 10 }), 'malformed');
  });

  it('drops a publish whose piece runs past its total_len, naming the request of its first piece', () => {
    const assembler = new PublishChunkAssembler({ maxPayloadBytes: 1 << 20 });
    const [first, second] = splitPublish(publishOf(8, { request_id: 6, ack: 'per_message' }), 4, 3);
    assembler.accept(first!);
    // Starts where the publish stands but carries one byte too many: refused as the publish (request 6).
    const over = { ...second!, payload: Buffer.alloc(5) };
    let error: unknown;
    try {
      assembler.accept(over);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'malformed', requestId: 6, ackRequested: true });
    expect(assembler.inProgress(3)).toBe(false);
    // A first piece that overshoots names its own request.
    expectWireError(
      () => assembler.accept({ ...first!, publish_id: 4, request_id: 9, payload: Buffer.alloc(9) }),
      'malformed',
    );
  });

  it('abandons a publish in progress on request, telling which request it was', () => {
    const assembler = new PublishChunkAssembler({ maxPayloadBytes: 1 << 20 });
    const [first] = splitPublish(publishOf(8, { request_id: 6, ack: 'per_batch' }), 4, 3);
    assembler.accept(first!);
    expect(assembler.abandon(3)).toEqual({ requestId: 6, ackRequested: true });
    expect(assembler.inProgress(3)).toBe(false);
    expect(assembler.abandon(3)).toBeUndefined();
  });

  it('reassembles chunks that went through the wire, with other frames and another publish interleaved', () => {
    const first = publishOf(40_000, { request_id: 1, ack: 'per_message' });
    const second = publishOf(9_000);
    const a = splitPublish(first, 16_384, 1);
    const b = splitPublish(second, 4_000, 2);
    const sequence: Message[] = [a[0], b[0], { type: 'ok' }, a[1], b[1], b[2], a[2]];
    for (const msgpack of [false, true]) {
      const assembler = new PublishChunkAssembler({ maxPayloadBytes: 1 << 20 });
      const completed: Message[] = [];
      const others: Message[] = [];
      const decoder = new FrameDecoder({
        onFrame: (flags, payload) => {
          const message = decodeMessage(flags, payload); // a transient view: the assembler copies
          if (message.type !== 'publish_chunk') others.push(message);
          else {
            const done = assembler.accept(message);
            if (done) completed.push(done);
          }
        },
        onError: (error) => {
          throw error;
        },
      });
      const stream = Buffer.concat(sequence.map((message) => encodeMessage(message, { msgpack })));
      for (let position = 0; position < stream.length; position += 1000)
        decoder.push(stream.subarray(position, position + 1000));
      expect(normalize(completed)).toEqual(normalize([second, first]));
      expect(others).toEqual([{ type: 'ok' }]);
      expect(assembler.pendingPublishes).toBe(0);
    }
  });

  it('copies chunk payloads, so callers may pass transient views', () => {
    const assembler = new PublishChunkAssembler({ maxPayloadBytes: 100 });
    const [head, tail] = splitPublish(publishOf(8), 4, 1).map((chunk) => ({
      ...chunk,
      payload: copyBytes(chunk.payload),
    }));
    assembler.accept(head);
    (head.payload as Buffer).fill(0);
    const done = assembler.accept(tail);
    expect(normalize(done?.payload)).toEqual(normalize(publishOf(8).payload));
  });

  it('refuses a publish announcing more than the limit before buffering anything', () => {
    const assembler = new PublishChunkAssembler({ maxPayloadBytes: 1000 });
    const [head] = splitPublish(publishOf(1001, { request_id: 8 }), 10, 1);
    expect(expectWireError(() => assembler.accept(head), 'frame_too_large').requestId).toBe(8);
    expect(assembler.pendingPublishes).toBe(0);
  });

  it.each<[string, (chunks: PublishChunkMessage[]) => PublishChunkMessage]>([
    ['skips ahead', (chunks) => chunks[2]],
    ['repeats a chunk', (chunks) => chunks[0]],
    ['changes stream', (chunks) => ({ ...chunks[1], stream: 'other' })],
    ['changes total_len', (chunks) => ({ ...chunks[1], total_len: 99 })],
    ['changes request_id', (chunks) => ({ ...chunks[1], request_id: 6 })],
  ])('drops a publish whose next chunk %s, naming its request id', (_what, next) => {
    const assembler = new PublishChunkAssembler({ maxPayloadBytes: 1000 });
    const chunks = splitPublish(publishOf(12, { request_id: 5 }), 4, 1);
    assembler.accept(chunks[0]);
    expect(expectWireError(() => assembler.accept(next(chunks)), 'malformed').requestId).toBe(5);
    expect(assembler.pendingPublishes).toBe(0);
  });

  it('refuses a first chunk that does not start at 0, and too many publishes at once', () => {
    const assembler = new PublishChunkAssembler({ maxPayloadBytes: 1000, maxPendingPublishes: 2 });
    expectWireError(() => assembler.accept(splitPublish(publishOf(8), 4, 1)[1]), 'malformed');
    assembler.accept(splitPublish(publishOf(8), 4, 1)[0]);
    assembler.accept(splitPublish(publishOf(8), 4, 2)[0]);
    expectWireError(() => assembler.accept(splitPublish(publishOf(8), 4, 3)[0]), 'malformed');
    assembler.clear();
    expect(assembler.pendingPublishes).toBe(0);
  });
});
