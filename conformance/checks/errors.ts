// Each documented error: docs/protocol.md "Errors a peer can cause". Every check ends by checking that
// the same stream (when it continues) and a fresh connection are still served.
import {
  FEATURE_ERROR_CODES,
  FLAG_BINARY_PUBLISH_ACK,
  encodeBinaryPublishBatch,
  encodeMessage,
  HEADER_BYTES,
  MAX_BATCH_PAYLOADS,
  type ErrorCode,
} from '../../wire/index.js';
import type { CheckContext } from '../context.js';
import { describeFrame, hex } from '../describe.js';
import { CheckFailure, during, expectThat } from '../failure.js';
import type { FrameStream } from '../frame-stream.js';
import { area, type Check } from '../registry.js';
import { nestedArrays, rawBatchBody, rawHeader, type RawBatch } from '../raw-frames.js';
import { ALL_FEATURES, DEFAULT_OFFER, NAMESPACE, type AuthedStream, type AuthOffer } from '../session.js';
import { expectEvents, readBack } from './common.js';

const TWO_POW_53_PLUS_1 = '9007199254740993'; // 2^53 + 1: no JS number holds it

interface Answer {
  readonly type?: 'error' | 'publish_error';
  readonly code: ErrorCode;
  readonly requestId?: number;
}

/** Sends something bad after auth, expects the documented answer, then checks the stream carries on. */
async function answeredAndContinues(
  ctx: CheckContext,
  what: string,
  send: (s: AuthedStream) => void,
  answer: Answer,
): Promise<void> {
  const s = await ctx.authed();
  send(s);
  await s.expectError(what, answer);
  await ctx.stillServed(s);
}

/** The same, for several bad frames in a row on one stream, each answered in turn. */
async function eachAnswered(
  ctx: CheckContext,
  cases: readonly { what: string; send: (s: AuthedStream) => void; answer: Answer }[],
  offer: AuthOffer = {},
): Promise<void> {
  const s = await ctx.authed(undefined, offer);
  for (const c of cases) {
    c.send(s);
    await s.expectError(c.what, c.answer);
  }
  await ctx.stillServed(s);
}

/** A case for eachAnswered: one JSON text and the answer it gets. */
function jsonCase(
  what: string,
  text: string,
  answer: Answer,
): { what: string; send: (s: AuthedStream) => void; answer: Answer } {
  return { what, send: (s) => s.fs.sendJsonText(text), answer };
}

/** Sends something that breaks framing: error, FIN, STOP_SENDING 0x101; the rest is still served. */
async function streamEnded(ctx: CheckContext, what: string, send: (fs: FrameStream) => void): Promise<void> {
  const link = await ctx.connect();
  const s = await ctx.authed(link);
  send(s.fs);
  await ctx.expectProtocolAbort(s.fs, what, (frame) => {
    const m = frame.message;
    const code = s.errorCodes ? 'invalid_request' : undefined;
    expectThat(
      m?.type === 'error' && m.code === code && m.request_id === undefined,
      `expected error ${code} answering ${what}, got ${describeFrame(frame)}`,
    );
  });
  await during('another stream on the same connection', async () => {
    const other = await ctx.authed(link);
    await other.publish(ctx.names.next('same-connection'), ['x']);
  });
  await ctx.stillServed();
}

/** JSON text of a publish to a unique stream, with `extra` fields appended verbatim. */
function publishJson(ctx: CheckContext, s: AuthedStream, payload: string, extra = ''): string {
  const stream = ctx.names.next('bad-publish');
  return `{"type":"publish","tenant_id":${JSON.stringify(s.tenant)},"namespace":"${NAMESPACE}","stream":"${stream}","payload":${payload}${extra}}`;
}

function batch(ctx: CheckContext, s: AuthedStream, fields: Partial<RawBatch>): RawBatch {
  return {
    tenant: s.tenant,
    namespace: NAMESPACE,
    stream: ctx.names.next('bad-batch'),
    payloads: [Buffer.from('p')],
    ...fields,
  };
}

// 0x0100 (PRODUCER) modifies an acked publish batch only: alone, on a plain batch or on a message it is no layout.
const INVALID_LAYOUTS = [
  0x0003, 0x0010, 0x0002, 0x0004, 0x0024, 0x0080, 0x0008, 0x0041, 0x00c0, 0x0100, 0x0101, 0x0140,
];

function invalidLayoutCheck(flags: number): Check {
  return {
    name: `errors.invalid_flags_${hex(flags)}`,
    run: (ctx) =>
      answeredAndContinues(
        ctx,
        `a frame with flags ${hex(flags)}`,
        (s) => s.fs.sendFrame(flags, Buffer.alloc(16)),
        {
          code: 'invalid_request',
        },
      ),
  };
}

/** Binary batch errors on an acked batch: publish_error naming the batch's request id. */
async function ackedBatchError(
  ctx: CheckContext,
  what: string,
  fields: (s: AuthedStream, id: number) => Partial<RawBatch>,
) {
  const s = await ctx.authed();
  const id = s.nextRequestId();
  s.fs.sendFrame(
    0x09,
    rawBatchBody(batch(ctx, s, { acked: { requestId: id, ackByte: 2 }, ...fields(s, id) })),
  );
  await s.expectError(what, { type: 'publish_error', code: 'invalid_request', requestId: id });
  await ctx.stillServed(s);
}

export const errorChecks: Check[] = [
  ...area('errors', {
    async malformed_json(ctx) {
      await answeredAndContinues(ctx, 'malformed JSON', (s) => s.fs.sendJsonText('{"type":"publish",'), {
        code: 'invalid_request',
      });
    },

    async invalid_utf8(ctx) {
      const bytes = Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      await answeredAndContinues(ctx, 'JSON with invalid UTF-8', (s) => s.fs.sendFrame(0, bytes), {
        code: 'invalid_request',
      });
    },

    async not_an_object(ctx) {
      await eachAnswered(
        ctx,
        ['[1,2,3]', '"auth"', '42', 'null'].map((text) => ({
          what: `the JSON ${text}`,
          send: (s: AuthedStream) => s.fs.sendJsonText(text),
          answer: { code: 'invalid_request' },
        })),
      );
    },

    async wrong_field_types(ctx) {
      await eachAnswered(ctx, [
        {
          what: 'a publish whose tenant_id is a number',
          send: (s) =>
            s.fs.sendJsonText(
              `{"type":"publish","tenant_id":5,"namespace":"n","stream":"s","payload":"eA=="}`,
            ),
          answer: { code: 'invalid_request' },
        },
        {
          what: 'a publish without payload',
          send: (s) => s.fs.sendJsonText(`{"type":"publish","tenant_id":"t","namespace":"n","stream":"s"}`),
          answer: { code: 'invalid_request' },
        },
        {
          what: 'a subscribe with start "sometime"',
          send: (s) =>
            s.fs.sendJsonText(
              `{"type":"subscribe","tenant_id":"t","namespace":"n","stream":"s","start":"sometime"}`,
            ),
          answer: { code: 'invalid_request' },
        },
      ]);
    },

    async deeply_nested_json(ctx) {
      await answeredAndContinues(
        ctx,
        'a publish whose payload nests 100,000 arrays',
        (s) => s.fs.sendJsonText(publishJson(ctx, s, nestedArrays(100_000))),
        { code: 'invalid_request' },
      );
    },

    /** An unknown type, or a message only the broker sends (naming its request_id when it has one). */
    async unknown_type(ctx) {
      await eachAnswered(ctx, [
        jsonCase('an unknown type', '{"type":"frobnicate"}', { code: 'invalid_request' }),
        jsonCase('a publish_ok sent by the client', '{"type":"publish_ok","request_id":5}', {
          code: 'invalid_request',
          requestId: 5,
        }),
        jsonCase('a subscribed sent by the client', '{"type":"subscribed","subscription_id":5}', {
          code: 'invalid_request',
        }),
      ]);
    },

    /**
     * An error names the request_id it could read whatever the frame's type (unknown, broker-only, none),
     * except for a known type without a request_id field, where it is an ignored unknown field.
     */
    async names_the_readable_request_id(ctx) {
      const subscribe = `{"type":"subscribe","tenant_id":"t","namespace":"${NAMESPACE}","stream":"s"`;
      const named = (requestId: number): Answer => ({ code: 'invalid_request', requestId });
      const unnamed: Answer = { code: 'invalid_request' };
      await eachAnswered(ctx, [
        jsonCase('an unknown type with request_id 6', '{"type":"frobnicate","request_id":6}', named(6)),
        jsonCase('a message without type, with request_id 7', '{"request_id":7}', named(7)),
        jsonCase(
          'a subscribed sent by the client with request_id 8',
          '{"type":"subscribed","subscription_id":5,"request_id":8}',
          unnamed,
        ),
        jsonCase(
          'a subscribe with request_id 9 and a lone surrogate escape',
          `${subscribe},"request_id":9,"x":"\\ud800"}`,
          unnamed,
        ),
        jsonCase(
          'a subscribe with request_id 10 and a mistyped field',
          `${subscribe},"request_id":10,"start":"sometime"}`,
          unnamed,
        ),
      ]);
    },

    async unknown_flag_bits(ctx) {
      await eachAnswered(
        ctx,
        [0x0200, 0x8000, 0x0209].map((flags) => ({
          what: `a frame with unknown flag bits ${hex(flags)}`,
          send: (s: AuthedStream) => s.fs.sendFrame(flags, Buffer.from('{}')),
          answer: { code: 'invalid_request' },
        })),
      );
    },

    /** MessagePack: malformed bytes, size bombs, deep nesting. Replies in MessagePack (negotiated). */
    async malformed_msgpack(ctx) {
      const bad: [string, number[]][] = [
        ['the reserved byte 0xc1', [0xc1]],
        ['a map32 claiming 2^32-1 entries', [0xdf, 0xff, 0xff, 0xff, 0xff]],
        ['an array32 claiming 2^32-1 items', [0xdd, 0xff, 0xff, 0xff, 0xff]],
        ['a str32 claiming 4 GiB', [0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]],
        ['a bin32 claiming 4 GiB', [0xc6, 0xff, 0xff, 0xff, 0xff, 0x61]],
        ['100,000 nested arrays', [...new Array<number>(100_000).fill(0x91), 0xc0]],
        ['a map followed by trailing bytes', [0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa2, 0x6f, 0x6b, 0x00]],
      ];
      await eachAnswered(
        ctx,
        bad.map(([what, bytes]) => ({
          what: `MessagePack: ${what}`,
          send: (s: AuthedStream) => s.fs.sendFrame(0x40, Buffer.from(bytes)),
          answer: { code: 'invalid_request' },
        })),
        { flags: 0x7f },
      );
    },

    /**
     * Refused unread, so without request_id: a MessagePack batch of more than MAX_BATCH_PAYLOADS payloads,
     * and JSON of more than four times as many elements.
     */
    async too_many_payloads_unread(ctx) {
      const empties = (count: number): Buffer[] => Array.from({ length: count }, () => Buffer.alloc(0));
      const batch = (s: AuthedStream, count: number) => ({
        type: 'publish_batch' as const,
        tenant_id: s.tenant,
        namespace: NAMESPACE,
        stream: ctx.names.next('many-payloads'),
        payloads: empties(count),
        request_id: s.nextRequestId(),
        ack: 'per_batch' as const,
      });
      await eachAnswered(
        ctx,
        [
          {
            what: `a MessagePack batch of ${MAX_BATCH_PAYLOADS + 1} empty payloads`,
            send: (s: AuthedStream) =>
              s.fs.sendFrame(
                0x40,
                encodeMessage(batch(s, MAX_BATCH_PAYLOADS + 1), { msgpack: true }).subarray(HEADER_BYTES),
              ),
            answer: { code: 'limit_exceeded' },
          },
          {
            what: `a JSON batch of ${4 * MAX_BATCH_PAYLOADS} empty payloads`,
            send: (s: AuthedStream) =>
              s.fs.sendFrame(0, encodeMessage(batch(s, 4 * MAX_BATCH_PAYLOADS)).subarray(HEADER_BYTES)),
            answer: { code: 'limit_exceeded' },
          },
        ],
        { flags: 0x7f },
      );
    },

    /** Non-canonical base64: publish_error for an acked publish, error naming a cache request, plain error. */
    async non_canonical_base64(ctx) {
      const s = await ctx.authed();
      const acked = s.nextRequestId();
      s.fs.sendJsonText(publishJson(ctx, s, '"aGVsbG8"', `,"request_id":${acked},"ack":"per_message"`));
      await s.expectError('an acked publish with unpadded base64', {
        type: 'publish_error',
        code: 'invalid_request',
        requestId: acked,
      });
      const put = s.nextRequestId();
      s.fs.sendJsonText(
        `{"type":"cache_put","tenant_id":${JSON.stringify(s.tenant)},"namespace":"${NAMESPACE}","cache":"c","key":"k","value":"aGVsbG9=","request_id":${put},"ttl_ms":null}`,
      );
      await s.expectError('a cache_put whose value has non-zero pad bits', {
        code: 'invalid_request',
        requestId: put,
      });
      s.fs.sendJsonText(publishJson(ctx, s, '"aGV sbG8="'));
      await s.expectError('an unacked publish with a space in its base64', { code: 'invalid_request' });
      const unacked = s.nextRequestId();
      s.fs.sendJsonText(publishJson(ctx, s, '"aGVsbG8"', `,"request_id":${unacked}`));
      // Not acked, so no publish_error: an error naming the request.
      await s.expectError('a publish without ack, with a request_id, with unpadded base64', {
        code: 'invalid_request',
        requestId: unacked,
      });
      await ctx.stillServed(s);
    },

    /** Integers out of range: 2^53+1, negative, fractional. No readable request id: plain error. */
    async integers_out_of_range(ctx) {
      const s = await ctx.authed();
      const cases: [string, string, Answer][] = [
        [
          'request_id 2^53+1',
          publishJson(ctx, s, '"eA=="', `,"request_id":${TWO_POW_53_PLUS_1},"ack":"per_message"`),
          { code: 'invalid_request' },
        ],
        [
          'request_id -1',
          publishJson(ctx, s, '"eA=="', ',"request_id":-1,"ack":"per_message"'),
          { code: 'invalid_request' },
        ],
        [
          'request_id 1.5',
          publishJson(ctx, s, '"eA=="', ',"request_id":1.5,"ack":"per_message"'),
          { code: 'invalid_request' },
        ],
        [
          'a subscribe from offset 2^53+1',
          `{"type":"subscribe","tenant_id":${JSON.stringify(s.tenant)},"namespace":"${NAMESPACE}","stream":"s","start":{"offset":${TWO_POW_53_PLUS_1}}}`,
          { code: 'invalid_request' },
        ],
        [
          'a cache_put with ttl_ms -5 (request_id 900 readable)',
          `{"type":"cache_put","tenant_id":${JSON.stringify(s.tenant)},"namespace":"${NAMESPACE}","cache":"c","key":"k","value":"eA==","request_id":900,"ttl_ms":-5}`,
          { code: 'invalid_request', requestId: 900 },
        ],
      ];
      for (const [what, text, answer] of cases) {
        s.fs.sendJsonText(text);
        await s.expectError(what, answer);
      }
      await ctx.stillServed(s);
    },

    /** An acked binary batch claiming 2^32-1 payloads in a few bytes: publish_error naming it. */
    async count_bomb_acked(ctx) {
      await ackedBatchError(ctx, 'an acked batch claiming 2^32-1 payloads', () => ({
        count: 0xffff_ffff,
        payloads: [],
      }));
    },

    /** Without ERROR_CODES the same refusal is the binary ack 0x10 with status error. */
    async count_bomb_acked_binary_answer(ctx) {
      const s = await ctx.authed(undefined, { features: ALL_FEATURES & ~FEATURE_ERROR_CODES });
      const id = s.nextRequestId();
      s.fs.sendFrame(
        0x09,
        rawBatchBody(
          batch(ctx, s, { acked: { requestId: id, ackByte: 2 }, count: 0xffff_ffff, payloads: [] }),
        ),
      );
      const frame = await s.fs.next(`the binary publish ack refusing request ${id}`);
      expectThat(
        frame.flags === FLAG_BINARY_PUBLISH_ACK &&
          frame.message?.type === 'publish_error' &&
          frame.message.request_id === id,
        `expected a binary ack (0x10) with status error for request ${id}, got ${describeFrame(frame)}`,
      );
      await ctx.stillServed(s);
    },

    async count_bomb_unacked(ctx) {
      await answeredAndContinues(
        ctx,
        'a batch 0x01 claiming 2^32-1 payloads',
        (s) => s.fs.sendFrame(0x01, rawBatchBody(batch(ctx, s, { count: 0xffff_ffff, payloads: [] }))),
        { code: 'invalid_request' },
      );
    },

    async name_length_past_end(ctx) {
      await ackedBatchError(ctx, 'an acked batch whose tenant length runs past the payload', () => ({
        tenantLength: 0xffff,
      }));
    },

    async trailing_bytes(ctx) {
      await ackedBatchError(ctx, 'an acked batch with bytes after its last payload', () => ({
        trailing: Buffer.from([1, 2, 3]),
      }));
    },

    async unknown_ack_byte(ctx) {
      const s = await ctx.authed();
      const id = s.nextRequestId();
      s.fs.sendFrame(0x09, rawBatchBody(batch(ctx, s, { acked: { requestId: id, ackByte: 7 } })));
      await s.expectError('an acked batch with ack byte 7', {
        type: 'publish_error',
        code: 'invalid_request',
        requestId: id,
      });
      await ctx.stillServed(s);
    },

    /**
     * IDEMPOTENT_PUBLISH fields that cannot stand: producer_id without sequence (or the reverse), producer
     * 0 — on a message and on an acked binary batch (0x0109): publish_error naming the request.
     */
    async malformed_producer_fields(ctx) {
      const s = await ctx.authed(undefined, { flags: DEFAULT_OFFER | 0x0100 });
      const stream = ctx.names.next('bad-producer');
      for (const fields of ['"producer_id":5', '"sequence":5', '"producer_id":0,"sequence":1']) {
        const id = s.nextRequestId();
        s.fs.sendJsonText(
          `{"type":"publish","tenant_id":${JSON.stringify(s.tenant)},"namespace":"${NAMESPACE}","stream":"${stream}",` +
            `"payload":"cA==","request_id":${id},"ack":"per_message",${fields}}`,
        );
        await s.expectError(`a publish with ${fields}`, {
          type: 'publish_error',
          code: 'invalid_request',
          requestId: id,
        });
      }
      const id = s.nextRequestId();
      const body = rawBatchBody(batch(ctx, s, { acked: { requestId: id, ackByte: 1 } }));
      const producer = Buffer.alloc(16);
      producer.writeBigUInt64BE(1n, 8); // producer 0, sequence 1
      s.fs.sendFrame(0x0109, Buffer.concat([body.subarray(0, 9), producer, body.subarray(9)]));
      await s.expectError('an acked batch (0x0109) naming producer 0', {
        type: 'publish_error',
        code: 'invalid_request',
        requestId: id,
      });
      await ctx.stillServed(s);
    },

    async truncated_batch(ctx) {
      await answeredAndContinues(
        ctx,
        'a batch 0x01 cut short',
        (s) => {
          const body = rawBatchBody(batch(ctx, s, { payloads: [Buffer.from('abcdef')] }));
          s.fs.sendFrame(0x01, body.subarray(0, body.length - 3));
        },
        { code: 'invalid_request' },
      );
    },

    /** Longer than FELIX_MAX_FRAME_BYTES: limit_exceeded, the payload skipped, the stream carries on. */
    async oversized_frame(ctx) {
      const s = await ctx.authed();
      const length = ctx.settings.maxFrameBytes + 1;
      s.fs.write(rawHeader({ flags: 0, length }));
      // The payload follows in pieces: the broker reads it and throws it away.
      const piece = Buffer.alloc(Math.min(length, 1 << 20), 0x20);
      for (let sent = 0; sent < length; sent += piece.length)
        s.fs.write(piece.subarray(0, Math.min(piece.length, length - sent)));
      await s.expectError(
        `a frame of ${length} bytes (FELIX_MAX_FRAME_BYTES assumed ${ctx.settings.maxFrameBytes})`,
        {
          code: 'limit_exceeded',
        },
      );
      await ctx.stillServed(s);
    },

    /**
     * A publish batch of more than MAX_BATCH_PAYLOADS payloads, however small: limit_exceeded, nothing
     * appended (JSON and binary 0x09 name the request), the stream carries on; at the limit it is taken.
     */
    async too_many_payloads(ctx) {
      const s = await ctx.authed();
      const stream = ctx.names.next('many-payloads');
      const address = { tenant_id: s.tenant, namespace: NAMESPACE, stream };
      const empties = (count: number): Buffer[] => Array.from({ length: count }, () => Buffer.alloc(0));
      let id = s.nextRequestId();
      const over = empties(MAX_BATCH_PAYLOADS + 1);
      s.send({ type: 'publish_batch', ...address, payloads: over, request_id: id, ack: 'per_batch' });
      await s.expectError(`a JSON batch of ${over.length} empty payloads`, {
        type: 'publish_error',
        code: 'limit_exceeded',
        requestId: id,
      });
      id = s.nextRequestId();
      s.fs.write(encodeBinaryPublishBatch({ ...address, payloads: over, request_id: id, ack: 'per_batch' }));
      await s.expectError(`a binary 0x09 batch of ${over.length} empty payloads`, {
        type: 'publish_error',
        code: 'limit_exceeded',
        requestId: id,
      });
      id = s.nextRequestId();
      s.send({
        type: 'publish_batch',
        ...address,
        payloads: empties(MAX_BATCH_PAYLOADS),
        request_id: id,
        ack: 'per_batch',
      });
      const ok = await s.expect(
        'publish_ok',
        `publish_ok for a batch of ${MAX_BATCH_PAYLOADS} empty payloads`,
      );
      expectThat(ok.request_id === id, `expected publish_ok for request ${id}, got ${JSON.stringify(ok)}`);
      await ctx.stillServed(s);
    },

    /** A second auth is refused and changes nothing: neither the tenant nor the negotiation. */
    async second_auth(ctx) {
      const s = await ctx.authed();
      s.send({ type: 'auth', tenant_id: `${s.tenant}-other`, token: 'again', client_flags: 0x7f });
      await s.expectError('a second auth', { code: 'invalid_request' });
      // Still the first auth's tenant, and still JSON replies (expect() checks the reply's flags).
      await ctx.stillServed(s);
    },

    /** Requests naming another tenant than the stream authenticated as: forbidden, in each form. */
    async wrong_tenant(ctx) {
      const s = await ctx.authed();
      const other = `${s.tenant}-other`;
      const stream = ctx.names.next('other-tenant');
      const address = { tenant_id: other, namespace: NAMESPACE, stream };
      let id = s.nextRequestId();
      s.send({ type: 'publish', ...address, payload: Buffer.from('x'), request_id: id, ack: 'per_message' });
      await s.expectError('an acked publish to another tenant', {
        type: 'publish_error',
        code: 'forbidden',
        requestId: id,
      });
      s.send({ type: 'publish', ...address, payload: Buffer.from('x') });
      await s.expectError('an unacked publish to another tenant', { code: 'forbidden' });
      const unacked = s.nextRequestId();
      s.send({ type: 'publish', ...address, payload: Buffer.from('x'), request_id: unacked });
      await s.expectError('a publish with request_id but no ack to another tenant', {
        code: 'forbidden',
        requestId: unacked,
      });
      id = s.nextRequestId();
      s.fs.write(
        encodeBinaryPublishBatch({
          ...address,
          payloads: [Buffer.from('x')],
          request_id: id,
          ack: 'per_batch',
        }),
      );
      await s.expectError('an acked binary batch to another tenant', {
        type: 'publish_error',
        code: 'forbidden',
        requestId: id,
      });
      s.send({ type: 'subscribe', ...address });
      await s.expectError('a subscribe to another tenant', { code: 'forbidden' });
      id = s.nextRequestId();
      s.send({
        type: 'cache_get',
        tenant_id: other,
        namespace: NAMESPACE,
        cache: 'c',
        key: 'k',
        request_id: id,
      });
      await s.expectError('a cache_get in another tenant', { code: 'forbidden', requestId: id });
      await ctx.stillServed(s);
    },

    /** Names breaking the rules are refused on auto-create; a 255-byte name is fine. */
    async bad_names(ctx) {
      const s = await ctx.authed();
      const bad = [
        'bad name!',
        '',
        '.starts-with-dot',
        '-starts-with-dash',
        'ünicode',
        'slash/inside',
        'a'.repeat(256),
      ];
      for (const name of bad) {
        const shown = name.length > 20 ? `${name.length}-byte name` : JSON.stringify(name);
        let id = s.nextRequestId();
        s.send({
          type: 'publish',
          tenant_id: s.tenant,
          namespace: NAMESPACE,
          stream: name,
          payload: Buffer.from('x'),
          request_id: id,
          ack: 'per_message',
        });
        await s.expectError(`a publish to stream ${shown}`, {
          type: 'publish_error',
          code: 'invalid_request',
          requestId: id,
        });
        id = s.nextRequestId();
        s.send({
          type: 'publish',
          tenant_id: s.tenant,
          namespace: name,
          stream: 'ok-stream',
          payload: Buffer.from('x'),
          request_id: id,
          ack: 'per_message',
        });
        await s.expectError(`a publish in namespace ${shown}`, {
          type: 'publish_error',
          code: 'invalid_request',
          requestId: id,
        });
        s.send({ type: 'subscribe', tenant_id: s.tenant, namespace: NAMESPACE, stream: name });
        await s.expectError(`a subscribe to stream ${shown}`, { code: 'invalid_request' });
        id = s.nextRequestId();
        s.send({
          type: 'cache_put',
          tenant_id: s.tenant,
          namespace: NAMESPACE,
          cache: name,
          key: 'k',
          value: Buffer.from('v'),
          request_id: id,
          ttl_ms: null,
        });
        await s.expectError(`a cache_put in cache ${shown}`, { code: 'invalid_request', requestId: id });
      }
      // A tenant name breaking the rules: the auth itself is accepted, its requests are refused.
      const badTenant = await ctx.authed(undefined, { tenant: 'bad tenant!' });
      const id = badTenant.nextRequestId();
      badTenant.send({
        type: 'publish',
        tenant_id: 'bad tenant!',
        namespace: NAMESPACE,
        stream: 'ok-stream',
        payload: Buffer.from('x'),
        request_id: id,
        ack: 'per_message',
      });
      await badTenant.expectError('a publish in tenant "bad tenant!"', {
        type: 'publish_error',
        code: 'invalid_request',
        requestId: id,
      });
      const longest = `${ctx.names.next('max')}-`.padEnd(255, 'x');
      await during('a publish to a 255-byte stream name', () => s.publish(longest, ['x']));
      await ctx.stillServed(s);
    },

    async bad_magic(ctx) {
      await streamEnded(ctx, 'a header with bad magic', (fs) => {
        fs.write(rawHeader({ magic: 0xdeadbeef, length: 2 }));
        fs.write(Buffer.from('{}'));
      });
    },

    async bad_version(ctx) {
      await streamEnded(ctx, 'a header with version 2', (fs) => {
        fs.write(rawHeader({ version: 2, length: 2 }));
        fs.write(Buffer.from('{}'));
      });
    },

    /**
     * Client-opened unidirectional streams are refused (STOP_SENDING 0x101): nothing sent on one has any
     * effect, and the connection carries on. quiche forgets a unidirectional stream the moment the peer
     * stops it, so the code is checked only when the transport gets to report it.
     */
    async unidirectional_stream(ctx) {
      const link = await ctx.connect();
      const stream = ctx.names.next('uni');
      const uni = link.openUniStream();
      uni.send({ type: 'auth', tenant_id: ctx.tenant, token: ctx.settings.token, client_flags: 0x3f });
      uni.send({
        type: 'publish',
        tenant_id: ctx.tenant,
        namespace: NAMESPACE,
        stream,
        payload: Buffer.from('from-unidirectional'),
      });
      await during('a bidirectional stream on the same connection', async () => {
        const s = await ctx.authed(link);
        await s.publish(stream, ['from-bidirectional']);
      });
      expectEvents(
        await readBack(ctx, stream, 1),
        ['from-bidirectional'],
        0,
        'the stream a unidirectional stream published to (its publish must have no effect)',
      );
      if (uni.stopCode !== null)
        expectThat(uni.stopCode === 0x101, `STOP_SENDING has code ${hex(uni.stopCode)}, expected 0x101`);
      await ctx.stillServed();
      return uni.stopCode === null ? 'refused; its STOP_SENDING code was not observable' : undefined;
    },

    /** A stream that ends inside a frame: nothing is answered, the stream ends, the rest is served. */
    async stream_ends_mid_frame(ctx) {
      const link = await ctx.connect();
      const s = await ctx.authed(link);
      s.fs.write(rawHeader({ flags: 0, length: 100 }));
      s.fs.write(Buffer.from('{"type":"pub'));
      s.fs.end();
      await s.fs.ended('the broker ending a stream that ended mid-frame');
      if (s.fs.unread > 0) {
        const frame = await s.fs.next('');
        throw new CheckFailure(
          `expected no answer to a stream ending mid-frame, got ${describeFrame(frame)}`,
        );
      }
      await during('another stream on the same connection', async () => {
        const other = await ctx.authed(link);
        await other.publish(ctx.names.next('after-mid-frame'), ['x']);
      });
      await ctx.stillServed();
    },
  }),
  ...INVALID_LAYOUTS.map(invalidLayoutCheck),
];
