// Chunked publishes that go wrong, over real QUIC with raw frames, as an outside implementer found them:
// every request gets exactly one answer and none waits forever, a broken publish is answered once as the
// publish (its first piece's request_id) and its later pieces go unanswered, and nothing half-assembled is
// ever appended.
import { describe, expect, it } from 'vitest';
import { RawStream, connectRaw, eventStreams, eventTexts, startBroker, until } from './raw-client.js';

const ADDRESS = { tenant_id: 't1', namespace: 'ns', stream: 'chunks' } as const;

const piece = (
  publish_id: number,
  total_len: number,
  byte_offset: number,
  payload: string,
  request_id?: number,
) => ({
  type: 'publish_chunk',
  ...ADDRESS,
  publish_id,
  total_len,
  byte_offset,
  payload: Buffer.from(payload),
  ...(request_id === undefined ? {} : { request_id, ack: 'per_message' }),
});

const sentinel = (request_id: number, text: string) => ({
  type: 'publish',
  ...ADDRESS,
  payload: Buffer.from(text),
  request_id,
  ack: 'per_message',
});

/**
 * `count` acked publishes of producer `producerId`, sequences 2.. (request ids 100..), to another stream:
 * more than the broker's 4,096-sequence window past a chunked publish numbered 1.
 */
function overtake(s: RawStream, producerId: number, count: number): void {
  for (let i = 0; i < count; i++) {
    s.send({
      type: 'publish',
      ...ADDRESS,
      stream: 'other',
      payload: Buffer.from('x'),
      request_id: 100 + i,
      ack: 'per_message',
      producer_id: producerId,
      sequence: 2 + i,
    });
  }
}

describe('chunked publishes that go wrong', () => {
  it('answers each broken or restarted publish once, as itself, and appends only whole ones', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1' });
    const subscriberConn = await connectRaw(node);
    const byId = eventStreams(subscriberConn);
    const control = await RawStream.open(subscriberConn);
    control.send({ type: 'subscribe', ...ADDRESS, subscription_id: 1, start: 'earliest' });
    expect(await control.next()).toMatchObject({ type: 'subscribed', subscription_id: 1 });
    const s = await RawStream.open(await connectRaw(node));

    // 1. A later piece that starts right but runs past total_len: the publish (request 10) is refused;
    //    its remaining pieces get no answer.
    s.send(piece(1, 8, 0, 'abcd', 10));
    s.send(piece(1, 8, 4, 'efghi'));
    s.send(piece(1, 8, 6, 'gh'));
    s.send(sentinel(11, 'after-overshoot'));
    expect(await s.next()).toMatchObject({ type: 'publish_error', request_id: 10 });
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 11 });

    // 2. A new first piece reusing the id of a publish in progress: the old one (request 20) is refused,
    //    the new one (request 21) completes and is acked.
    s.send(piece(2, 8, 0, 'OLD-', 20));
    s.send(piece(2, 6, 0, 'new-', 21));
    s.send(piece(2, 6, 4, 'ok'));
    expect(await s.next()).toMatchObject({ type: 'publish_error', request_id: 20 });
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 21 });

    // 3. A piece that does not continue its publish (wrong offset): refused once as the publish (30), its
    //    later pieces unanswered.
    s.send(piece(3, 12, 0, 'aaaa', 30));
    s.send(piece(3, 12, 5, 'bbbb'));
    s.send(piece(3, 12, 8, 'cccc'));
    s.send(sentinel(31, 'end'));
    expect(await s.next()).toMatchObject({ type: 'publish_error', request_id: 30 });
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 31 });

    // 4. Seventeen publishes in progress at once: the seventeenth is refused at its first piece, once, as
    //    a bound on what is in flight (limit_exceeded, retry_after); its later pieces get no answer. Then
    //    two stray pieces of a publish never started: one answer. Sent again once the others completed,
    //    the seventeenth is taken.
    for (let id = 100; id < 117; id++) s.send(piece(id, 8, 0, 'abcd', id));
    s.send(piece(116, 8, 4, 'efgh'));
    s.send(piece(200, 12, 4, 'efgh'));
    s.send(piece(200, 12, 8, 'ijkl'));
    s.send(sentinel(40, 'after-strays'));
    expect(await s.next()).toMatchObject({
      type: 'publish_error',
      request_id: 116,
      code: 'limit_exceeded',
      retry: 'retry_after',
    });
    expect(await s.next()).toMatchObject({ type: 'error' }); // the stray piece of 200
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 40 });
    for (let id = 100; id < 116; id++) s.send(piece(id, 8, 4, 'efgh'));
    for (let id = 100; id < 116; id++) expect(await s.next()).toEqual({ type: 'publish_ok', request_id: id });
    s.send(piece(116, 8, 0, 'abcd', 116));
    s.send(piece(116, 8, 4, 'efgh'));
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 116 });

    // 5. A chunked publish the stream may not make (another tenant, a bad name) is refused at its first
    //    piece, before anything of it is held; its later pieces get no answer.
    s.send({ ...piece(300, 8, 0, 'abcd', 50), tenant_id: 't2' });
    s.send({ ...piece(301, 8, 0, 'abcd', 51), stream: 'bad name!' });
    s.send(sentinel(52, 'after-refusals'));
    expect(await s.next()).toMatchObject({ type: 'publish_error', request_id: 50, code: 'forbidden' });
    expect(await s.next()).toMatchObject({ type: 'publish_error', request_id: 51, code: 'invalid_request' });
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 52 });
    s.send({ ...piece(300, 8, 4, 'efgh'), tenant_id: 't2' });
    s.send({ ...piece(301, 8, 4, 'efgh'), stream: 'bad name!' });
    s.send(sentinel(53, 'after-refused-pieces'));
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 53 });

    await until(() => byId.has(1) && eventTexts(byId.get(1)!).includes('end'), 'the last sentinel');
    await until(() => eventTexts(byId.get(1)!).length === 23, 'the seventeen whole publishes');
    expect(eventTexts(byId.get(1)!)).toEqual([
      'after-overshoot',
      'new-ok',
      'end',
      'after-strays',
      ...Array.from({ length: 17 }, () => 'abcdefgh'),
      'after-refusals',
      'after-refused-pieces',
    ]);
  });

  it("a chunked publish overtaken by thousands of its producer's later publishes is still appended, once", async () => {
    const node = await startBroker();
    const subscriberConn = await connectRaw(node);
    const byId = eventStreams(subscriberConn);
    const control = await RawStream.open(subscriberConn);
    const s = await RawStream.open(await connectRaw(node));
    const producer = { producer_id: 77, ack: 'per_message' as const };
    // Sequence 1: a chunked publish, its first piece now, its last after 5,000 more of the producer's
    // publishes (sequences 2..5001) — more than the broker's 4,096-sequence window.
    s.send({ ...piece(9, 8, 0, 'BIG-', 1), ...producer, sequence: 1 });
    const small = 5_000;
    overtake(s, producer.producer_id, small);
    s.send(piece(9, 8, 4, 'LAST'));
    const answers = (): unknown[] => s.frames.filter((f) => 'type' in f && f.type !== 'auth_ok');
    await until(() => answers().length === small + 1, 'every publish answered');
    expect(answers().filter((f) => (f as { type: string }).type !== 'publish_ok')).toEqual([]);
    // A chunked publish among the producer's newest (sequence 5002), then its retry (the same pieces, as
    // after a reconnect): recognised at its first piece and not appended again.
    s.send({ ...piece(10, 8, 0, 'NEW-', 2), ...producer, sequence: 2 + small });
    s.send(piece(10, 8, 4, 'ONCE'));
    s.send({ ...piece(11, 8, 0, 'NEW-', 4), ...producer, sequence: 2 + small });
    s.send(piece(11, 8, 4, 'ONCE'));
    s.send(sentinel(3, 'after'));
    await until(() => answers().length === small + 4, 'the publish, its retry and the sentinel answered');
    expect(answers().slice(-3)).toEqual([
      { type: 'publish_ok', request_id: 2 },
      { type: 'publish_ok', request_id: 4 },
      { type: 'publish_ok', request_id: 3 },
    ]);
    control.send({ type: 'subscribe', ...ADDRESS, subscription_id: 1, start: 'earliest' });
    expect(await control.next()).toMatchObject({ type: 'subscribed', subscription_id: 1 });
    await until(() => byId.has(1) && eventTexts(byId.get(1)!).includes('after'), 'the events');
    expect(eventTexts(byId.get(1)!)).toEqual(['BIG-LAST', 'NEW-ONCE', 'after']);
  });

  it('a chunked publish cut off by its connection after the window moved past it is appended when resent', async () => {
    const node = await startBroker();
    const producer = { producer_id: 78, ack: 'per_message' as const };
    const first = await connectRaw(node);
    const s = await RawStream.open(first);
    s.send({ ...piece(9, 8, 0, 'CUT-', 1), ...producer, sequence: 1 });
    const small = 5_000;
    overtake(s, producer.producer_id, small);
    const answered = (): number => s.frames.filter((f) => 'type' in f && f.type === 'publish_ok').length;
    await until(() => answered() === small, 'the later publishes answered');
    // The connection goes before the chunked publish's last piece: the client resends it on a new one.
    first.close();
    const again = await RawStream.open(await connectRaw(node));
    again.send({ ...piece(9, 8, 0, 'CUT-', 1), ...producer, sequence: 1 });
    again.send(piece(9, 8, 4, 'LAST'));
    expect(await again.next()).toEqual({ type: 'publish_ok', request_id: 1 });
    const readerConn = await connectRaw(node);
    const byId = eventStreams(readerConn);
    const control = await RawStream.open(readerConn);
    control.send({ type: 'subscribe', ...ADDRESS, subscription_id: 1, start: 'earliest' });
    expect(await control.next()).toMatchObject({ type: 'subscribed', subscription_id: 1 });
    await until(() => byId.has(1) && eventTexts(byId.get(1)!).length > 0, 'the event');
    expect(eventTexts(byId.get(1)!)).toEqual(['CUT-LAST']);
  });
});
