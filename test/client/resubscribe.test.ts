// A subscription across a lost connection, without sockets: suspended with its cursor and queue, then
// subscribed again on the new connection from nextOffset in the epoch it knows, and what the broker
// answers — the same epoch, a new one (history lost), or a cursor retention moved past — turned into
// events and gaps that never let offsets silently change meaning.
import { describe, expect, it } from 'vitest';
import type { PoolListener, PooledConnection } from '../../client/connection-pool.js';
import { FelixError } from '../../client/errors.js';
import { EventRouter } from '../../client/event-router.js';
import type { StatusEvent } from '../../client/status.js';
import { Subscriber } from '../../client/subscriber.js';
import type { FelixEvent, GapInfo, Subscription } from '../../client/subscription.js';
import {
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  encodeJsonMessage,
  encodeMessage,
  encodeSharedEventBatch,
  type Message,
  type MessageOf,
} from '../../wire/index.js';
import { FakeConnection, type FakeStream, settle } from './fakes.js';

const authOk = encodeJsonMessage({
  type: 'auth_ok',
  server_flags: KNOWN_FLAGS,
  server_features: KNOWN_FEATURES,
});
const msg = (message: Message) => encodeMessage(message, { msgpack: true });
const batch = (base: number, ...payloads: string[]) =>
  encodeSharedEventBatch(
    payloads.map((p) => Buffer.from(p)),
    base,
  );
const lost = new FelixError('connection_closed', 'event connection 0 closed by the broker: shutting down');

/** One event connection slot whose connection the test loses and replaces at will. */
class FakeEventPool {
  readonly name = 'event';
  private readonly listeners: PoolListener<EventRouter>[] = [];
  entry: PooledConnection<EventRouter>;
  drainingMarks = 0;

  constructor() {
    this.entry = this.newEntry();
  }

  nextIndex(): number {
    return 0;
  }

  get(): Promise<PooledConnection<EventRouter>> {
    return Promise.resolve(this.entry);
  }

  listen(listener: PoolListener<EventRouter>): void {
    this.listeners.push(listener);
  }

  markDraining(): void {
    this.drainingMarks++;
  }

  /** The connection is lost and a new one sought; then it is up. */
  loseAndRestore(): PooledConnection<EventRouter> {
    for (const l of this.listeners) l.lost?.(0, lost, true);
    this.entry.tenant.onConnectionClosed(lost);
    this.entry = this.newEntry();
    for (const l of this.listeners) l.restored?.(this.entry);
    return this.entry;
  }

  giveUp(error: FelixError): void {
    for (const l of this.listeners) l.lost?.(0, lost, true);
    for (const l of this.listeners) l.gaveUp?.(0, error);
  }

  get fake(): FakeConnection {
    return this.entry.connection as unknown as FakeConnection;
  }

  private newEntry(): PooledConnection<EventRouter> {
    const connection = new FakeConnection();
    const router = new EventRouter(connection.asConnection(), {
      maxFrameBytes: 1 << 20,
      maxPending: 16,
      onWarning: () => undefined,
      label: 'event connection 0',
    });
    return { connection: connection.asConnection(), tenant: router, index: 0, draining: false };
  }
}

interface Recorded {
  readonly events: FelixEvent[];
  readonly gaps: GapInfo[];
}

/** The last `subscribe` the control stream carried. */
function lastSubscribe(control: FakeStream): MessageOf<'subscribe'> {
  const m = control.frames().at(-1)!.message;
  if (m.type !== 'subscribe') throw new Error(`expected subscribe, got ${m.type}`);
  return m;
}

/** Answers `subscribe` on the current connection: subscribed with `epoch`, then the event stream's hello. */
function confirm(pool: FakeEventPool, control: FakeStream, epoch: number): FakeStream {
  const id = lastSubscribe(control).subscription_id!;
  const events = pool.fake.peerOpens(false);
  events.receive(msg({ type: 'event_stream_hello', subscription_id: id }));
  control.receive(msg({ type: 'subscribed', subscription_id: id, epoch }));
  return events;
}

async function subscribedAt(epoch: number) {
  const pool = new FakeEventPool();
  const statuses: StatusEvent[] = [];
  const subscriber = new Subscriber(pool, {
    onStatus: (s) => statuses.push(s),
    tenant: 't1',
    token: '',
    namespace: 'default',
    maxFrameBytes: 1 << 20,
    queueCapacity: 64,
    queuePolicy: 'drop_new',
    requestTimeoutMs: 60_000,
    connectTimeoutMs: 60_000,
    closeTimeoutMs: 60_000,
    onWarning: () => undefined,
  });
  const recorded: Recorded = { events: [], gaps: [] };
  const pending = subscriber.subscribe('demo', {
    start: 'earliest',
    onEvent: (e) => recorded.events.push(e),
    onGap: (g) => recorded.gaps.push(g),
  });
  await settle();
  const control = pool.fake.opened.at(-1)!;
  control.receive(authOk);
  await settle();
  expect(lastSubscribe(control)).toMatchObject({ start: 'earliest' });
  expect(lastSubscribe(control).epoch).toBeUndefined();
  const events = confirm(pool, control, epoch);
  const sub = await pending;
  events.receive(batch(0, 'a', 'b', 'c'));
  return { pool, sub, recorded, statuses };
}

/** Loses the connection and returns the new control stream, authenticated. */
async function reconnect(pool: FakeEventPool, sub: Subscription): Promise<FakeStream> {
  pool.loseAndRestore();
  expect(sub.isClosed).toBe(false);
  await settle();
  const control = pool.fake.opened.at(-1)!;
  control.receive(authOk);
  await settle();
  return control;
}

const texts = (r: Recorded) => r.events.map((e) => Buffer.from(e.payload).toString());

describe('a subscription across a lost connection', () => {
  it('resumes from nextOffset in the same epoch: no gap, nothing twice', async () => {
    const { pool, sub, recorded } = await subscribedAt(100);
    const control = await reconnect(pool, sub);
    expect(lastSubscribe(control)).toMatchObject({ start: { offset: 3 }, epoch: 100 });
    const events = confirm(pool, control, 100);
    // The replay starts with the whole frame holding 3: what is below the cursor is skipped.
    events.receive(batch(2, 'c', 'd', 'e'));
    expect(texts(recorded)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(recorded.gaps).toEqual([]);
    expect([sub.epoch, sub.nextOffset, sub.gaps]).toEqual([100, 5, 0]);
  });

  it('after a broker restart (epoch_changed) starts over from the new epoch and reports a gap of unknown size', async () => {
    const { pool, sub, recorded } = await subscribedAt(100);
    const control = await reconnect(pool, sub);
    control.receive(
      msg({
        type: 'subscribe_cursor_error',
        reason: 'epoch_changed',
        requested: 3,
        available: 0,
        epoch: 200,
      }),
    );
    await settle();
    expect(lastSubscribe(control)).toMatchObject({ start: 'earliest', epoch: 200 });
    const events = confirm(pool, control, 200);
    events.receive(batch(0, 'x', 'y'));
    expect(texts(recorded)).toEqual(['a', 'b', 'c', 'x', 'y']);
    expect(recorded.gaps).toEqual([
      { expected: 3, offset: 0, missed: undefined, epoch: 200, epochChanged: true },
    ]);
    const [x, y] = recorded.events.slice(3);
    expect([x!.gap, x!.epochChanged, y!.gap, y!.epochChanged]).toEqual([
      Number.POSITIVE_INFINITY,
      true,
      0,
      false,
    ]);
    expect([sub.epoch, sub.nextOffset, sub.gaps]).toEqual([200, 2, 1]);
  });

  it('when the broker lost its newest events (in_future, same epoch) resumes at its tail: nothing twice, the rewind reported', async () => {
    const { pool, sub, recorded } = await subscribedAt(100);
    const control = await reconnect(pool, sub);
    // The subscription was given 0..2; the broker came back with its tail at 1 (offset 2 lost in a crash).
    control.receive(
      msg({ type: 'subscribe_cursor_error', reason: 'in_future', requested: 3, available: 1, epoch: 100 }),
    );
    await settle();
    expect(lastSubscribe(control)).toMatchObject({ start: { offset: 1 }, epoch: 100 });
    const events = confirm(pool, control, 100);
    // A new event takes offset 1 again: delivered (it is new), with the rewind reported before it.
    events.receive(batch(1, 'n1', 'n2'));
    expect(texts(recorded)).toEqual(['a', 'b', 'c', 'n1', 'n2']);
    expect(recorded.gaps).toEqual([
      { expected: 3, offset: 1, missed: undefined, epoch: 100, epochChanged: false },
    ]);
    expect([sub.epoch, sub.nextOffset]).toEqual([100, 3]);
  });

  it('when retention moved past nextOffset (too_old) continues from the oldest retained, the gap counted', async () => {
    const { pool, sub, recorded } = await subscribedAt(100);
    const control = await reconnect(pool, sub);
    control.receive(
      msg({ type: 'subscribe_cursor_error', reason: 'too_old', requested: 3, available: 10, epoch: 100 }),
    );
    await settle();
    // `earliest` in the same epoch, not offset 10: the next publish may already have evicted that one.
    expect(lastSubscribe(control)).toMatchObject({ start: 'earliest', epoch: 100 });
    const events = confirm(pool, control, 100);
    events.receive(batch(10, 'k'));
    expect(texts(recorded)).toEqual(['a', 'b', 'c', 'k']);
    expect(recorded.gaps).toEqual([{ expected: 3, offset: 10, missed: 7, epoch: 100, epochChanged: false }]);
    expect(recorded.events.at(-1)!.gap).toBe(7);
    expect(sub.missed).toBe(7);
  });

  it('reports a resume the broker refuses as an error status, and ends the subscription with it', async () => {
    const { pool, sub, statuses } = await subscribedAt(100);
    const control = await reconnect(pool, sub);
    control.receive(msg({ type: 'error', message: 'stream not found', code: 'not_found' }));
    await settle();
    expect(sub.isClosed).toBe(true);
    await expect(sub.closed).resolves.toMatchObject({ code: 'broker_error', brokerCode: 'not_found' });
    expect(statuses.filter((s) => s.type === 'error')).toEqual([
      expect.objectContaining({ type: 'error', error: expect.objectContaining({ brokerCode: 'not_found' }) }),
    ]);
  });

  it('waits for the next connection when the resume meets a draining broker, and reports its draining notice', async () => {
    const { pool, sub } = await subscribedAt(100);
    const control = await reconnect(pool, sub);
    control.receive(msg({ type: 'draining' }));
    control.receive(msg({ type: 'error', message: 'broker is draining for shutdown', code: 'draining' }));
    await settle();
    expect(pool.drainingMarks).toBe(1);
    expect(sub.isClosed).toBe(false);
    const again = await reconnect(pool, sub);
    expect(lastSubscribe(again)).toMatchObject({ start: { offset: 3 }, epoch: 100 });
  });

  it('keeps what the iterator had queued across the reconnect', async () => {
    const pool = new FakeEventPool();
    const subscriber = new Subscriber(pool, {
      tenant: 't1',
      token: '',
      namespace: 'default',
      maxFrameBytes: 1 << 20,
      queueCapacity: 64,
      queuePolicy: 'drop_new',
      requestTimeoutMs: 60_000,
      connectTimeoutMs: 60_000,
      closeTimeoutMs: 60_000,
      onWarning: () => undefined,
    });
    const pending = subscriber.subscribe('demo', { start: 'earliest' });
    await settle();
    const first = pool.fake.opened.at(-1)!;
    first.receive(authOk);
    await settle();
    confirm(pool, first, 7).receive(batch(0, 'a', 'b'));
    const sub = await pending;
    const control = await reconnect(pool, sub);
    confirm(pool, control, 7).receive(batch(2, 'c'));
    const iterator = sub[Symbol.asyncIterator]();
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push(Buffer.from((await iterator.next()).value.payload).toString());
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('ends with the error when the pool gives up', async () => {
    const { pool, sub } = await subscribedAt(100);
    const error = new FelixError('connection_closed', 'gave up after 3 reconnect attempts');
    pool.giveUp(error);
    expect(await sub.closed).toBe(error);
  });
});
