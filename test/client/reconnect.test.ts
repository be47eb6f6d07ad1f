// Reconnect mechanics of the SDK, without sockets: a request stream outliving its connection, the send
// queue keeping what was not written, the pool's reconnect loop and its status events, the backoff, and
// the status iterator. The same behaviour against real broker processes is in test/resilience/.
import { describe, expect, it } from 'vitest';
import { attemptAllowed, reconnectDelay } from '../../client/backoff.js';
import { ConnectionPool, type ConnectionTenant } from '../../client/connection-pool.js';
import { FelixError } from '../../client/errors.js';
import { OutboundQueue } from '../../client/outbound-queue.js';
import { PendingReply, PendingRequests } from '../../client/pending-requests.js';
import { RequestStream } from '../../client/request-stream.js';
import { StatusHub, type StatusEvent } from '../../client/status.js';
import type { CloseInfo, Endpoint } from '../../transport/index.js';
import {
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  encodeBinaryPublishAck,
  encodeJsonMessage,
  encodeMessage,
} from '../../wire/index.js';
import { FakeConnection, type FakeStream, settle } from './fakes.js';

const authOk = encodeJsonMessage({
  type: 'auth_ok',
  server_flags: KNOWN_FLAGS,
  server_features: KNOWN_FEATURES,
});
const lostError = new FelixError('connection_closed', 'publish connection 0 idle timeout: idle timeout');

function track(reply: PendingReply<void>) {
  const state: { done: boolean; error?: FelixError } = { done: false };
  reply.promise.then(
    () => (state.done = true),
    (error: FelixError) => Object.assign(state, { done: true, error }),
  );
  return state;
}

/** The frames a stream carried after its auth, as text. */
function written(wire: FakeStream): string[] {
  return wire.writes.slice(1).map((w) => w.toString());
}

async function openStream(maxQueuedBytes = 1 << 20) {
  const first = new FakeConnection();
  const stream = new RequestStream(Promise.resolve(first.asConnection()), {
    label: 'publish stream 0',
    tenant: 't1',
    token: '',
    maxFrameBytes: 1 << 20,
    requestTimeoutMs: 60_000,
    connectTimeoutMs: 60_000,
    maxQueuedBytes,
    onWarning: () => undefined,
  });
  await settle();
  first.opened[0]!.receive(authOk);
  await stream.ready;
  return { stream, wire: first.opened[0]! };
}

/** Reattaches `stream` to a new fake connection and answers its auth; returns the new wire. */
async function reattach(stream: RequestStream): Promise<FakeStream> {
  const next = new FakeConnection();
  stream.reattach(next.asConnection());
  await settle();
  const wire = next.opened[0]!;
  expect(wire.frames()[0]!.message.type).toBe('auth');
  wire.receive(authOk);
  await settle();
  return wire;
}

describe('a request stream across a lost connection', () => {
  it('sends what was in flight again, byte for byte and first, then what waited; fails what may not be retried', async () => {
    const { stream, wire } = await openStream();
    const retried = new PendingReply<void>();
    const once = new PendingReply<void>();
    const [retriedState, onceState] = [track(retried), track(once)];
    stream.request(Buffer.from('idempotent#1'), stream.nextRequestId(), retried, undefined, Infinity);
    stream.request(Buffer.from('not-idempotent#2'), stream.nextRequestId(), once, undefined, 0);
    expect(written(wire)).toEqual(['idempotent#1', 'not-idempotent#2']);

    stream.disconnect(lostError);
    await settle();
    // The one that must not be sent twice fails: its outcome is unknown. The other waits.
    expect(onceState.error?.code).toBe('connection_closed');
    expect(retriedState.done).toBe(false);
    expect(stream.usable).toBe(true);
    // Sent while disconnected: queued, not lost.
    const later = new PendingReply<void>();
    const laterState = track(later);
    const laterId = stream.nextRequestId();
    stream.request(Buffer.from('later#3'), laterId, later, undefined, Infinity);
    expect(stream.send(Buffer.from('no-ack'))).toBeUndefined();

    const next = await reattach(stream);
    expect(written(next)).toEqual(['idempotent#1', 'later#3', 'no-ack']);
    next.receive(encodeBinaryPublishAck({ type: 'publish_ok', request_id: 1 }));
    next.receive(encodeBinaryPublishAck({ type: 'publish_ok', request_id: laterId }));
    await settle();
    expect([retriedState.done, retriedState.error, laterState.done, laterState.error]).toEqual([
      true,
      undefined,
      true,
      undefined,
    ]);
  });

  it('a request retried once fails on the second lost connection', async () => {
    const { stream } = await openStream();
    const read = new PendingReply<void>();
    const state = track(read);
    stream.request(Buffer.from('get'), stream.nextRequestId(), read, undefined, 1);
    stream.disconnect(lostError);
    const second = await reattach(stream);
    expect(written(second)).toEqual(['get']);
    stream.disconnect(lostError);
    await settle();
    expect(state.error?.code).toBe('connection_closed');
  });

  it('buffers publishes without ack up to the queue bound while disconnected, then pushes back', async () => {
    const { stream } = await openStream(10);
    stream.disconnect(lostError);
    expect(stream.send(Buffer.from('0123456789'))).toBeUndefined();
    const waiting = stream.send(Buffer.from('abc'));
    expect(waiting).toBeInstanceOf(Promise);
    let admitted = false;
    void waiting!.then(() => (admitted = true));
    await settle();
    expect(admitted).toBe(false);
    const next = await reattach(stream);
    expect(admitted).toBe(true);
    expect(written(next)).toEqual(['0123456789', 'abc']);
  });

  it('writes nothing new once the broker announced draining; a publish it refuses as draining goes again later', async () => {
    const { stream, wire } = await openStream();
    let drainingOn: unknown = null;
    stream.onBrokerDraining = (connection) => (drainingOn = connection);
    const refused = new PendingReply<void>();
    const state = track(refused);
    const id = stream.nextRequestId();
    stream.request(Buffer.from('in-flight'), id, refused, undefined, Infinity);
    wire.receive(encodeMessage({ type: 'draining' }, { msgpack: true }));
    wire.receive(
      encodeMessage(
        {
          type: 'publish_error',
          request_id: id,
          message: 'broker is draining for shutdown',
          code: 'draining',
        },
        { msgpack: true },
      ),
    );
    stream.send(Buffer.from('after-draining'));
    await settle();
    expect(drainingOn).not.toBeNull();
    expect(state.done).toBe(false);
    expect(written(wire)).toEqual(['in-flight']);

    stream.disconnect(lostError);
    const next = await reattach(stream);
    expect(written(next)).toEqual(['in-flight', 'after-draining']);
    next.receive(encodeBinaryPublishAck({ type: 'publish_ok', request_id: id }));
    await settle();
    expect(state).toEqual({ done: true });
  });

  it('keeps its producer id across the reconnect and counts sequences from 1', async () => {
    const { stream } = await openStream();
    const producer = stream.producerId;
    expect(Number.isSafeInteger(producer) && producer > 0).toBe(true);
    expect([stream.nextSequence(), stream.nextSequence()]).toEqual([1, 2]);
    stream.disconnect(lostError);
    await reattach(stream);
    expect(stream.producerId).toBe(producer);
    expect(stream.nextSequence()).toBe(3);
  });
});

describe('the send queue when its stream is lost', () => {
  it('keeps unwritten frames, names their requests, and restarts a chunked publish from its first chunk', () => {
    const turns: (() => void)[] = [];
    const queue = new OutboundQueue({ maxQueuedBytes: 1 << 20, scheduleTurn: (t) => turns.push(t) });
    const sink = {
      written: [] as string[],
      write(f: Uint8Array) {
        this.written.push(Buffer.from(f).toString());
        return true;
      },
    };
    queue.attach(sink);
    const order = { stream: 's' };
    queue.sendChunked([Buffer.from('c1'), Buffer.from('c2'), Buffer.from('c3')], order, false, 7);
    queue.send(Buffer.from('behind'), order, false, 8);
    turns.shift()!();
    expect(sink.written).toEqual(['c1']);
    queue.detach();
    expect([...queue.unwrittenRequests()].sort()).toEqual([7, 8]);
    queue.send(Buffer.from('while-detached'), undefined, false, 9);
    expect([...queue.unwrittenRequests()].sort()).toEqual([7, 8, 9]);
    const next = {
      written: [] as string[],
      write(f: Uint8Array) {
        this.written.push(Buffer.from(f).toString());
        return true;
      },
    };
    queue.attach(next);
    for (let i = 0; i < 10 && turns.length > 0; i++) turns.shift()!();
    expect(next.written).toEqual(['while-detached', 'c1', 'c2', 'c3', 'behind']);
    expect(queue.idle).toBe(true);
  });
});

describe('requests outstanding when a stream is lost', () => {
  it('marks what may be retried, fails what may not, and leaves unwritten ones to the queue', () => {
    const pending = new PendingRequests(60_000, 'test');
    const replies = [0, 1, 2, 3].map(() => new PendingReply<void>());
    const states = replies.map(track);
    pending.add(1, replies[0]!, Buffer.from('a'), null, Infinity);
    pending.add(2, replies[1]!, Buffer.from('b'), null, 0);
    pending.add(3, replies[2]!, null, [Buffer.from('c1'), Buffer.from('c2')], 1);
    pending.add(4, replies[3]!, Buffer.from('d'), null, 0);
    pending.lost(new Set([4]), lostError);
    expect(pending.size).toBe(3);
    const resends = pending.takeResends();
    expect(resends.map((r) => r.frame?.toString() ?? r.chunks!.join('+'))).toEqual(['a', 'c1+c2']);
    expect(pending.takeResends()).toEqual([]);
    // The chunked one had one retry, now spent.
    pending.lost(new Set(), lostError);
    expect(pending.size).toBe(1);
    pending.dispose();
    return settle().then(() => {
      // d was unwritten at the first loss; at the second it counts as written, and may not be retried.
      expect(states.map((s) => s.error?.code)).toEqual([
        undefined,
        'connection_closed',
        'connection_closed',
        'connection_closed',
      ]);
    });
  });
});

describe('reconnect backoff', () => {
  const policy = { initialMs: 100, maxMs: 5_000, attempts: -1 };

  it('doubles from the initial wait up to the maximum, each jittered between half and all of it', () => {
    expect([1, 2, 3, 4].map((n) => reconnectDelay(policy, n, () => 0.999999))).toEqual([100, 200, 400, 800]);
    expect([1, 2, 3].map((n) => reconnectDelay(policy, n, () => 0))).toEqual([50, 100, 200]);
    expect(reconnectDelay(policy, 10, () => 0.999999)).toBe(5_000);
    expect(reconnectDelay(policy, 1_000, () => 0)).toBe(2_500);
  });

  it('limits attempts unless unlimited', () => {
    expect(attemptAllowed({ ...policy, attempts: 2 }, 2)).toBe(true);
    expect(attemptAllowed({ ...policy, attempts: 2 }, 3)).toBe(false);
    expect(attemptAllowed({ ...policy, attempts: 0 }, 1)).toBe(false);
    expect(attemptAllowed(policy, 1_000_000)).toBe(true);
  });
});

/** An endpoint whose connects succeed or fail as the test says. */
function fakeEndpoint() {
  const connections: FakeConnection[] = [];
  /** The reasons the pool closed connections with. */
  const closed: string[] = [];
  let refusing = false;
  const endpoint = {
    connect: () => {
      if (refusing) return Promise.reject(new FelixError('connect_failed', 'no handshake'));
      const connection = new FakeConnection();
      connections.push(connection);
      (connection as unknown as { close: (code: number, reason: string) => void }).close = (_code, reason) =>
        closed.push(reason);
      return Promise.resolve(connection.asConnection());
    },
  } as unknown as Endpoint;
  return {
    endpoint,
    connections,
    closed,
    refuse: (on: boolean) => (refusing = on),
  };
}

const closeInfo: CloseInfo = { code: 0, reason: 'idle timeout', isApp: false, byPeer: false, timedOut: true };

describe('the connection pool', () => {
  function pool(attempts: number) {
    const fake = fakeEndpoint();
    const events: StatusEvent[] = [];
    const heard: string[] = [];
    const p = new ConnectionPool<ConnectionTenant>({
      name: 'publish',
      size: 1,
      endpoint: () => Promise.resolve(fake.endpoint),
      connectTimeoutMs: 1_000,
      attach: () => ({ onConnectionClosed: () => heard.push('tenant closed') }),
      reconnect: { initialMs: 1, maxMs: 2, attempts },
      onStatus: (event) => events.push(event),
    });
    p.listen({
      lost: (i, _e, resuming) => heard.push(`lost ${i} resuming=${resuming}`),
      restored: (entry) => heard.push(`restored ${entry.index}`),
      gaveUp: (i, e) => heard.push(`gave up ${i}: ${e.code}`),
    });
    return { p, fake, events, heard };
  }

  it('does not reconnect before it is armed: a lost slot connects again on next use', async () => {
    const { p, fake, events, heard } = pool(-1);
    await p.get(0);
    (fake.connections[0]!.onClose as unknown as (i: CloseInfo) => void)(closeInfo);
    expect(heard).toEqual(['lost 0 resuming=false', 'tenant closed']);
    expect(events).toEqual([]);
    await p.get(0);
    expect(fake.connections).toHaveLength(2);
  });

  it('once armed, reopens a lost connection by itself, reporting disconnect, each attempt and reconnect', async () => {
    const { p, fake, events, heard } = pool(-1);
    p.arm();
    const first = await p.get(0);
    fake.refuse(true);
    (fake.connections[0]!.onClose as unknown as (i: CloseInfo) => void)(closeInfo);
    // Meanwhile get() hands out the connection to come.
    const waiting = p.get(0);
    for (let i = 0; i < 100 && events.filter((e) => e.type === 'reconnecting').length < 3; i++)
      await new Promise((r) => setTimeout(r, 5));
    fake.refuse(false);
    const next = await waiting;
    expect(next).not.toBe(first);
    expect(next.index).toBe(0);
    // The handshake alone is not the reconnect: a stream must authenticate on the new connection.
    expect(events.map((e) => e.type)).not.toContain('reconnect');
    p.confirmed(0, next.connection);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('disconnect');
    expect(types.at(-1)).toBe('reconnect');
    expect(types.slice(1, -1).every((t) => t === 'reconnecting')).toBe(true);
    const attempts = events.filter(
      (e): e is Extract<StatusEvent, { type: 'reconnecting' }> => e.type === 'reconnecting',
    );
    expect(attempts.map((e) => e.attempt)).toEqual(attempts.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({
      type: 'reconnect',
      pool: 'publish',
      connection: 0,
      attempts: attempts.length,
    });
    expect(heard).toEqual(['lost 0 resuming=true', 'tenant closed', 'restored 0']);
  });

  it('takes a refused auth on the new connection as a failed attempt of the same reconnect', async () => {
    const { p, fake, events, heard } = pool(3);
    p.arm();
    await p.get(0);
    (fake.connections[0]!.onClose as unknown as (i: CloseInfo) => void)(closeInfo);
    const second = await p.get(0);
    const refusal = new FelixError('auth_failed', 'the broker refused auth: token revoked');
    expect(p.refused(0, second.connection, refusal)).toBe(true);
    // The pool closed it; the close comes back through onClose, as from the transport.
    expect(fake.closed).toEqual(['auth refused']);
    (fake.connections[1]!.onClose as unknown as (i: CloseInfo) => void)(closeInfo);
    const third = await p.get(0);
    // Once a stream authenticated there, a later refusal is the stream's own (not the pool's).
    p.confirmed(0, third.connection);
    expect(p.refused(0, third.connection, refusal)).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['disconnect', 'reconnecting', 'reconnecting', 'reconnect']);
    expect(events.at(-1)).toMatchObject({ type: 'reconnect', attempts: 2 });
    expect(heard).toEqual([
      'lost 0 resuming=true',
      'tenant closed',
      'restored 0',
      'lost 0 resuming=true',
      'tenant closed',
      'restored 0',
    ]);
  });

  it('ends the episode with reconnect when an unconfirmed connection closes with no work left for it', async () => {
    const { p, fake, events, heard } = pool(3);
    let working = true;
    p.listen({ holds: () => working });
    p.arm();
    await p.get(0);
    (fake.connections[0]!.onClose as unknown as (i: CloseInfo) => void)(closeInfo);
    await p.get(0);
    // Its streams ended otherwise than refused, before any authenticated; the broker then closes it.
    working = false;
    (fake.connections[1]!.onClose as unknown as (i: CloseInfo) => void)(closeInfo);
    expect(events.map((e) => e.type)).toEqual(['disconnect', 'reconnecting', 'reconnect']);
    expect(heard.at(-1)).toBe('tenant closed');
    // Not reopened until used again, and then as a first connection (no episode).
    expect(fake.connections).toHaveLength(2);
    working = true;
    await p.get(0);
    expect(fake.connections).toHaveLength(3);
    expect(events).toHaveLength(3);
  });

  it('gives up after the attempt limit: status error, listeners told, waiters rejected', async () => {
    const { p, fake, events, heard } = pool(2);
    p.arm();
    await p.get(0);
    fake.refuse(true);
    (fake.connections[0]!.onClose as unknown as (i: CloseInfo) => void)(closeInfo);
    await expect(p.get(0)).rejects.toMatchObject({ code: 'connection_closed' });
    expect(events.map((e) => e.type)).toEqual(['disconnect', 'reconnecting', 'reconnecting', 'error']);
    expect(heard.at(-1)).toBe('gave up 0: connection_closed');
  });

  it('closing while reconnecting fails what waits with connection_closed', async () => {
    const { p, fake, heard } = pool(-1);
    p.arm();
    await p.get(0);
    fake.refuse(true);
    (fake.connections[0]!.onClose as unknown as (i: CloseInfo) => void)(closeInfo);
    const waiting = p.get(0);
    p.markClosed();
    await expect(waiting).rejects.toMatchObject({ code: 'connection_closed' });
    expect(heard.at(-1)).toBe('gave up 0: connection_closed');
  });

  it('a draining connection gets no new work: get() waits for its successor', async () => {
    const { p, fake, events } = pool(-1);
    p.arm();
    const first = await p.get(0);
    p.markDraining(0, first.connection);
    p.markDraining(0, first.connection);
    let next: unknown = null;
    void p.get(0).then((entry) => (next = entry));
    await settle();
    expect(next).toBeNull();
    (fake.connections[0]!.onClose as unknown as (i: CloseInfo) => void)({
      ...closeInfo,
      byPeer: true,
      timedOut: false,
    });
    await expect(p.get(0)).resolves.not.toBe(first);
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(['draining', 'disconnect']);
    expect(events.filter((e) => e.type === 'draining')).toHaveLength(1);
  });
});

describe('status()', () => {
  it('gives every reader the events from its start, in order, and ends them when the client closes', async () => {
    const hub = new StatusHub();
    const early = hub.reader();
    const event = (n: number): StatusEvent => ({
      type: 'reconnecting',
      pool: 'event',
      connection: 0,
      attempt: n,
      delayMs: 1,
    });
    hub.emit(event(1));
    const late = hub.reader();
    hub.emit(event(2));
    hub.end();
    const read = async (r: AsyncIterableIterator<StatusEvent>) => {
      const out: number[] = [];
      for await (const e of r) if (e.type === 'reconnecting') out.push(e.attempt);
      return out;
    };
    expect(await read(early)).toEqual([1, 2]);
    expect(await read(late)).toEqual([2]);
    expect(await hub.reader().next()).toEqual({ value: undefined, done: true });
  });
});
