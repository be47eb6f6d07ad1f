/**
 * The broker's protocol engine without sockets: the real ConnectionSession and StreamSession over
 * in-memory streams. Publish → subscribe → event delivery, and the event encodings each subscriber's own
 * auth negotiated (docs/protocol.md, "Event encodings").
 */
import { describe, expect, it } from 'vitest';
import {
  FEATURE_ERROR_CODES,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
  HEADER_BYTES,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  STREAM_CODE_PROTOCOL_ERROR,
  encodeBinaryPublishBatch,
  encodeMessage,
  type BinaryEventBatch,
  type DecodedFrame,
  type Message,
} from '../../wire/index.js';
import { EngineConnection, decodeAnswers, framesOf, until, engineFixture } from './engine-harness.js';
import type { MemoryStream } from './memory-stream.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString();
const address = { tenant_id: 't1', namespace: 'ns', stream: 's' } as const;

// The file's broker and connections; every test must leave the internal-error count at 0.
const fixture = engineFixture();
const { connect } = fixture;

function send(stream: MemoryStream, message: Message): void {
  stream.clientWrite(encodeMessage(message));
}

/** The event stream the broker opened for the next subscription on `conn`. */
function subscribe(
  conn: EngineConnection,
  control: MemoryStream,
  subscriptionId: number,
  msgpack = false,
): MemoryStream {
  const before = conn.peer.brokerStreams.length;
  control.clientWrite(
    encodeMessage({ type: 'subscribe', ...address, subscription_id: subscriptionId }, { msgpack }),
  );
  expect(conn.peer.brokerStreams.length).toBe(before + 1);
  const events = conn.peer.brokerStreams[before]!;
  expect(events.bidirectional).toBe(false);
  return events;
}

/** Waits until the event stream holds `count` frames (its hello included), and returns them with their flags. */
async function eventFrames(
  events: MemoryStream,
  count: number,
): Promise<{ flags: number; frame: DecodedFrame }[]> {
  await until(
    () => decodeAnswers(events.received()).length >= count,
    `${count} frames on event stream ${events.id}`,
  );
  return decodeAnswers(events.received()).map((a) => ({ flags: a.flags, frame: a.frame! }));
}

describe('engine without sockets', () => {
  it('answers auth, acks publishes and delivers them to a subscriber with offsets', async () => {
    fixture.use({ FELIX_FANOUT_BATCH: '1' });
    const conn = connect();
    const control = conn.authedStream({
      client_flags: KNOWN_FLAGS & ~FLAG_MSGPACK,
      client_features: KNOWN_FEATURES,
    });
    const events = subscribe(conn, control, 7);
    expect(framesOf(control)).toEqual([
      {
        type: 'auth_ok',
        server_flags: KNOWN_FLAGS,
        server_features: expect.any(Number),
        max_frame_bytes: expect.any(Number),
      },
      { type: 'subscribed', subscription_id: 7, epoch: expect.any(Number), start_offset: expect.any(Number) },
    ]);

    const pub = conn.authedStream({ client_flags: 0x1f });
    pub.clientWrite(
      encodeBinaryPublishBatch({
        ...address,
        payloads: [Buffer.from('a'), Buffer.from('b')],
        request_id: 41,
        ack: 'per_batch',
      }),
    );
    send(pub, { type: 'publish', ...address, payload: Buffer.from('c'), request_id: 42, ack: 'per_message' });
    expect(framesOf(pub).slice(1)).toEqual([
      { type: 'publish_ok', request_id: 41 },
      { type: 'publish_ok', request_id: 42 },
    ]);

    const received = await eventFrames(events, 4);
    expect(received[0]!.frame).toEqual({ type: 'event_stream_hello', subscription_id: 7 });
    const delivered = received.slice(1).flatMap(({ flags, frame }) => {
      expect(flags).toBe(0xa4); // shared batches with offsets and, negotiated, the timing stamps
      const b = frame as BinaryEventBatch;
      return b.payloads.map((p, i) => ({ offset: b.base_offset! + i, text: text(p) }));
    });
    expect(delivered).toEqual([
      { offset: 0, text: 'a' },
      { offset: 1, text: 'b' },
      { offset: 2, text: 'c' },
    ]);
  });

  it('keeps cache values and publishes intact although every received chunk is overwritten after onData', async () => {
    fixture.use();
    const conn = connect();
    const s = conn.authedStream({ client_flags: KNOWN_FLAGS, client_features: KNOWN_FEATURES });
    const value = Buffer.from('the value, not the poison');
    s.clientWrite(
      encodeMessage(
        {
          type: 'cache_put',
          tenant_id: 't1',
          namespace: 'ns',
          cache: 'c',
          key: 'k',
          value,
          request_id: 1,
          ttl_ms: null,
        },
        { msgpack: true },
      ),
    );
    s.clientWrite(
      encodeMessage(
        { type: 'cache_get', tenant_id: 't1', namespace: 'ns', cache: 'c', key: 'k', request_id: 2 },
        { msgpack: true },
      ),
    );
    const [, ok, got] = framesOf(s);
    expect(ok).toEqual({ type: 'cache_ok', request_id: 1 });
    expect(got).toMatchObject({ type: 'cache_value', request_id: 2 });
    expect(text((got as { value: Uint8Array }).value)).toBe(value.toString());
  });

  it('ends a stream whose first frame is not auth with unauthenticated, FIN and STOP_SENDING 0x101', () => {
    fixture.use();
    const conn = connect();
    const s = conn.stream();
    send(s, { type: 'publish', ...address, payload: Buffer.from('x') });
    expect(framesOf(s)).toEqual([{ type: 'error', message: expect.any(String) }]);
    expect(s.finReceived).toBe(true);
    expect(s.stopCode).toBe(STREAM_CODE_PROTOCOL_ERROR);
    expect(s.resetCode).toBeNull();
  });

  it('picks unique positive subscription ids and refuses a client-chosen id already in use', () => {
    fixture.use();
    const conn = connect();
    const control = conn.authedStream({ client_flags: 0x27, client_features: FEATURE_ERROR_CODES });
    send(control, { type: 'subscribe', ...address, subscription_id: 2 });
    send(control, { type: 'subscribe', ...address });
    send(control, { type: 'subscribe', ...address });
    send(control, { type: 'subscribe', ...address, subscription_id: 2 });
    const [, chosen, a, b, clash] = framesOf(control);
    expect(chosen).toEqual({
      type: 'subscribed',
      subscription_id: 2,
      epoch: expect.any(Number),
      start_offset: expect.any(Number),
    });
    const picked = [a, b].map((f) => (f as { subscription_id: number }).subscription_id);
    for (const id of picked) expect(Number.isSafeInteger(id) && id > 0 && id !== 2).toBe(true);
    expect(picked[0]).not.toBe(picked[1]);
    expect(clash).toMatchObject({ type: 'error', code: 'invalid_request' });
    expect(conn.peer.brokerStreams).toHaveLength(3);
  });

  it('with FELIX_DISABLE_TIMINGS=1 advertises its set without 0x80 (0x7f of the low byte) and sends no stamps to a subscriber that offered them', async () => {
    fixture.use({ FELIX_DISABLE_TIMINGS: '1' });
    const conn = connect();
    const control = conn.authedStream({ client_flags: KNOWN_FLAGS & ~FLAG_MSGPACK });
    const events = subscribe(conn, control, 3);
    expect(framesOf(control)[0]).toMatchObject({
      type: 'auth_ok',
      server_flags: KNOWN_FLAGS & ~FLAG_TIMINGS,
    });
    send(conn.authedStream(), { type: 'publish', ...address, payload: Buffer.from('x') });
    const frames = await eventFrames(events, 2);
    expect(frames[1]!.flags).toBe(0x24);
  });

  it('refuses a client-opened unidirectional stream with STOP_SENDING 0x101', () => {
    fixture.use();
    const conn = connect();
    const uni = conn.peer.openClientStream(false);
    expect(uni.stopCode).toBe(STREAM_CODE_PROTOCOL_ERROR);
  });
});

interface NegotiationCase {
  readonly offer: number | undefined;
  /** The header flags every event frame carries. */
  readonly eventFlags: number;
  /** The hello's flags: MessagePack only when the subscriber offered it. */
  readonly helloFlags: number;
  /** Events carry their offsets. */
  readonly offsets: boolean;
  /** Reads the events of one frame as [offset or null, text]. */
  readonly read: (frame: DecodedFrame) => [number | null, string][];
}

const binary =
  (withOffsets: boolean, subscriptionId?: number) =>
  (frame: DecodedFrame): [number | null, string][] => {
    const b = frame as BinaryEventBatch;
    expect(b.type).toBe('binary_event_batch');
    expect(b.subscription_id).toBe(subscriptionId);
    expect(b.base_offset === undefined).toBe(!withOffsets);
    return b.payloads.map((p, i) => [withOffsets ? b.base_offset! + i : null, text(p)]);
  };

const messages = (frame: DecodedFrame): [number | null, string][] => {
  if (frame.type === 'event') {
    expect(frame).toMatchObject(address);
    return [[frame.offset!, text(frame.payload)]];
  }
  expect(frame.type).toBe('event_batch');
  const batch = frame as Extract<Message, { type: 'event_batch' }>;
  expect(batch).toMatchObject(address);
  return batch.payloads.map((p, i) => [batch.base_offset! + i, text(p)]);
};

const NEGOTIATION: NegotiationCase[] = [
  // No client_flags: Felix's default 0x07, so shared batches, without offsets (0x20 was not offered).
  { offer: undefined, eventFlags: 0x04, helloFlags: 0, offsets: false, read: binary(false) },
  // 0: JSON only.
  { offer: 0, eventFlags: 0, helloFlags: 0, offsets: true, read: messages },
  // Publish-side bits only (0x01, 0x08, 0x10): no event encoding but JSON.
  { offer: 0x19, eventFlags: 0, helloFlags: 0, offsets: true, read: messages },
  // MessagePack only: MessagePack event_batch / event.
  { offer: 0x40, eventFlags: FLAG_MSGPACK, helloFlags: FLAG_MSGPACK, offsets: true, read: messages },
  // Shared and offsets (and the per-subscription form, which shared wins over).
  { offer: 0x27, eventFlags: 0x24, helloFlags: 0, offsets: true, read: binary(true) },
  // Per-subscription batches with offsets: they name the subscription.
  { offer: 0x22, eventFlags: 0x22, helloFlags: 0, offsets: true, read: binary(true, 9) },
];

describe('event encodings follow each subscriber’s own negotiation', () => {
  for (const c of NEGOTIATION) {
    const name = c.offer === undefined ? 'absent' : `0x${c.offer.toString(16).padStart(2, '0')}`;
    it(`client_flags ${name} → event frames with flags 0x${c.eventFlags.toString(16).padStart(2, '0')}`, async () => {
      fixture.use();
      const conn = connect();
      const auth: Partial<Extract<Message, { type: 'auth' }>> = { client_features: FEATURE_ERROR_CODES };
      if (c.offer !== undefined) auth.client_flags = c.offer;
      const control = conn.authedStream(auth);
      const msgpackReplies = ((c.offer ?? 0x07) & FLAG_MSGPACK) !== 0;
      const events = subscribe(conn, control, 9, msgpackReplies);
      const answers = decodeAnswers(control.received());
      expect(answers.map((a) => a.frame)).toEqual([
        c.offer === undefined
          ? { type: 'ok' }
          : {
              type: 'auth_ok',
              server_flags: KNOWN_FLAGS,
              server_features: expect.any(Number),
              max_frame_bytes: expect.any(Number),
            },
        {
          type: 'subscribed',
          subscription_id: 9,
          epoch: expect.any(Number),
          start_offset: expect.any(Number),
        },
      ]);
      // auth_ok is always JSON; later replies are MessagePack exactly when both offered it.
      expect(answers.map((a) => a.flags)).toEqual([0, msgpackReplies ? FLAG_MSGPACK : 0]);

      // A publisher offering everything must not change what this subscriber gets.
      const pub = conn.authedStream({ client_flags: KNOWN_FLAGS, client_features: KNOWN_FEATURES });
      send(pub, { type: 'publish_batch', ...address, payloads: [Buffer.from('p0'), Buffer.from('p1')] });
      const first = await eventFrames(events, 2);
      send(pub, { type: 'publish', ...address, payload: Buffer.from('p2') });
      const frames = await eventFrames(events, 3);
      expect(frames.slice(0, 2)).toEqual(first);

      expect(frames[0]).toEqual({
        flags: c.helloFlags,
        frame: { type: 'event_stream_hello', subscription_id: 9 },
      });
      const delivered = frames.slice(1).flatMap(({ flags, frame }) => {
        expect(flags).toBe(c.eventFlags);
        return c.read(frame);
      });
      const offsets = c.offsets ? [0, 1, 2] : [null, null, null];
      expect(delivered).toEqual([
        [offsets[0], 'p0'],
        [offsets[1], 'p1'],
        [offsets[2], 'p2'],
      ]);
      if (c.read === messages) {
        // Two events in one batch travel as event_batch, a lone event as event.
        expect(frames.slice(1).map((f) => f.frame.type)).toEqual(['event_batch', 'event']);
      }
      expect(events.received().length).toBeGreaterThan(HEADER_BYTES);
      expect(events.resetCode).toBeNull();
    });
  }
});
