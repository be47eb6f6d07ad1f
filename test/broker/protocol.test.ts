import { describe, expect, it } from 'vitest';
import {
  encodeBinaryPublishBatch,
  encodeFrame,
  KNOWN_FLAGS,
  WireError,
  type BinaryEventBatch,
  type DecodedFrame,
} from '../../wire/index.js';
import { RawStream, connectRaw, eventStreams, startBroker, until } from './raw-client.js';

function events(stream: RawStream): { offset: number; text: string }[] {
  const out: { offset: number; text: string }[] = [];
  for (const f of stream.frames) {
    if (f instanceof WireError || f.type !== 'binary_event_batch') continue;
    const b = f as BinaryEventBatch;
    b.payloads.forEach((p, i) => out.push({ offset: b.base_offset! + i, text: Buffer.from(p).toString() }));
  }
  return out;
}

describe('broker protocol over real QUIC', () => {
  it('answers auth with auth_ok advertising its whole set (not the offer), and a pre-negotiation auth with ok', async () => {
    const node = await startBroker();
    const conn = await connectRaw(node);
    const s = await RawStream.open(conn, null);
    s.send({ type: 'auth', tenant_id: 't1', token: 'x', client_flags: 0x19 });
    expect(await s.next()).toMatchObject({ type: 'auth_ok', server_flags: KNOWN_FLAGS });
    const old = await RawStream.open(conn, null);
    old.send({ type: 'auth', tenant_id: 't1', token: 'x' });
    expect(await old.next()).toEqual({ type: 'ok' });
  });

  it('publishes, fans out shared frames with offsets, and acks by request id', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1' });
    const conn = await connectRaw(node);
    const byId = eventStreams(conn);
    const control = await RawStream.open(conn);
    control.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 's', subscription_id: 7 });
    expect(await control.next()).toEqual({
      type: 'subscribed',
      subscription_id: 7,
      epoch: expect.any(Number),
    });
    const pub = await RawStream.open(conn);
    pub.write(
      encodeBinaryPublishBatch({
        tenant_id: 't1',
        namespace: 'ns',
        stream: 's',
        payloads: [Buffer.from('a'), Buffer.from('b')],
        request_id: 41,
        ack: 'per_batch',
      }),
    );
    pub.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 's',
      payload: Buffer.from('c'),
      request_id: 42,
      ack: 'per_message',
    });
    expect(await pub.next()).toEqual({ type: 'publish_ok', request_id: 41 });
    expect(await pub.next()).toEqual({ type: 'publish_ok', request_id: 42 });
    await until(() => byId.has(7) && events(byId.get(7)!).length === 3, 'three events');
    expect(events(byId.get(7)!)).toEqual([
      { offset: 0, text: 'a' },
      { offset: 1, text: 'b' },
      { offset: 2, text: 'c' },
    ]);
  });

  it('answers an oversized frame and an unknown flag with errors and keeps serving the stream', async () => {
    const node = await startBroker({ FELIX_MAX_FRAME_BYTES: '131072', FELIX_CACHE_MAX_VALUE_BYTES: '65536' });
    const conn = await connectRaw(node);
    const s = await RawStream.open(conn);
    s.write(encodeFrame(0, Buffer.alloc(300_000, 0x20)));
    expect(await s.next()).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    s.write(encodeFrame(0x200, Buffer.from('{}')));
    expect(await s.next()).toMatchObject({ type: 'error', code: 'invalid_request' });
    s.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 's',
      payload: Buffer.from('ok'),
      request_id: 1,
      ack: 'per_message',
    });
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 1 });
  });

  it('refuses requests before auth and across tenants', async () => {
    const node = await startBroker();
    const conn = await connectRaw(node);
    const s = await RawStream.open(conn, null);
    s.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 's' });
    // Before auth the broker cannot know the client takes error codes, so the message says it.
    expect(await s.next()).toMatchObject({ type: 'error', message: expect.stringMatching(/must be auth/) });
    const t = await RawStream.open(conn);
    t.send({
      type: 'publish',
      tenant_id: 'other',
      namespace: 'ns',
      stream: 's',
      payload: Buffer.from('x'),
      request_id: 5,
      ack: 'per_message',
    });
    expect(await t.next()).toMatchObject({ type: 'publish_error', request_id: 5, code: 'forbidden' });
  });

  it('replays from earliest and from an offset, and reports both cursor errors', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1', FELIX_STREAM_REPLAY_CAPACITY: '4' });
    const conn = await connectRaw(node);
    const byId = eventStreams(conn);
    const pub = await RawStream.open(conn);
    for (let i = 0; i < 6; i++) {
      pub.send({
        type: 'publish',
        tenant_id: 't1',
        namespace: 'ns',
        stream: 'r',
        payload: Buffer.from(`e${i}`),
        request_id: i,
        ack: 'per_message',
      });
    }
    for (let i = 0; i < 6; i++) await pub.next();
    const c = await RawStream.open(conn);
    c.send({
      type: 'subscribe',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'r',
      subscription_id: 1,
      start: 'earliest',
    });
    c.send({
      type: 'subscribe',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'r',
      subscription_id: 2,
      start: { offset: 4 },
    });
    c.send({
      type: 'subscribe',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'r',
      subscription_id: 3,
      start: { offset: 0 },
    });
    c.send({
      type: 'subscribe',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'r',
      subscription_id: 4,
      start: { offset: 9 },
    });
    const replies: DecodedFrame[] = [];
    for (let i = 0; i < 4; i++) replies.push((await c.next()) as DecodedFrame);
    // Every answer names the stream's epoch, the same one throughout.
    const epoch = (replies[0] as { epoch: number }).epoch;
    expect(Number.isSafeInteger(epoch) && epoch > 0).toBe(true);
    expect(replies).toEqual([
      { type: 'subscribed', subscription_id: 1, epoch },
      { type: 'subscribed', subscription_id: 2, epoch },
      { type: 'subscribe_cursor_error', reason: 'too_old', requested: 0, available: 2, epoch },
      { type: 'subscribe_cursor_error', reason: 'in_future', requested: 9, available: 6, epoch },
    ]);
    await until(() => byId.has(1) && events(byId.get(1)!).length === 4, 'earliest replay');
    expect(events(byId.get(1)!).map((e) => e.text)).toEqual(['e2', 'e3', 'e4', 'e5']);
    await until(() => byId.has(2) && events(byId.get(2)!).length >= 2, 'offset replay');
    expect(events(byId.get(2)!).map((e) => e.offset)).toEqual([4, 5]);
  });
});

describe('broker limits', () => {
  const SMALL_BUDGET = {
    FELIX_MAX_FRAME_BYTES: String(1 << 20),
    FELIX_CACHE_MAX_VALUE_BYTES: String(64 << 10),
    FELIX_EVENT_BATCH_MAX_BYTES: String(64 << 10),
    FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: String(1 << 20),
    FELIX_BROKER_PUBLISH_INFLIGHT_BYTES: String(1 << 20),
  };

  it('refuses an acked publish beyond the in-flight budget with publish_error, and the stream carries on', async () => {
    const node = await startBroker(SMALL_BUDGET);
    const conn = await connectRaw(node);
    const s = await RawStream.open(conn);
    const chunk = (request_id: number, total_len: number) => ({
      type: 'publish_chunk',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'big',
      publish_id: request_id,
      total_len,
      byte_offset: 0,
      payload: Buffer.alloc(16 << 10),
      request_id,
      ack: 'per_message',
    });
    // Each within the largest message (payload_too_large otherwise); the first, unfinished, holds 768 KiB
    // of the 1 MiB budget, so the second does not fit.
    s.send(chunk(1, 768 << 10));
    s.send(chunk(3, 768 << 10));
    expect(await s.next()).toMatchObject({
      type: 'publish_error',
      request_id: 3,
      code: 'overloaded',
      message: expect.stringMatching(/FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES/),
    });
    expect(node.stats.publishRejectedBudget).toBe(1);
    s.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'big',
      payload: Buffer.from('small'),
      request_id: 2,
      ack: 'per_message',
    });
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 2 });
  });

  it('refuses subscriptions beyond the per-connection limit', async () => {
    const node = await startBroker({ FELIX_MAX_SUBSCRIPTIONS_PER_CONN: '2' });
    const conn = await connectRaw(node);
    const s = await RawStream.open(conn);
    for (let id = 1; id <= 3; id++)
      s.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 'x', subscription_id: id });
    expect(await s.next()).toMatchObject({ type: 'subscribed', subscription_id: 1 });
    expect(await s.next()).toMatchObject({ type: 'subscribed', subscription_id: 2 });
    expect(await s.next()).toMatchObject({
      type: 'error',
      code: 'limit_exceeded',
      message: 'max subscriptions per connection exceeded',
    });
  });

  it('keeps serving other clients while one sends garbage frames', async () => {
    const node = await startBroker();
    const bad = await RawStream.open(await connectRaw(node));
    const good = await RawStream.open(await connectRaw(node));
    bad.write(Buffer.from('this is not an FLX1 frame at all, just bytes'));
    expect(await bad.next()).toMatchObject({ type: 'error' });
    good.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'ok',
      payload: Buffer.from('x'),
      request_id: 3,
      ack: 'per_message',
    });
    expect(await good.next()).toEqual({ type: 'publish_ok', request_id: 3 });
  });
});
