import { describe, expect, it } from 'vitest';
import { FelixError } from '../../client/errors.js';
import { PendingReply } from '../../client/pending-requests.js';
import { RequestStream } from '../../client/request-stream.js';
import {
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  encodeBinaryPublishAck,
  encodeJsonMessage,
  encodeMessage,
} from '../../wire/index.js';
import { FakeConnection, settle } from './fakes.js';

const authOk = encodeJsonMessage({
  type: 'auth_ok',
  server_flags: KNOWN_FLAGS,
  server_features: KNOWN_FEATURES,
});

function open(warnings: string[] = []) {
  const connection = new FakeConnection();
  const stream = new RequestStream(Promise.resolve(connection.asConnection()), {
    label: 'publish stream 0',
    tenant: 't1',
    token: 'secret',
    maxFrameBytes: 1 << 20,
    requestTimeoutMs: 60_000,
    connectTimeoutMs: 60_000,
    maxQueuedBytes: 1 << 20,
    onWarning: (message) => warnings.push(message),
  });
  return { connection, stream };
}

/** An authenticated stream and its wire. */
async function authenticated(warnings: string[] = []) {
  const { connection, stream } = open(warnings);
  await settle();
  const wire = connection.opened[0]!;
  wire.receive(authOk);
  await stream.ready;
  return { wire, stream };
}

function track(reply: PendingReply<void>) {
  const state: { done: boolean; error?: FelixError } = { done: false };
  reply.promise.then(
    () => (state.done = true),
    (error: FelixError) => Object.assign(state, { done: true, error }),
  );
  return state;
}

describe('RequestStream', () => {
  it('authenticates first, then sends what was requested meanwhile', async () => {
    const { connection, stream } = open();
    const early = new PendingReply<void>();
    const state = track(early);
    stream.request(Buffer.from('early-frame'), stream.nextRequestId(), early);
    await settle();
    const wire = connection.opened[0]!;
    expect(wire.frames().map((f) => f.message.type)).toEqual(['auth']);
    expect(wire.frames()[0]!.message).toMatchObject({
      tenant_id: 't1',
      token: 'secret',
      client_flags: KNOWN_FLAGS,
    });
    wire.receive(authOk);
    const negotiated = await stream.ready;
    expect(negotiated.msgpack).toBe(true);
    expect(wire.writes.at(-1)!.toString()).toBe('early-frame');
    stream.fail(new FelixError('connection_closed', 'test over'));
    await settle();
    expect(state.error?.message).toBe('test over');
  });

  it('matches acks to requests by request_id, in whatever order they come and however encoded', async () => {
    const { wire, stream } = await authenticated();
    const ids = [stream.nextRequestId(), stream.nextRequestId(), stream.nextRequestId()];
    const replies = ids.map(() => new PendingReply<void>());
    const states = replies.map(track);
    ids.forEach((id, i) => stream.request(Buffer.from(`r${id}`), id, replies[i]!));
    expect(stream.inFlight).toBe(3);
    // One read carrying three answers, newest first: binary ok, MessagePack error with a code, binary ok.
    wire.receive(
      Buffer.concat([
        encodeBinaryPublishAck({ type: 'publish_ok', request_id: ids[2]! }),
        encodeMessage(
          { type: 'publish_error', request_id: ids[0]!, message: 'stream not found', code: 'not_found' },
          { msgpack: true },
        ),
        encodeBinaryPublishAck({ type: 'publish_ok', request_id: ids[1]! }),
      ]),
    );
    await settle();
    expect(states.map((s) => s.done)).toEqual([true, true, true]);
    expect(states[0]!.error).toBeInstanceOf(FelixError);
    // A code without a class (a Felix broker, an older felix-ts) reads with the code's default class.
    expect(states[0]!.error).toMatchObject({
      code: 'publish_rejected',
      brokerCode: 'not_found',
      retry: 'fatal',
    });
    expect(states[1]!.error).toBeUndefined();
    expect(states[2]!.error).toBeUndefined();
    expect(stream.inFlight).toBe(0);
  });

  it('reports a plain broker error, which names no request, as a warning', async () => {
    const warnings: string[] = [];
    const { wire } = await authenticated(warnings);
    wire.receive(encodeJsonMessage({ type: 'error', message: 'unknown stream x' }));
    expect(warnings.join()).toContain('unknown stream x');
  });

  it('fails everything outstanding with connection_closed when the broker resets the stream', async () => {
    const { wire, stream } = await authenticated();
    let ended = false;
    stream.onEnded = () => (ended = true);
    const reply = new PendingReply<void>();
    const state = track(reply);
    stream.request(Buffer.from('x'), stream.nextRequestId(), reply);
    wire.onReset!(7);
    await settle();
    expect(state.error?.code).toBe('connection_closed');
    expect(ended).toBe(true);
    expect(stream.usable).toBe(false);
    // A request on an ended stream fails at once instead of waiting for its timeout.
    const late = new PendingReply<void>();
    const lateState = track(late);
    stream.request(Buffer.from('y'), stream.nextRequestId(), late);
    await settle();
    expect(lateState.error?.code).toBe('connection_closed');
  });

  it('refuses a stream whose auth the broker rejects, with auth_failed', async () => {
    const { connection, stream } = open();
    await settle();
    connection.opened[0]!.receive(
      encodeJsonMessage({ type: 'error', message: 'bad token', code: 'unauthenticated' }),
    );
    await expect(stream.ready).rejects.toMatchObject({ code: 'auth_failed', brokerCode: 'unauthenticated' });
  });

  it('closes by finishing its side once flushed, and ends when the broker finishes its side', async () => {
    const { wire, stream } = await authenticated();
    const id = stream.nextRequestId();
    const reply = new PendingReply<void>();
    stream.request(Buffer.from('x'), id, reply);
    const closing = stream.close(60_000);
    await settle();
    // The ack is still outstanding: no FIN yet.
    expect(wire.finished).toBe(false);
    wire.receive(encodeBinaryPublishAck({ type: 'publish_ok', request_id: id }));
    await settle();
    expect(wire.finished).toBe(true);
    wire.receive(Buffer.alloc(0), true);
    await closing;
    await expect(reply.promise).resolves.toBeUndefined();
    expect(stream.usable).toBe(false);
  });
});
