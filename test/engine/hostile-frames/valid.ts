/**
 * Valid requests of every kind, as wire/'s own encoders write them, and byte mutations of them: the
 * frames the broker really accepts, and their near misses.
 */
import fc from 'fast-check';
import {
  HEADER_BYTES,
  encodeBinaryPublishBatch,
  encodeMessage,
  type AckMode,
  type StartPosition,
} from '../../../wire/index.js';
import { CacheTarget, encodeCacheLookup, encodeCachePut } from '../../../wire/cache-request-writer.js';
import {
  CACHES,
  NAMESPACES,
  STREAMS,
  arbAuthOffer,
  authFrame,
  bufferOf,
  frameOf,
  hostileFrame,
  optional,
  type HostileFrame,
  type HostileTarget,
} from './frames.js';

// --- valid requests of every kind ------------------------------------------------------------------

export type RequestKind =
  | 'publish'
  | 'publish_batch'
  | 'binary_batch'
  | 'binary_acked_batch'
  | 'publish_chunk'
  | 'subscribe'
  | 'cache_put'
  | 'cache_get'
  | 'cache_delete'
  | 'auth';

const arbPayload = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 200, maxLength: 2048 }) },
);
export const arbRequestId = fc.oneof(
  fc.nat({ max: 1000 }),
  fc.constantFrom(0, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER),
  fc.maxSafeNat(),
);
export const arbAck = fc.constantFrom<AckMode>('none', 'per_message', 'per_batch');
const arbKey = fc.string({ unit: 'grapheme-ascii', maxLength: 24 });
const arbStart = fc.oneof(
  fc.constantFrom<StartPosition>('latest', 'earliest'),
  fc.record({ offset: fc.oneof(fc.nat({ max: 64 }), fc.maxSafeNat()) }),
);

/**
 * A valid request frame of the given kinds (all by default), as wire/'s encoders write it: JSON and
 * MessagePack messages, binary batches plain, acked and stamped, chunk pieces, cache requests in the
 * hand-written MessagePack form, and a second auth.
 */
export function arbValidRequest(
  target: HostileTarget,
  kinds?: readonly RequestKind[],
): fc.Arbitrary<{ readonly kind: RequestKind; readonly bytes: Buffer }> {
  const tenant = target.tenant;
  const address = fc.record({
    tenant_id: fc.constant(tenant),
    namespace: fc.constantFrom(...NAMESPACES),
    stream: fc.constantFrom(...STREAMS),
  });
  const cacheAddress = fc.record({
    tenant_id: fc.constant(tenant),
    namespace: fc.constantFrom(...NAMESPACES),
    cache: fc.constantFrom(...CACHES),
    key: arbKey,
  });
  const msgpack = fc.boolean();
  const generators: Record<RequestKind, fc.Arbitrary<Buffer>> = {
    publish: fc
      .tuple(
        address,
        arbPayload,
        fc.option(arbRequestId, { nil: undefined }),
        fc.option(arbAck, { nil: undefined }),
        msgpack,
      )
      .map(([a, payload, request_id, ack, mp]) =>
        encodeMessage(
          { type: 'publish', ...a, payload: bufferOf(payload), ...optional({ request_id, ack }) },
          { msgpack: mp },
        ),
      ),
    publish_batch: fc
      .tuple(
        address,
        fc.array(arbPayload, { maxLength: 8 }),
        fc.option(arbRequestId, { nil: undefined }),
        fc.option(arbAck, { nil: undefined }),
        msgpack,
      )
      .map(([a, payloads, request_id, ack, mp]) =>
        encodeMessage(
          { type: 'publish_batch', ...a, payloads: payloads.map(bufferOf), ...optional({ request_id, ack }) },
          { msgpack: mp },
        ),
      ),
    binary_batch: fc
      .tuple(address, fc.array(arbPayload, { maxLength: 8 }), fc.option(fc.maxSafeNat(), { nil: undefined }))
      .map(([a, payloads, send_ns]) =>
        encodeBinaryPublishBatch({ ...a, payloads: payloads.map(bufferOf), ...optional({ send_ns }) }),
      ),
    binary_acked_batch: fc
      .tuple(
        address,
        fc.array(arbPayload, { maxLength: 8 }),
        arbRequestId,
        fc.constantFrom<AckMode>('per_message', 'per_batch'),
        fc.option(fc.maxSafeNat(), { nil: undefined }),
      )
      .map(([a, payloads, request_id, ack, send_ns]) =>
        encodeBinaryPublishBatch({
          ...a,
          payloads: payloads.map(bufferOf),
          request_id,
          ack,
          ...optional({ send_ns }),
        }),
      ),
    publish_chunk: fc
      .tuple(
        address,
        arbPayload,
        fc.nat({ max: 3 }),
        fc.nat({ max: 64 }),
        fc.option(arbRequestId, { nil: undefined }),
        fc.option(arbAck, { nil: undefined }),
        msgpack,
      )
      .map(([a, payload, publish_id, extra, request_id, ack, mp]) => {
        // Either a whole publish in one piece or the first piece of a longer one.
        const total_len = payload.length + extra;
        return encodeMessage(
          {
            type: 'publish_chunk',
            ...a,
            publish_id,
            total_len,
            byte_offset: 0,
            payload: bufferOf(payload),
            ...optional({ request_id, ack }),
          },
          { msgpack: mp },
        );
      }),
    subscribe: fc
      .tuple(
        address,
        fc.option(fc.oneof(fc.nat({ max: 16 }), fc.maxSafeNat()), { nil: undefined }),
        fc.option(arbStart, { nil: undefined }),
        msgpack,
      )
      .map(([a, subscription_id, start, mp]) =>
        encodeMessage({ type: 'subscribe', ...a, ...optional({ subscription_id, start }) }, { msgpack: mp }),
      ),
    cache_put: fc
      .tuple(
        cacheAddress,
        arbPayload,
        fc.option(arbRequestId, { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: null }),
        msgpack,
      )
      .map(([c, value, request_id, ttl_ms, mp]) =>
        request_id !== undefined && mp
          ? encodeCachePut(
              new CacheTarget(c.tenant_id, c.namespace, c.cache),
              c.key,
              value,
              request_id,
              ttl_ms,
              true,
            )
          : encodeMessage(
              { type: 'cache_put', ...c, value: bufferOf(value), ttl_ms, ...optional({ request_id }) },
              { msgpack: mp },
            ),
      ),
    cache_get: cacheLookup('cache_get', cacheAddress, msgpack),
    cache_delete: cacheLookup('cache_delete', cacheAddress, msgpack),
    auth: arbAuthOffer().map((offer) => authFrame(tenant, offer)),
  };
  const chosen = kinds ?? (Object.keys(generators) as RequestKind[]);
  return fc.oneof(...chosen.map((kind) => generators[kind].map((bytes) => ({ kind, bytes }))));
}

function cacheLookup(
  type: 'cache_get' | 'cache_delete',
  cacheAddress: fc.Arbitrary<{ tenant_id: string; namespace: string; cache: string; key: string }>,
  msgpack: fc.Arbitrary<boolean>,
): fc.Arbitrary<Buffer> {
  return fc
    .tuple(cacheAddress, fc.option(arbRequestId, { nil: undefined }), msgpack)
    .map(([c, request_id, mp]) =>
      request_id !== undefined && mp
        ? encodeCacheLookup(type, new CacheTarget(c.tenant_id, c.namespace, c.cache), c.key, request_id, true)
        : encodeMessage({ type, ...c, ...optional({ request_id }) }, { msgpack: mp }),
    );
}

// --- mutations of valid frames -------------------------------------------------------------------

export type Mutation =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly byte: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly count: number }
  | { readonly op: 'truncate'; readonly at: number };

/** Mutation positions are taken modulo the frame's length, so they shrink towards the frame's start. */
export function arbMutation(): fc.Arbitrary<Mutation> {
  const at = fc.nat({ max: 1 << 20 });
  return fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat({ max: 7 }) }),
    fc.record({
      op: fc.constant('set' as const),
      at,
      byte: fc.constantFrom(
        0x00,
        0xff,
        0x7f,
        0x80,
        0xc0,
        0xc1,
        0x22,
        0x5c,
        0x7b,
        0x7d,
        0x5b,
        0x5d,
        0x3a,
        0x2c,
      ),
    }),
    fc.record({
      op: fc.constant('insert' as const),
      at,
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    fc.record({ op: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('truncate' as const), at }),
  );
}

export function applyMutations(frame: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(frame);
  for (const m of mutations) {
    const length = bytes.length;
    const at = length === 0 ? 0 : m.at % (length + (m.op === 'insert' ? 1 : 0));
    switch (m.op) {
      case 'flip':
        if (length > 0) bytes[at] ^= 1 << m.bit;
        break;
      case 'set':
        if (length > 0) bytes[at] = m.byte;
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
    }
  }
  return bytes;
}

/**
 * A valid request of any kind with 1–4 byte mutations anywhere (header included: a mutated length makes
 * the frame swallow what follows, or leave bytes that do not start a frame). Mutations that hit only the
 * payload are favoured, since those reach the decoders behind the framing.
 */
export function arbMutatedValid(
  target: HostileTarget,
  kinds?: readonly RequestKind[],
): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(
      arbValidRequest(target, kinds),
      fc.array(arbMutation(), { minLength: 1, maxLength: 4 }),
      fc.boolean(),
    )
    .map(([valid, mutations, payloadOnly]) => {
      if (!payloadOnly || valid.bytes.length <= HEADER_BYTES)
        return hostileFrame('mutated-valid', applyMutations(valid.bytes, mutations));
      // Mutate the payload and re-frame it: the header stays honest about the new length.
      const flags = valid.bytes.readUInt16BE(6);
      const payload = applyMutations(valid.bytes.subarray(HEADER_BYTES), mutations);
      return hostileFrame('mutated-valid', frameOf(flags, payload));
    });
}
