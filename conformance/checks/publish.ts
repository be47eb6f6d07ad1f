// Each publish form and ack mode: docs/protocol.md "Publish", "Binary layouts", "Chunked publish",
// "Idempotent publish".
import { randomInt } from 'node:crypto';
import {
  FEATURE_IDEMPOTENT_PUBLISH,
  FEATURE_PUBLISH_CHUNK,
  FLAG_BINARY_PUBLISH_ACK,
  FLAG_BINARY_PUBLISH_PRODUCER,
  FLAG_TIMINGS,
  encodeBinaryPublishBatch,
  encodeMessage,
  monotonicNs,
  supportsFeature,
  type MessageOf,
} from '../../wire/index.js';
import type { CheckContext } from '../context.js';
import { describeFrame, hex } from '../describe.js';
import { CheckFailure, expectThat } from '../failure.js';
import { area } from '../registry.js';
import { DEFAULT_OFFER, NAMESPACE, type AuthOffer, type AuthedStream } from '../session.js';
import { expectEvents, readBack } from './common.js';

/**
 * Sends an acked publish as a sentinel and expects its publish_ok to be the very next frame: proof that
 * nothing was answered to what was sent before it.
 */
async function sentinel(s: AuthedStream, stream: string, what: string): Promise<void> {
  const id = s.nextRequestId();
  s.send({
    type: 'publish',
    tenant_id: s.tenant,
    namespace: NAMESPACE,
    stream,
    payload: Buffer.from('sentinel'),
    request_id: id,
    ack: 'per_message',
  });
  const { frame, message } = await s.answer(`publish_ok of the sentinel publish sent after ${what}`);
  if (message.type !== 'publish_ok' || message.request_id !== id)
    throw new CheckFailure(
      `after ${what}, the next frame should answer the sentinel request ${id}, got ${describeFrame(frame)}`,
    );
}

function features(s: AuthedStream): number {
  return s.authReply.type === 'auth_ok' ? (s.authReply.server_features ?? 0) : 0;
}

/**
 * A producer id of this run alone (the broker remembers producers for FELIX_DEDUP_WINDOW_MS, so a fixed
 * one would meet the previous run's sequences).
 */
function freshProducerId(): number {
  return randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
}

/** The idempotent-publish check: sends sequence 1, its retry on another connection, then sequence 2. */
async function idempotentRetry(
  ctx: CheckContext,
  offer: AuthOffer,
  send: (s: AuthedStream, stream: string, producer: number, sequence: number, text: string) => number,
): Promise<string | undefined> {
  const first = await ctx.authed(undefined, offer);
  if (!supportsFeature(features(first), FEATURE_IDEMPOTENT_PUBLISH))
    return 'IDEMPOTENT_PUBLISH not advertised: nothing to check';
  const stream = ctx.names.next('idempotent');
  const producer = freshProducerId();
  const answer = async (s: AuthedStream, id: number, what: string): Promise<void> => {
    const { frame, message } = await s.answer(`publish_ok for ${what} (request ${id})`);
    expectThat(
      message.type === 'publish_ok' && message.request_id === id,
      `expected publish_ok for ${what} (request ${id}), got ${describeFrame(frame)}`,
    );
  };
  await answer(first, send(first, stream, producer, 1, 'one'), 'sequence 1');
  // The retry comes as a reconnected client sends it: on a new connection, the same producer and sequence.
  const retry = await ctx.authed(undefined, offer);
  await answer(retry, send(retry, stream, producer, 1, 'one'), 'sequence 1 sent again on another connection');
  await answer(retry, send(retry, stream, producer, 1, 'one'), 'sequence 1 sent a third time');
  await answer(retry, send(retry, stream, producer, 2, 'two'), 'sequence 2');
  await sentinel(retry, stream, 'a retried publish');
  expectEvents(await readBack(ctx, stream, 3), ['one', 'two', 'sentinel'], 0, 'the stream afterwards');
  return undefined;
}

/** A JSON publish or publish_batch with the given ack fields, its reply read by the caller. */
function sendJson(
  s: AuthedStream,
  stream: string,
  payloads: readonly string[],
  fields: { request_id?: number; ack?: MessageOf<'publish'>['ack'] },
): void {
  const address = { tenant_id: s.tenant, namespace: NAMESPACE, stream };
  if (payloads.length === 1)
    s.send({ type: 'publish', ...address, payload: Buffer.from(payloads[0]!), ...fields });
  else
    s.send({ type: 'publish_batch', ...address, payloads: payloads.map((p) => Buffer.from(p)), ...fields });
}

/** One publish_ok for the whole frame, whatever the ack mode; nothing after it. */
async function oneAckPerFrame(
  ctx: CheckContext,
  kind: 'json' | 'binary',
  ack: 'per_message' | 'per_batch',
): Promise<void> {
  const s = await ctx.authed();
  const stream = ctx.names.next(`${kind}-${ack}`);
  const id = s.nextRequestId();
  const payloads = ['a', 'b', 'c'];
  if (kind === 'json') sendJson(s, stream, payloads, { request_id: id, ack });
  else
    s.fs.write(
      encodeBinaryPublishBatch({
        tenant_id: s.tenant,
        namespace: NAMESPACE,
        stream,
        payloads: payloads.map((p) => Buffer.from(p)),
        request_id: id,
        ack,
      }),
    );
  const frame = await s.fs.next(`the ack of a ${kind} batch of 3 with ack ${ack}`);
  const m = frame.message;
  expectThat(
    m?.type === 'publish_ok' && m.request_id === id,
    `expected publish_ok for request ${id}, got ${describeFrame(frame)}`,
  );
  if (kind === 'binary')
    expectThat(
      frame.flags === FLAG_BINARY_PUBLISH_ACK,
      `an acked binary batch is answered by a binary ack (flags 0x10), got flags ${hex(frame.flags)}`,
    );
  await sentinel(s, stream, `one ack for a batch of 3 with ack ${ack}`);
  expectEvents(await readBack(ctx, stream, 4), [...payloads, 'sentinel'], 0, 'the stream afterwards');
}

export const publishChecks = area('publish', {
  /** JSON publish with ack per_message: publish_ok with its request_id (any from 0 to 2^53 - 1). */
  async json_publish_acked(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('json-publish');
    const ids = [7, 0, Number.MAX_SAFE_INTEGER];
    for (const id of ids) {
      sendJson(s, stream, [`hello-${id}`], { request_id: id, ack: 'per_message' });
      const ok = await s.expect('publish_ok', `publish_ok for request ${id}`);
      expectThat(ok.request_id === id, `publish_ok names ${ok.request_id}, sent ${id}`);
    }
    expectEvents(
      await readBack(ctx, stream, 3),
      ids.map((id) => `hello-${id}`),
      0,
      'the published events',
    );
  },

  /** JSON in any field order, with whitespace and unknown fields; null reads as absent. */
  async json_any_field_order(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('field-order');
    const id = s.nextRequestId();
    s.fs.sendJsonText(
      `{ "ack" : "per_message", "request_id" : ${id}, "unknown" : {"nested": [1, 2]},\n` +
        `  "payload" : "b3JkZXI=", "stream" : "${stream}", "namespace" : "${NAMESPACE}",\n` +
        `  "tenant_id" : ${JSON.stringify(s.tenant)}, "type" : "publish" }`,
    );
    const ok = await s.expect('publish_ok', `publish_ok for a reordered publish ${id}`);
    expectThat(ok.request_id === id, `publish_ok names ${ok.request_id}, sent ${id}`);
    s.fs.sendJsonText(
      `{"type":"publish","tenant_id":${JSON.stringify(s.tenant)},"namespace":"${NAMESPACE}","stream":"${stream}","payload":"bnVsbA==","request_id":${s.nextRequestId()},"ack":null}`,
    );
    await sentinel(s, stream, 'a publish with "ack": null (no ack)');
    expectEvents(await readBack(ctx, stream, 3), ['order', 'null', 'sentinel'], 0, 'the stream afterwards');
  },

  /** Frames split over several writes, and several frames in one write, are all read. */
  async frames_split_and_coalesced(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('framing');
    const frame = (id: number): Buffer =>
      encodeMessage({
        type: 'publish',
        tenant_id: s.tenant,
        namespace: NAMESPACE,
        stream,
        payload: Buffer.from(`m${id}`),
        request_id: id,
        ack: 'per_message',
      });
    s.fs.write(Buffer.concat([frame(101), frame(102), frame(103)]));
    const split = frame(104);
    for (const [from, to] of [
      [0, 5],
      [5, 12],
      [12, 20],
      [20, split.length],
    ] as const) {
      s.fs.write(split.subarray(from, to));
      // A turn of the event loop between pieces, so they tend to leave in separate packets.
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const id of [101, 102, 103, 104]) {
      const ok = await s.expect('publish_ok', `publish_ok for request ${id}`);
      expectThat(ok.request_id === id, `publish_ok names ${ok.request_id}, expected ${id}`);
    }
  },

  /** A client that ends its side (FIN) still gets the answers to what it sent, then the broker's FIN. */
  async answers_before_fin(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('fin');
    const id = s.nextRequestId();
    sendJson(s, stream, ['last-words'], { request_id: id, ack: 'per_message' });
    s.fs.end();
    const ok = await s.expect('publish_ok', `publish_ok for request ${id}, sent just before FIN`);
    expectThat(ok.request_id === id, `publish_ok names ${ok.request_id}, sent ${id}`);
    const end = await s.fs.ended('the broker ending its side after the client’s FIN');
    expectThat(end === 'fin', `the broker reset the stream instead of ending it with FIN`);
  },

  /** Unanswered publishes: ack none, no ack field, or an ack mode without request_id. */
  async json_publish_unacked(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('json-unacked');
    sendJson(s, stream, ['none'], { request_id: s.nextRequestId(), ack: 'none' });
    sendJson(s, stream, ['absent'], { request_id: s.nextRequestId() });
    sendJson(s, stream, ['no-id'], { ack: 'per_message' });
    sendJson(s, stream, ['batch-none-1', 'batch-none-2'], { ack: 'none' });
    await sentinel(s, stream, 'four publishes that ask for no ack');
    expectEvents(
      await readBack(ctx, stream, 6),
      ['none', 'absent', 'no-id', 'batch-none-1', 'batch-none-2', 'sentinel'],
      0,
      'the stream afterwards',
    );
  },

  async json_batch_per_message_one_ack(ctx) {
    await oneAckPerFrame(ctx, 'json', 'per_message');
  },

  async json_batch_per_batch_one_ack(ctx) {
    await oneAckPerFrame(ctx, 'json', 'per_batch');
  },

  /** Binary batch 0x01: never answered; its events are published in order. */
  async binary_batch_unacked(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('binary-unacked');
    s.fs.write(
      encodeBinaryPublishBatch({
        tenant_id: s.tenant,
        namespace: NAMESPACE,
        stream,
        payloads: [Buffer.from('x'), Buffer.from('y')],
      }),
    );
    await sentinel(s, stream, 'a binary batch 0x01');
    expectEvents(await readBack(ctx, stream, 3), ['x', 'y', 'sentinel'], 0, 'the stream afterwards');
  },

  async binary_acked_per_batch_one_ack(ctx) {
    await oneAckPerFrame(ctx, 'binary', 'per_batch');
  },

  async binary_acked_per_message_one_ack(ctx) {
    await oneAckPerFrame(ctx, 'binary', 'per_message');
  },

  /** With TIMINGS negotiated, an acked batch with its send stamp (0x89) is acked as usual. */
  async binary_acked_with_timings(ctx) {
    const s = await ctx.authed(undefined, { flags: 0x3f | FLAG_TIMINGS });
    if ((s.negotiated & FLAG_TIMINGS) === 0) return 'TIMINGS not in server_flags: nothing to check';
    const stream = ctx.names.next('stamped');
    const id = s.nextRequestId();
    const frame = encodeBinaryPublishBatch({
      tenant_id: s.tenant,
      namespace: NAMESPACE,
      stream,
      payloads: [Buffer.from('stamped')],
      request_id: id,
      ack: 'per_batch',
      send_ns: monotonicNs(),
    });
    expectThat(frame.readUInt16BE(6) === 0x89, 'the kit built no 0x89 frame');
    s.fs.write(frame);
    const reply = await s.fs.next(`the binary ack of a 0x89 batch (request ${id})`);
    expectThat(
      reply.flags === FLAG_BINARY_PUBLISH_ACK &&
        reply.message?.type === 'publish_ok' &&
        reply.message.request_id === id,
      `expected a binary ack (0x10) for request ${id}, got ${describeFrame(reply)}`,
    );
    expectEvents(await readBack(ctx, stream, 1), ['stamped'], 0, 'the stamped batch’s event');
  },

  /** publish_chunk (when advertised): pieces interleave with other publishes; one ack after the last. */
  async chunked_publish(ctx) {
    const s = await ctx.authed();
    if (!supportsFeature(features(s), FEATURE_PUBLISH_CHUNK))
      return 'PUBLISH_CHUNK not advertised: nothing to check';
    const stream = ctx.names.next('chunked');
    const whole = Buffer.from('0123456789abcdefghij');
    const id = s.nextRequestId();
    const piece = (offset: number, end: number, first: boolean): MessageOf<'publish_chunk'> => ({
      type: 'publish_chunk',
      tenant_id: s.tenant,
      namespace: NAMESPACE,
      stream,
      publish_id: 1,
      total_len: whole.length,
      byte_offset: offset,
      payload: whole.subarray(offset, end),
      ...(first ? { request_id: id, ack: 'per_message' as const } : {}),
    });
    s.send(piece(0, 8, true));
    await sentinel(s, stream, 'the first piece of a chunked publish (no ack before its last piece)');
    s.send(piece(8, 16, false));
    s.send(piece(16, 20, false));
    const ok = await s.expect('publish_ok', `publish_ok for the chunked publish ${id} after its last piece`);
    expectThat(ok.request_id === id, `publish_ok names ${ok.request_id}, sent ${id}`);
    await sentinel(s, stream, 'the chunked publish’s one ack');
    expectEvents(
      await readBack(ctx, stream, 3),
      ['sentinel', whole.toString(), 'sentinel'],
      0,
      'the stream afterwards',
    );
  },

  /** A chunked publish announcing more than the broker's message limit is refused at its first piece. */
  async chunked_publish_too_large_refused(ctx) {
    const s = await ctx.authed();
    if (!supportsFeature(features(s), FEATURE_PUBLISH_CHUNK))
      return 'PUBLISH_CHUNK not advertised: nothing to check';
    const id = s.nextRequestId();
    s.send({
      type: 'publish_chunk',
      tenant_id: s.tenant,
      namespace: NAMESPACE,
      stream: ctx.names.next('chunk-huge'),
      publish_id: 9,
      total_len: 2 ** 52,
      byte_offset: 0,
      payload: Buffer.from('head'),
      request_id: id,
      ack: 'per_message',
    });
    const { frame, message } = await s.answer(`publish_error for a chunked publish of 2^52 bytes (${id})`);
    expectThat(
      message.type === 'publish_error' && message.request_id === id,
      `expected publish_error for request ${id}, got ${describeFrame(frame)}`,
    );
    await ctx.stillServed(s);
  },

  /** A piece that does not continue its publish drops it, answered by publish_error for its request. */
  async chunked_publish_gap_refused(ctx) {
    const s = await ctx.authed();
    if (!supportsFeature(features(s), FEATURE_PUBLISH_CHUNK))
      return 'PUBLISH_CHUNK not advertised: nothing to check';
    const stream = ctx.names.next('chunk-gap');
    const id = s.nextRequestId();
    const base = { type: 'publish_chunk' as const, tenant_id: s.tenant, namespace: NAMESPACE, stream };
    s.send({
      ...base,
      publish_id: 7,
      total_len: 12,
      byte_offset: 0,
      payload: Buffer.from('abcd'),
      request_id: id,
      ack: 'per_message',
    });
    s.send({ ...base, publish_id: 7, total_len: 12, byte_offset: 8, payload: Buffer.from('ijkl') });
    const { frame, message } = await s.answer(`publish_error for the chunked publish ${id} with a gap`);
    expectThat(
      message.type === 'publish_error' && message.request_id === id,
      `expected publish_error for request ${id}, got ${describeFrame(frame)}`,
    );
    await ctx.stillServed(s);
  },

  /**
   * IDEMPOTENT_PUBLISH: a publish resent with the same producer_id and sequence — on another connection,
   * as a client resends after a reconnect — is answered publish_ok each time and appended once.
   */
  async idempotent_retry_json(ctx) {
    return idempotentRetry(ctx, {}, (s, stream, producer, sequence, text) => {
      const id = s.nextRequestId();
      s.send({
        type: 'publish',
        tenant_id: s.tenant,
        namespace: NAMESPACE,
        stream,
        payload: Buffer.from(text),
        request_id: id,
        ack: 'per_message',
        producer_id: producer,
        sequence,
      });
      return id;
    });
  },

  /**
   * The same with acked binary batches carrying the producer (flags 0x0109, sent only after offering
   * 0x0100), answered by binary acks.
   */
  async idempotent_retry_binary(ctx) {
    const offer = { flags: DEFAULT_OFFER | FLAG_BINARY_PUBLISH_PRODUCER };
    return idempotentRetry(ctx, offer, (s, stream, producer, sequence, text) => {
      const id = s.nextRequestId();
      s.fs.write(
        encodeBinaryPublishBatch({
          tenant_id: s.tenant,
          namespace: NAMESPACE,
          stream,
          payloads: [Buffer.from(text)],
          request_id: id,
          ack: 'per_batch',
          producer_id: producer,
          sequence,
        }),
      );
      return id;
    });
  },
});
