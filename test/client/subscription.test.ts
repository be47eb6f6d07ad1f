import { describe, expect, it, vi } from 'vitest';
import type { QueuePolicy } from '../../client/async-queue.js';
import { FelixError } from '../../client/errors.js';
import { EventRouter } from '../../client/event-router.js';
import { Subscriber } from '../../client/subscriber.js';
import type { FelixEvent, GapInfo, SubscribeOptions } from '../../client/subscription.js';
import {
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  encodeJsonMessage,
  encodeMessage,
  encodeSharedEventBatch,
  type Message,
} from '../../wire/index.js';
import { FakeConnection, settle } from './fakes.js';
import { take } from '../support/take-events.js';

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
const text = (events: FelixEvent[]) => events.map((e) => Buffer.from(e.payload).toString());

interface Harness {
  connection: FakeConnection;
  router: EventRouter;
  subscriber: Subscriber;
  warnings: string[];
}

function harness(queue: { capacity?: number; policy?: QueuePolicy } = {}, maxPending = 16): Harness {
  const connection = new FakeConnection();
  const warnings: string[] = [];
  const router = new EventRouter(connection.asConnection(), {
    maxFrameBytes: 1 << 20,
    maxPending,
    onWarning: (m) => warnings.push(m),
    label: 'event connection 0',
  });
  const subscriber = new Subscriber(
    {
      nextIndex: () => 0,
      get: () =>
        Promise.resolve({ connection: connection.asConnection(), tenant: router, index: 0, draining: false }),
    },
    {
      tenant: 't1',
      token: '',
      namespace: 'default',
      maxFrameBytes: 1 << 20,
      queueCapacity: queue.capacity ?? 64,
      queuePolicy: queue.policy ?? 'drop_new',
      requestTimeoutMs: 60_000,
      connectTimeoutMs: 60_000,
      closeTimeoutMs: 60_000,
      onWarning: (m) => warnings.push(m),
    },
  );
  return { connection, router, subscriber, warnings };
}

/** Runs the subscribe flow up to the `subscribe` message; returns the control stream and the id sent. */
async function startSubscribe(h: Harness, options: SubscribeOptions = {}, stream = 'demo') {
  const pending = h.subscriber.subscribe(stream, options);
  pending.catch(() => undefined);
  await settle();
  const control = h.connection.opened.at(-1)!;
  control.receive(authOk);
  await settle();
  const subscribe = control.frames().at(-1)!.message;
  if (subscribe.type !== 'subscribe') throw new Error(`expected subscribe, got ${subscribe.type}`);
  return { pending, control, id: subscribe.subscription_id!, subscribe };
}

async function subscribed(h: Harness, options: SubscribeOptions = {}) {
  const { pending, control, id } = await startSubscribe(h, options);
  const events = h.connection.peerOpens(false);
  events.receive(msg({ type: 'event_stream_hello', subscription_id: id }));
  control.receive(msg({ type: 'subscribed', subscription_id: id }));
  return { sub: await pending, control, events, id };
}

describe('subscribe flow', () => {
  it('sends auth then subscribe with a client-chosen id, tenant, namespace and start', async () => {
    const h = harness();
    const { control, subscribe } = await startSubscribe(h, { start: { offset: 5 }, namespace: 'ns' });
    expect(control.frames()[0]!.message.type).toBe('auth');
    expect(subscribe).toMatchObject({
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'demo',
      start: { offset: 5 },
    });
    expect(subscribe.subscription_id).toBeGreaterThan(0);
  });

  it('accepts the event stream hello before subscribed, keeping events that follow it in the same read', async () => {
    const h = harness();
    const { pending, control, id } = await startSubscribe(h);
    const events = h.connection.peerOpens(false);
    events.receive(
      Buffer.concat([msg({ type: 'event_stream_hello', subscription_id: id }), batch(0, 'a', 'b')]),
    );
    control.receive(msg({ type: 'subscribed', subscription_id: id }));
    const sub = await pending;
    expect(text(await take(sub, 2))).toEqual(['a', 'b']);
  });

  it('accepts the event stream hello after subscribed', async () => {
    const h = harness();
    const { pending, control, id } = await startSubscribe(h);
    control.receive(msg({ type: 'subscribed', subscription_id: id }));
    const sub = await pending;
    const events = h.connection.peerOpens(false);
    events.receive(msg({ type: 'event_stream_hello', subscription_id: id }));
    events.receive(batch(7, 'x'));
    const [event] = await take(sub, 1);
    expect(event).toMatchObject({ tenant: 't1', namespace: 'default', stream: 'demo', offset: 7, gap: 0 });
  });

  it('fails with a typed cursor error carrying the offset that is available', async () => {
    const h = harness();
    const { pending, control } = await startSubscribe(h, { start: { offset: 3 } });
    control.receive(msg({ type: 'subscribe_cursor_error', reason: 'too_old', requested: 3, available: 17 }));
    await expect(pending).rejects.toMatchObject({ code: 'cursor_too_old', requested: 3, available: 17 });
    expect(h.router.subscriptions).toBe(0);
  });

  it('fails with broker_error when the broker refuses the subscribe', async () => {
    const h = harness();
    const { pending, control } = await startSubscribe(h);
    control.receive(msg({ type: 'error', message: 'stream not found', code: 'not_found' }));
    await expect(pending).rejects.toMatchObject({ code: 'broker_error', brokerCode: 'not_found' });
  });

  it('refuses an event stream for a subscription it does not know', () => {
    const h = harness();
    const stray = h.connection.peerOpens(false);
    stray.receive(msg({ type: 'event_stream_hello', subscription_id: 999 }));
    expect(stray.stoppedWith).not.toBeNull();
  });

  it('bounds the subscriptions waiting for their event stream (FELIX_EVENT_ROUTER_MAX_PENDING)', async () => {
    const h = harness({}, 1);
    await startSubscribe(h);
    await expect(h.subscriber.subscribe('other')).rejects.toMatchObject({
      code: 'limit_exceeded',
      retry: 'retry_after',
    });
  });
});

describe('events', () => {
  it('gives each event an owned copy of its payload, not a view of the reused receive buffer', async () => {
    const h = harness();
    const { sub, events } = await subscribed(h);
    const scratch = Buffer.alloc(4096);
    const frame = batch(0, 'first', 'second');
    frame.copy(scratch);
    events.onData!(scratch.subarray(0, frame.length), false);
    scratch.fill(0);
    expect(text(await take(sub, 2))).toEqual(['first', 'second']);
  });

  it('reports gaps from offsets: per event, in counters, and to onGap', async () => {
    const h = harness();
    const gaps: GapInfo[] = [];
    const { sub, events } = await subscribed(h, { onGap: (g) => gaps.push(g) });
    events.receive(batch(0, 'a', 'b'));
    events.receive(batch(5, 'f', 'g'));
    events.receive(batch(9, 'j'));
    const got = await take(sub, 5);
    expect(got.map((e) => [e.offset, e.gap])).toEqual([
      [0, 0],
      [1, 0],
      [5, 3],
      [6, 0],
      [9, 2],
    ]);
    expect([sub.gaps, sub.missed, sub.localDropped]).toEqual([2, 5, 0]);
    expect(gaps).toEqual([
      { expected: 2, offset: 5, missed: 3, epoch: undefined, epochChanged: false },
      { expected: 7, offset: 9, missed: 2, epoch: undefined, epochChanged: false },
    ]);
    expect(got.every((e) => e.epochChanged === false)).toBe(true);
  });

  it('skips replayed events below the requested start', async () => {
    const h = harness();
    const { sub, events } = await subscribed(h, { start: { offset: 10 } });
    events.receive(batch(8, 'h', 'i', 'j', 'k'));
    expect(text(await take(sub, 2))).toEqual(['j', 'k']);
    expect([sub.skipped, sub.gaps, sub.received]).toEqual([2, 0, 2]);
  });

  it('counts local drops apart from broker gaps (drop_new)', async () => {
    const h = harness({ capacity: 2, policy: 'drop_new' });
    const { sub, events } = await subscribed(h);
    events.receive(batch(0, 'a', 'b', 'c', 'd', 'e'));
    expect([sub.localDropped, sub.missed, sub.queued]).toEqual([3, 0, 2]);
    expect(text(await take(sub, 2))).toEqual(['a', 'b']);
  });

  it('drop_old keeps the newest events', async () => {
    const h = harness({ capacity: 2, policy: 'drop_old' });
    const { sub, events } = await subscribed(h);
    events.receive(batch(0, 'a', 'b', 'c', 'd', 'e'));
    expect(sub.localDropped).toBe(3);
    expect(text(await take(sub, 2))).toEqual(['d', 'e']);
  });

  it('block pauses the event stream when the queue fills and resumes it once drained', async () => {
    const h = harness({ capacity: 4, policy: 'block' });
    const { sub, events } = await subscribed(h);
    events.receive(batch(0, 'a', 'b', 'c'));
    expect(events.paused).toBe(false);
    events.receive(batch(3, 'd', 'e'));
    expect(events.paused).toBe(true);
    expect([sub.queued, sub.localDropped]).toEqual([5, 0]);
    await take(sub, 2);
    expect(events.paused).toBe(true);
    // Resumes at half capacity, not at the first free slot, so it does not flap on every event.
    await take(sub, 1);
    expect(events.paused).toBe(false);
  });

  it('delivers to onEvent synchronously, without a queue, and is then not iterable', async () => {
    const h = harness();
    const seen: string[] = [];
    const { sub, events } = await subscribed(h, {
      onEvent: (e) => seen.push(`${e.offset}:${Buffer.from(e.payload)}`),
    });
    events.receive(batch(4, 'x', 'y'));
    expect(seen).toEqual(['4:x', '5:y']);
    expect(sub.queued).toBe(0);
    expect(() => sub[Symbol.asyncIterator]()).toThrow(FelixError);
  });
});

describe('ending', () => {
  it('unsubscribes by finishing the control stream; ends when the broker finishes the event stream', async () => {
    const h = harness();
    const { sub, control, events } = await subscribed(h);
    events.receive(batch(0, 'a'));
    const done = sub.unsubscribe();
    expect(control.finished).toBe(true);
    events.receive(batch(1, 'late'));
    events.receive(Buffer.alloc(0), true);
    await done;
    expect(await sub.closed).toBeUndefined();
    expect(text(await take(sub, 5))).toEqual(['a']);
    expect(h.router.subscriptions).toBe(0);
  });

  it('ends with subscription_evicted, after the queued events, when the broker evicts it', async () => {
    const h = harness();
    const { sub, control, events } = await subscribed(h);
    events.receive(batch(0, 'a'));
    control.receive(
      msg({ type: 'error', message: 'subscription 1 evicted: slow subscriber', code: 'limit_exceeded' }),
    );
    events.onReset!(0x102);
    const iterator = sub[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.offset).toBe(0);
    await expect(iterator.next()).rejects.toMatchObject({
      code: 'subscription_evicted',
      brokerCode: 'limit_exceeded',
    });
    expect((await sub.closed)?.message).toContain('slow subscriber');
  });

  it('ends with broker_error when the broker ends it for another reason (its log could not be read)', async () => {
    const h = harness();
    const { sub, control, events } = await subscribed(h);
    events.receive(batch(0, 'a'));
    control.receive(
      msg({
        type: 'error',
        message: 'subscription 1 ended: reading the stream log failed',
        code: 'storage_error',
        retry: 'retry_after',
      }),
    );
    events.receive(Buffer.alloc(0), true);
    const iterator = sub[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.offset).toBe(0);
    await expect(iterator.next()).rejects.toMatchObject({
      code: 'broker_error',
      brokerCode: 'storage_error',
      retry: 'retry_after',
    });
  });

  it('reads an event stream reset without a reason as an eviction when its code says so', async () => {
    vi.useFakeTimers();
    try {
      const h = harness();
      const { sub, events } = await subscribed(h);
      events.onReset!(0x102);
      expect(sub.isClosed).toBe(false);
      vi.advanceTimersByTime(2000);
      expect((await sub.closed)?.code).toBe('subscription_evicted');
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends every subscription of a connection that closed', async () => {
    const h = harness();
    const { sub } = await subscribed(h);
    h.router.onConnectionClosed(new FelixError('connection_closed', 'idle timeout'));
    expect((await sub.closed)?.code).toBe('connection_closed');
  });
});
