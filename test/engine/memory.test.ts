/**
 * Memory a client can make the broker hold, measured through the stream port without sockets: what the
 * broker queues for a client that does not read (writableLength of the in-memory stream), what partial
 * frames cost, and what unfinished chunked publishes hold (the broker's own in-flight accounting).
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import {
  HEADER_BYTES,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  encodeMessage,
  encodeJsonMessage,
} from '../../wire/index.js';
import { CacheTarget, encodeCacheLookup, encodeCachePut } from '../../wire/cache-request-writer.js';
import { framesOf, decodeAnswers, settle, engineFixture } from './engine-harness.js';
import { rawHeader } from './hostile-frames.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** What the session lets wait in the transport before it stops reading requests (stream-session.ts). */
const REPLY_WRITE_AHEAD = 4 * MiB;
const MAX_FRAME = 64 * KiB;
const ENV = {
  FELIX_MAX_FRAME_BYTES: String(MAX_FRAME),
  FELIX_CACHE_MAX_VALUE_BYTES: String(32 * KiB),
  FELIX_EVENT_BATCH_MAX_BYTES: String(16 * KiB),
};

// The file's broker and connections; every test must leave the internal-error count at 0.
const fixture = engineFixture();
const { connect } = fixture;

async function externalAfterGc(): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  await new Promise<void>((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage().arrayBuffers;
}

describe('memory a client can make the broker hold', () => {
  it('partial frames cost what arrived, not what their headers declare', async () => {
    fixture.use(ENV);
    const conn = connect();
    const streams = Array.from({ length: 64 }, () => conn.authedStream());
    // Every stream declares a frame at the limit and sends 100 bytes of it.
    const partial = Buffer.concat([rawHeader(0, MAX_FRAME), Buffer.alloc(100, 0x20)]);
    const before = await externalAfterGc();
    for (const s of streams) s.clientWrite(partial);
    const held = (await externalAfterGc()) - before;
    // The decoder grows its buffer with the data (from 4 KiB), never to the declared 64 KiB.
    expect(held).toBeLessThan(streams.length * 8 * KiB);
    for (const s of streams) expect(s.delivered).toBeGreaterThan(HEADER_BYTES);
  });

  it('a frame over the limit is skipped unbuffered however long it is', async () => {
    fixture.use(ENV);
    const s = connect().authedStream({ client_flags: 0x1f, client_features: KNOWN_FEATURES });
    s.clientWrite(rawHeader(0, 0xffffffff));
    const before = await externalAfterGc();
    for (let i = 0; i < 64; i++) s.clientWrite(Buffer.alloc(32 * KiB, 0x41));
    expect((await externalAfterGc()) - before).toBeLessThan(1 * MiB);
    expect(decodeAnswers(s.received()).map((a) => a.frame)).toEqual([
      expect.objectContaining({ type: 'auth_ok' }),
      expect.objectContaining({ type: 'error', code: 'limit_exceeded' }),
    ]);
  });

  it('a client that reads no answers makes the broker stop reading its requests near the write-ahead', async () => {
    fixture.use(ENV);
    const s = connect().authedStream({ client_flags: KNOWN_FLAGS, client_features: KNOWN_FEATURES });
    const cache = new CacheTarget('t1', 'ns', 'c');
    s.clientWrite(encodeCachePut(cache, 'big', Buffer.alloc(32 * KiB, 0x42), 1, null, true));
    s.network = 'stalled';
    // One transport read's worth of small requests, each answered with the 32 KiB value.
    const get = encodeCacheLookup('cache_get', cache, 'big', 2, true);
    const requests = Buffer.concat(Array.from({ length: Math.floor((32 * KiB) / get.length) }, () => get));
    for (let i = 0; i < 4; i++) s.clientWrite(requests);
    await settle();
    // The broker may finish the read it is in when the mark is passed, but not hold much more than the
    // write-ahead plus one answer: the client controls how much it reads, the broker how much it queues.
    expect(s.isPaused).toBe(true);
    expect(s.writableLength).toBeLessThanOrEqual(REPLY_WRITE_AHEAD + MAX_FRAME);
  });

  it('unfinished chunked publishes hold no more than the connection’s in-flight budget', async () => {
    const limit = 1 * MiB;
    fixture.use({ ...ENV, FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: String(limit) });
    const conn = connect();
    // The largest message (one frame less the event envelope): a publish announcing more is refused outright.
    const total = MAX_FRAME - KiB;
    // 16 KiB: as base64 in JSON it still fits the 64 KiB frame.
    const piece = Buffer.alloc(16 * KiB, 0x43);
    const streams = [];
    // Four streams, each starting sixteen unacked chunked publishes of the largest message and never ending
    // them: 64 of them would hold four times the budget.
    for (let stream = 0; stream < 4; stream++) {
      const s = conn.authedStream({ client_flags: 0x1f, client_features: KNOWN_FEATURES });
      streams.push(s);
      for (let offset = 0; offset < total - piece.length; offset += piece.length) {
        for (let id = 0; id < 16; id++) {
          s.clientWrite(
            encodeJsonMessage({
              type: 'publish_chunk',
              tenant_id: 't1',
              namespace: 'ns',
              stream: 's',
              publish_id: id,
              total_len: total,
              byte_offset: offset,
              payload: piece,
            }),
          );
        }
      }
    }
    await settle();
    // A chunked publish reserves its whole length from its first piece: the first ones fill the budget,
    // every later one is refused with an error (and its later pieces are dropped unanswered).
    const answers = streams.flatMap((s) => decodeAnswers(s.received()).map((a) => a.frame?.type));
    expect(answers.filter((t) => t === 'auth_ok')).toHaveLength(4);
    expect(answers.filter((t) => t === 'error').length).toBeGreaterThan(0);
    expect(answers.every((t) => t === 'auth_ok' || t === 'error')).toBe(true);
    // What unfinished publishes hold is charged to the connection and stays within its budget.
    expect(conn.session.publishBytes.bytes).toBeLessThanOrEqual(limit);
    expect(conn.session.publishBytes.bytes).toBeGreaterThan(0);
  });

  it('a chunked publish the broker abandons gives its bytes back to the budget', async () => {
    fixture.use(ENV);
    const conn = connect();
    const s = conn.authedStream({ client_flags: 0x1f, client_features: KNOWN_FEATURES });
    const chunk = (byte_offset: number, request_id?: number) =>
      encodeJsonMessage({
        type: 'publish_chunk',
        tenant_id: 't1',
        namespace: 'ns',
        stream: 's',
        publish_id: 1,
        total_len: 60 * KiB,
        byte_offset,
        payload: Buffer.alloc(20 * KiB, 0x44),
        ...(request_id === undefined ? {} : { request_id, ack: 'per_message' as const }),
      });
    s.clientWrite(chunk(0, 8));
    s.clientWrite(chunk(20 * KiB));
    // A piece that does not continue the publish: refused, and the publish is dropped with its 40 KiB.
    s.clientWrite(chunk(30 * KiB));
    await settle();
    // Refused naming the acked publish the piece belongs to (its first piece carried request 8).
    expect(framesOf(s).slice(1)).toEqual([
      expect.objectContaining({ type: 'publish_error', request_id: 8, code: 'invalid_request' }),
    ]);
    // Nothing is held for the stream any more, so nothing may stay charged to its connection.
    expect(conn.session.publishBytes.bytes).toBe(0);
    expect(fixture.engine.broker.budget.total).toBe(0);
  });

  it('event streams of a stalled subscriber hold at most the event send window', async () => {
    fixture.use({
      ...ENV,
      FELIX_EVENT_SEND_WINDOW: String(256 * KiB),
      FELIX_FANOUT_BATCH: '1',
      FELIX_SUB_QUEUE_CAPACITY: '8',
    });
    const conn = connect();
    const control = conn.authedStream({ client_flags: 0x27 });
    control.clientWrite(
      encodeMessage({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 's', subscription_id: 1 }),
    );
    const events = conn.peer.brokerStreams[0]!;
    events.network = 'stalled';
    const pub = conn.authedStream();
    for (let i = 0; i < 200; i++) {
      pub.clientWrite(
        encodeMessage({
          type: 'publish',
          tenant_id: 't1',
          namespace: 'ns',
          stream: 's',
          payload: Buffer.alloc(8 * KiB, i),
        }),
      );
      await settle(1);
    }
    await settle();
    expect(events.writableLength).toBeLessThanOrEqual(256 * KiB + 16 * KiB + HEADER_BYTES + 16);
    expect(fixture.engine.broker.stats.drops.drop_new).toBeGreaterThan(0);
  });
});
