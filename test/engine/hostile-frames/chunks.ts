/**
 * Chunked publishes (publish_chunk) as wire/'s splitPublish cuts them, with their sequences broken:
 * pieces dropped, repeated, moved or edited, and several publishes interleaved on one stream.
 */
import fc from 'fast-check';
import { FLAG_MSGPACK, splitPublish, type Message } from '../../../wire/index.js';
import {
  STREAMS,
  bufferOf,
  frameOf,
  hostileFrame,
  optional,
  packr,
  type HostileFrame,
  type HostileTarget,
} from './frames.js';
import { arbAck } from './valid.js';

export type ChunkEdit =
  'drop' | 'duplicate' | 'swap' | 'total_len' | 'byte_offset' | 'request_id' | 'publish_id' | 'grow';

/**
 * The pieces of one chunked publish (publish_chunk, as wire/'s splitPublish cuts them), acked or not, for
 * the stream's tenant or another, with up to two edits that break the sequence: a piece dropped,
 * repeated or moved, a total_len or byte_offset changed, a request_id or publish_id changed on a later
 * piece, a piece grown past total_len.
 */
export function arbChunkedPublish(target: HostileTarget): fc.Arbitrary<readonly HostileFrame[]> {
  return fc
    .record({
      payload: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 65, maxLength: 3000 })),
      chunkBytes: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 1024 })),
      publishId: fc.nat({ max: 3 }),
      requestId: fc.option(fc.nat({ max: 1000 }), { nil: undefined }),
      ack: fc.option(arbAck, { nil: undefined }),
      msgpack: fc.boolean(),
      tenant: fc.constantFrom(target.tenant, target.tenant, target.tenant, 'other'),
      stream: fc.constantFrom(...STREAMS, 'bad name!'),
      edits: fc.array(
        fc.record({
          op: fc.constantFrom<ChunkEdit>(
            'drop',
            'duplicate',
            'swap',
            'total_len',
            'byte_offset',
            'request_id',
            'publish_id',
            'grow',
          ),
          at: fc.nat({ max: 64 }),
          value: fc.oneof(fc.nat({ max: 8 }), fc.constantFrom(0xffffffff, Number.MAX_SAFE_INTEGER)),
        }),
        { maxLength: 2 },
      ),
    })
    .map((r) => {
      // At most 24 pieces, so a case stays a few dozen frames.
      const chunkBytes = Math.max(r.chunkBytes, Math.ceil(r.payload.length / 24));
      const publish: Extract<Message, { type: 'publish' }> = {
        type: 'publish',
        tenant_id: r.tenant,
        namespace: 'ns',
        stream: r.stream,
        payload: bufferOf(r.payload),
        ...optional({ request_id: r.requestId, ack: r.ack }),
      };
      const pieces: Record<string, unknown>[] = splitPublish(publish, chunkBytes, r.publishId).map((c) => ({
        ...c,
      }));
      for (const edit of r.edits) {
        const i = edit.at % pieces.length;
        const j = (edit.at + 1 + edit.value) % pieces.length;
        const piece = pieces[i]!;
        switch (edit.op) {
          case 'drop':
            if (pieces.length > 1) pieces.splice(i, 1);
            break;
          case 'duplicate':
            pieces.splice(i, 0, { ...piece });
            break;
          case 'swap':
            [pieces[i], pieces[j]] = [pieces[j]!, piece];
            break;
          case 'total_len':
            piece.total_len = edit.value;
            break;
          case 'byte_offset':
            piece.byte_offset = edit.value;
            break;
          case 'request_id':
            piece.request_id = edit.value;
            piece.ack = 'per_message';
            break;
          case 'publish_id':
            piece.publish_id = edit.value;
            break;
          case 'grow':
            piece.payload = Buffer.concat([piece.payload as Buffer, Buffer.alloc(1 + (edit.value % 16))]);
            break;
        }
      }
      return pieces.map((piece) =>
        hostileFrame('chunked', frameOf(r.msgpack ? FLAG_MSGPACK : 0, encodeWhateverFits(piece, r.msgpack))),
      );
    });
}

/** A message's payload bytes, for fields the schema may refuse (an edited total_len): the raw encodings. */
function encodeWhateverFits(message: Record<string, unknown>, msgpack: boolean): Buffer {
  if (msgpack) return packr.pack(message);
  // Bytes as base64 before stringify: JSON.stringify would call Buffer#toJSON before any replacer.
  const json: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message)) {
    json[name] = value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
  }
  return Buffer.from(JSON.stringify(json));
}

/** Several chunked publishes, their pieces interleaved in a random order that keeps each one's order. */
export function arbInterleavedChunkedPublishes(target: HostileTarget): fc.Arbitrary<HostileFrame[]> {
  return fc
    .tuple(
      fc.array(arbChunkedPublish(target), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat({ max: 2 }), { maxLength: 80 }),
    )
    .map(([sequences, picks]) => {
      const queues = sequences.map((seq) => [...seq]);
      const out: HostileFrame[] = [];
      for (let k = 0; queues.some((q) => q.length > 0); k++) {
        const live = queues.filter((q) => q.length > 0);
        out.push(live[(picks[k] ?? 0) % live.length]!.shift()!);
      }
      return out;
    });
}
