// Issue 12 on the broker, over real QUIC with raw frames: stream epochs, duplicate suppression of retried
// acked publishes (across connections), and the `draining` notice.
import { describe, expect, it } from 'vitest';
import {
  FEATURE_DRAINING,
  FEATURE_ERROR_CODES,
  FEATURE_IDEMPOTENT_PUBLISH,
  KNOWN_FEATURES,
  WireError,
  encodeBinaryPublishBatch,
  encodeMessage,
  splitPublish,
  supportsFeature,
  type DecodedFrame,
} from '../../wire/index.js';
import { RawStream, connectRaw, eventStreams, eventTexts, startBroker, until } from './raw-client.js';

const ADDRESS = { tenant_id: 't1', namespace: 'ns' } as const;

async function subscribedEpoch(s: RawStream, stream: string, id: number): Promise<number> {
  s.send({ type: 'subscribe', ...ADDRESS, stream, subscription_id: id, start: 'earliest' });
  const reply = (await s.next()) as DecodedFrame;
  expect(reply).toMatchObject({ type: 'subscribed', subscription_id: id });
  return (reply as { epoch: number }).epoch;
}

describe('stream epochs', () => {
  it('names one epoch per stream in subscribed, and refuses offsets of another epoch with epoch_changed', async () => {
    const node = await startBroker();
    const conn = await connectRaw(node);
    const s = await RawStream.open(conn);
    for (const p of ['a', 'b', 'c'])
      s.send({
        type: 'publish',
        ...ADDRESS,
        stream: 'e',
        payload: Buffer.from(p),
        request_id: 1,
        ack: 'per_message',
      });
    for (let i = 0; i < 3; i++) expect(await s.next()).toMatchObject({ type: 'publish_ok' });
    const epoch = await subscribedEpoch(s, 'e', 1);
    expect(Number.isSafeInteger(epoch) && epoch > 0).toBe(true);
    expect(await subscribedEpoch(s, 'e', 2)).toBe(epoch);
    expect(await subscribedEpoch(s, 'other', 3)).not.toBe(epoch);

    // The epoch the client holds: served as usual.
    s.send({ type: 'subscribe', ...ADDRESS, stream: 'e', subscription_id: 4, start: { offset: 1 }, epoch });
    expect(await s.next()).toEqual({ type: 'subscribed', subscription_id: 4, epoch, start_offset: 1 });
    // Another epoch: the offset counts other events, so it is refused whatever it is.
    for (const [start, requested] of [
      [{ offset: 1 }, 1],
      ['earliest', 0],
      ['latest', 3],
    ] as const) {
      s.send({ type: 'subscribe', ...ADDRESS, stream: 'e', subscription_id: 5, start, epoch: epoch + 1 });
      expect(await s.next()).toEqual({
        type: 'subscribe_cursor_error',
        reason: 'epoch_changed',
        requested,
        available: 0,
        epoch,
      });
    }
    // Without an epoch, offsets are taken as they are (Felix's behaviour).
    s.send({ type: 'subscribe', ...ADDRESS, stream: 'e', subscription_id: 6, start: { offset: 2 } });
    expect(await s.next()).toMatchObject({ type: 'subscribed', subscription_id: 6, epoch });
  });
});

describe('idempotent publish', () => {
  it('advertises IDEMPOTENT_PUBLISH and DRAINING', async () => {
    const node = await startBroker();
    const s = await RawStream.open(await connectRaw(node), null);
    s.send({ type: 'auth', tenant_id: 't1', token: 'x', client_flags: 0x1ff, client_features: 0 });
    const ok = (await s.next()) as { server_features: number; server_flags: number };
    expect(ok.server_flags).toBe(0x1ff);
    expect(supportsFeature(ok.server_features, FEATURE_IDEMPOTENT_PUBLISH | FEATURE_DRAINING)).toBe(true);
  });

  it('acks a retried publish (same producer and sequence) again on any connection, and appends it once', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1' });
    const subscriberConn = await connectRaw(node);
    const byId = eventStreams(subscriberConn);
    const control = await RawStream.open(subscriberConn);
    await subscribedEpoch(control, 'd', 1);

    const producer = 2 ** 52 + 3;
    const json = (sequence: number, text: string, requestId: number) => ({
      type: 'publish',
      ...ADDRESS,
      stream: 'd',
      payload: Buffer.from(text),
      request_id: requestId,
      ack: 'per_message',
      producer_id: producer,
      sequence,
    });
    const binary = (sequence: number, text: string, requestId: number) =>
      encodeBinaryPublishBatch({
        ...ADDRESS,
        stream: 'd',
        payloads: [Buffer.from(text)],
        request_id: requestId,
        ack: 'per_batch',
        producer_id: producer,
        sequence,
      });

    const first = await RawStream.open(await connectRaw(node));
    first.send(json(1, 'one', 10));
    first.write(binary(2, 'two', 11));
    expect(await first.next()).toEqual({ type: 'publish_ok', request_id: 10 });
    expect(await first.next()).toEqual({ type: 'publish_ok', request_id: 11 });

    // The retry, as a reconnected client sends it: a new connection, the same producer and sequences,
    // out of order, one of them twice, plus one new publish and a chunked one.
    const retry = await RawStream.open(await connectRaw(node));
    retry.write(binary(2, 'two', 11));
    retry.send(json(1, 'one', 10));
    retry.send(json(3, 'three', 12));
    retry.send(json(1, 'one', 10));
    const big = splitPublish(
      {
        type: 'publish',
        ...ADDRESS,
        stream: 'd',
        payload: Buffer.from('four'),
        request_id: 13,
        ack: 'per_message',
        producer_id: producer,
        sequence: 4,
      },
      2,
      1,
    );
    for (let round = 0; round < 2; round++) for (const chunk of big) retry.write(encodeMessage(chunk));
    const acks = [];
    for (let i = 0; i < 6; i++) acks.push(await retry.next());
    expect(acks).toEqual([11, 10, 12, 10, 13, 13].map((request_id) => ({ type: 'publish_ok', request_id })));

    await until(() => byId.has(1) && eventTexts(byId.get(1)!).length >= 4, 'the four distinct events');
    // A sentinel after everything proves nothing more is coming.
    retry.send(json(5, 'end', 14));
    expect(await retry.next()).toEqual({ type: 'publish_ok', request_id: 14 });
    await until(() => eventTexts(byId.get(1)!).includes('end'), 'the sentinel');
    expect(eventTexts(byId.get(1)!)).toEqual(['one', 'two', 'three', 'four', 'end']);
  });

  it('refuses sequence 0 (sequences count from 1) instead of acking a publish it never appends', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1' });
    const subscriberConn = await connectRaw(node);
    const byId = eventStreams(subscriberConn);
    await subscribedEpoch(await RawStream.open(subscriberConn), 'zero', 1);
    const s = await RawStream.open(await connectRaw(node));
    const producer = 4242;
    s.send({
      type: 'publish',
      ...ADDRESS,
      stream: 'zero',
      payload: Buffer.from('json zero'),
      request_id: 20,
      ack: 'per_message',
      producer_id: producer,
      sequence: 0,
    });
    // The binary form, its u64 sequence (after the header, request id, ack byte and producer id) set to 0.
    const binary = encodeBinaryPublishBatch({
      ...ADDRESS,
      stream: 'zero',
      payloads: [Buffer.from('binary zero')],
      request_id: 21,
      ack: 'per_batch',
      producer_id: producer,
      sequence: 1,
    });
    binary.fill(0, 12 + 8 + 1 + 8, 12 + 8 + 1 + 8 + 8);
    s.write(binary);
    expect(await s.next()).toMatchObject({ type: 'publish_error', request_id: 20, code: 'invalid_request' });
    expect(await s.next()).toMatchObject({ type: 'publish_error', request_id: 21, code: 'invalid_request' });
    // The producer's first real sequence is appended.
    s.send({
      type: 'publish',
      ...ADDRESS,
      stream: 'zero',
      payload: Buffer.from('one'),
      request_id: 22,
      ack: 'per_message',
      producer_id: producer,
      sequence: 1,
    });
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 22 });
    await until(() => byId.has(1) && eventTexts(byId.get(1)!).includes('one'), 'the first real sequence');
    expect(eventTexts(byId.get(1)!)).toEqual(['one']);
  });

  it('never lets another tenant’s publish be taken for a duplicate', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1' });
    const conn = await connectRaw(node);
    const t1 = await RawStream.open(conn);
    const t2 = await RawStream.open(conn, { tenant_id: 't2' });
    const publish = (tenant: string, text: string) => ({
      type: 'publish',
      tenant_id: tenant,
      namespace: 'ns',
      stream: 'x',
      payload: Buffer.from(text),
      request_id: 1,
      ack: 'per_message',
      producer_id: 99,
      sequence: 1,
    });
    t1.send(publish('t1', 'mine'));
    expect(await t1.next()).toMatchObject({ type: 'publish_ok' });
    t2.send(publish('t2', 'theirs'));
    expect(await t2.next()).toMatchObject({ type: 'publish_ok' });
    t2.send({
      type: 'subscribe',
      tenant_id: 't2',
      namespace: 'ns',
      stream: 'x',
      subscription_id: 1,
      start: 'earliest',
    });
    const byId = eventStreams(conn);
    expect(await t2.next()).toMatchObject({ type: 'subscribed' });
    await until(() => byId.has(1) && eventTexts(byId.get(1)!).length === 1, 'the other tenant’s event');
    expect(eventTexts(byId.get(1)!)).toEqual(['theirs']);
  });

  it('with FELIX_DEDUP_WINDOW_MS=0 neither advertises nor suppresses', async () => {
    const node = await startBroker({ FELIX_DEDUP_WINDOW_MS: '0', FELIX_FANOUT_BATCH: '1' });
    const conn = await connectRaw(node);
    const byId = eventStreams(conn);
    const s = await RawStream.open(conn, null);
    s.send({
      type: 'auth',
      tenant_id: 't1',
      token: 'x',
      client_flags: 0x1bf,
      client_features: KNOWN_FEATURES,
    });
    const ok = (await s.next()) as { server_features: number };
    expect(supportsFeature(ok.server_features, FEATURE_IDEMPOTENT_PUBLISH)).toBe(false);
    await subscribedEpoch(s, 'z', 1);
    for (let i = 0; i < 2; i++) {
      s.send({
        type: 'publish',
        ...ADDRESS,
        stream: 'z',
        payload: Buffer.from('again'),
        request_id: i,
        ack: 'per_message',
        producer_id: 5,
        sequence: 1,
      });
      expect(await s.next()).toMatchObject({ type: 'publish_ok' });
    }
    await until(() => byId.has(1) && eventTexts(byId.get(1)!).length === 2, 'both copies');
  });
});

describe('draining', () => {
  it('tells each stream that offered DRAINING, once, when the broker starts draining; others hear nothing', async () => {
    const node = await startBroker();
    const conn = await connectRaw(node);
    const told = await RawStream.open(conn);
    const notTold = await RawStream.open(conn, { client_features: FEATURE_ERROR_CODES });
    // stop() begins draining before it returns: what is sent from here on is read after the notice. Sent
    // at once, not after the notice arrives: with nothing to drain the broker closes its connections 50 ms
    // after the last refusal, and a publish sent a round trip later (under a loaded CI) could find them gone.
    const stopping = node.stop();
    // What follows on the told stream: publishes are refused as draining.
    told.send({
      type: 'publish',
      ...ADDRESS,
      stream: 'q',
      payload: Buffer.from('late'),
      request_id: 3,
      ack: 'per_message',
    });
    notTold.send({
      type: 'publish',
      ...ADDRESS,
      stream: 'q',
      payload: Buffer.from('late'),
      request_id: 4,
      ack: 'per_message',
    });
    expect(await told.next()).toEqual({ type: 'draining' });
    expect(await told.next()).toMatchObject({
      type: 'publish_error',
      request_id: 3,
      code: 'draining',
      retry: 'retry',
    });
    expect(await notTold.next()).toMatchObject({ type: 'publish_error', request_id: 4, code: 'draining' });
    await stopping;
    expect(told.frames.filter((f) => !(f instanceof WireError) && f.type === 'draining')).toHaveLength(1);
    expect(notTold.frames.some((f) => !(f instanceof WireError) && f.type === 'draining')).toBe(false);
  });

  it('still answers cache requests while it drains: only publishes and subscribes are refused', async () => {
    const node = await startBroker();
    const conn = await connectRaw(node);
    const s = await RawStream.open(conn);
    // Draining has begun when stop() returns; sent at once, before any answer is awaited: with nothing to
    // drain the broker soon closes.
    const stopping = node.stop();
    const cache = { ...ADDRESS, cache: 'c', key: 'k' };
    s.send({ type: 'cache_put', ...cache, value: Buffer.from('v'), request_id: 1, ttl_ms: null });
    s.send({ type: 'cache_get', ...cache, request_id: 2 });
    s.send({ type: 'subscribe', ...ADDRESS, stream: 'q', subscription_id: 3, start: 'latest' });
    expect(await s.next()).toEqual({ type: 'draining' });
    expect(await s.next()).toEqual({ type: 'cache_ok', request_id: 1 });
    const got = (await s.next()) as DecodedFrame & { value?: Uint8Array | null };
    expect(got).toMatchObject({ type: 'cache_value', request_id: 2 });
    expect(Buffer.from(got.value!).toString()).toBe('v');
    expect(await s.next()).toMatchObject({ type: 'error', code: 'draining' });
    await stopping;
  });
});
