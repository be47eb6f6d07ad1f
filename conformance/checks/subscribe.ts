// Each subscribe start, cursor errors, subscription ids and stream epochs: docs/protocol.md "Subscribe".
import type { CheckContext } from '../context.js';
import { describeFrame } from '../describe.js';
import { collectEvents, flatten } from '../events.js';
import type { MessageOf } from '../../wire/index.js';
import { CheckFailure, during, expectThat } from '../failure.js';
import { area } from '../registry.js';
import { NAMESPACE, type AuthedStream } from '../session.js';
import { expectEvents, readBack } from './common.js';

// The too_old check publishes past the retention; beyond this many events it would take too long.
const MAX_CAPACITY_TO_EXHAUST = 65_536;

/** A stream holding `payloads` at offsets 0.., confirmed in the log by reading them back. */
async function streamWith(ctx: CheckContext, label: string, payloads: readonly string[]) {
  const s = await ctx.authed();
  const stream = ctx.names.next(label);
  for (const p of payloads) await s.publish(stream, [p]);
  await readBack(ctx, stream, payloads.length);
  return { s, stream };
}

/** A subscribe expected to be refused with subscribe_cursor_error. */
async function cursorError(s: AuthedStream, stream: string, offset: number) {
  s.send({ type: 'subscribe', tenant_id: s.tenant, namespace: 'conformance', stream, start: { offset } });
  return s.expect('subscribe_cursor_error', `subscribe_cursor_error for start {"offset":${offset}}`);
}

/** Sends a subscribe (any fields) and reads its answer: `subscribed` or `subscribe_cursor_error`. */
async function subscribeAnswer(
  s: AuthedStream,
  request: Omit<MessageOf<'subscribe'>, 'type' | 'tenant_id' | 'namespace'>,
  what: string,
): Promise<MessageOf<'subscribed'> | MessageOf<'subscribe_cursor_error'>> {
  s.send({ type: 'subscribe', tenant_id: s.tenant, namespace: 'conformance', ...request });
  const { frame, message } = await s.answer(what);
  if (message.type !== 'subscribed' && message.type !== 'subscribe_cursor_error')
    throw new CheckFailure(
      `expected subscribed or subscribe_cursor_error for ${what}, got ${describeFrame(frame)}`,
    );
  return message;
}

/** Live subscription (latest, explicit or by default): only events published after it. */
async function latest(ctx: CheckContext, explicit: boolean): Promise<void> {
  const { s, stream } = await streamWith(ctx, 'latest', ['old-0', 'old-1']);
  const sub = await s.subscribe(stream, explicit ? { start: 'latest' } : {});
  await s.publish(stream, ['new-2']);
  const events = flatten(await collectEvents(sub.events, 1, 'the event published after subscribing'));
  expectEvents(events.slice(0, 1), ['new-2'], 2, 'a subscriber from latest');
}

export const subscribeChecks = area('subscribe', {
  /** Offsets of a new stream start at 0; earliest replays from the oldest retained. */
  async earliest_from_offset_0(ctx) {
    const { s, stream } = await streamWith(ctx, 'earliest', ['e0', 'e1', 'e2']);
    const sub = await s.subscribe(stream, { start: 'earliest' });
    const events = flatten(await collectEvents(sub.events, 3, 'the 3 replayed events'));
    expectEvents(events.slice(0, 3), ['e0', 'e1', 'e2'], 0, 'a subscriber from earliest');
  },

  async latest_is_the_default(ctx) {
    await latest(ctx, false);
  },

  async latest_explicit(ctx) {
    await latest(ctx, true);
  },

  /**
   * {"offset": n} replays from the frame holding n: everything from n on, in order; events below n only
   * from that same frame.
   */
  async from_offset(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('from-offset');
    await s.publish(stream, ['o0', 'o1', 'o2', 'o3', 'o4']);
    await s.publish(stream, ['o5']);
    await s.publish(stream, ['o6']);
    await readBack(ctx, stream, 7);
    const sub = await s.subscribe(stream, { start: { offset: 3 } });
    const frames = [];
    let last = -1;
    while (last < 6) {
      const [frame] = await collectEvents(sub.events, 1, 'events from offset 3 up to 6');
      for (const e of frame!.events) {
        if (e.offset === undefined)
          throw new CheckFailure('an event without offset (offered 0x3f, which has 0x20)');
        last = Math.max(last, e.offset);
      }
      frames.push(frame!);
    }
    const all = flatten(frames);
    const from3 = all.filter((e) => e.offset! >= 3);
    expectEvents(from3, ['o3', 'o4', 'o5', 'o6'], 3, 'events at and after offset 3');
    for (const f of frames) {
      const below = f.events.filter((e) => e.offset! < 3);
      expectThat(
        below.length === 0 || f.events.some((e) => e.offset! >= 3),
        `events below the requested offset 3 came in a frame without offset 3 or later: ${below.map((e) => e.offset).join(',')}`,
      );
      for (const e of below)
        expectThat(e.payload.toString() === `o${e.offset}`, `offset ${e.offset} carries the wrong payload`);
    }
    const skipped = all.length - from3.length;
    return skipped > 0 ? `${skipped} event(s) below 3 came with the frame holding 3` : undefined;
  },

  /** {"offset": tail} is the live tail: the next event published. */
  async from_offset_at_tail(ctx) {
    const { s, stream } = await streamWith(ctx, 'at-tail', ['t0', 't1']);
    const sub = await s.subscribe(stream, { start: { offset: 2 } });
    await s.publish(stream, ['t2']);
    const events = flatten(await collectEvents(sub.events, 1, 'the event published at the tail'));
    expectEvents(events.slice(0, 1), ['t2'], 2, 'a subscriber from the tail offset');
  },

  /** Beyond the tail: in_future, naming the tail; the stream carries on. */
  async cursor_in_future(ctx) {
    const { s, stream } = await streamWith(ctx, 'in-future', ['f0', 'f1']);
    const e = await cursorError(s, stream, 5);
    expectThat(
      e.reason === 'in_future' && e.requested === 5 && e.available === 2,
      `expected in_future requested 5 available 2, got ${JSON.stringify(e)}`,
    );
    await ctx.stillServed(s);
  },

  /** Below what retention kept: too_old, naming the oldest retained offset, which then works. */
  async cursor_too_old(ctx) {
    const capacity = ctx.settings.replayCapacity;
    if (capacity > MAX_CAPACITY_TO_EXHAUST)
      return `not checked: exhausting a retention of ${capacity} events would take too long`;
    const s = await ctx.authed();
    const stream = ctx.names.next('too-old');
    const total = capacity + 256;
    const chunk = 128;
    for (let sent = 0; sent < total; sent += chunk) {
      const n = Math.min(chunk, total - sent);
      await s.publish(
        stream,
        Array.from({ length: n }, (_, i) => `p${sent + i}`),
      );
    }
    await s.publish(stream, ['last']);
    // publish_ok may leave before the broker cuts the batch into the log: wait until the last event can
    // be read, so retention has done its work before the cursor is asked for.
    const tail = await s.subscribe(stream, { start: { offset: total } });
    await collectEvents(tail.events, 1, 'the last event published');
    const e = await cursorError(s, stream, 0);
    expectThat(
      e.reason === 'too_old' && e.requested === 0 && e.available > 0 && e.available <= total,
      `expected too_old requested 0 and available in 1..${total}, got ${JSON.stringify(e)}`,
    );
    const sub = await during(`subscribing at the available offset ${e.available}`, () =>
      s.subscribe(stream, { start: { offset: e.available } }),
    );
    const frames = await collectEvents(sub.events, 1, `the event at offset ${e.available}`);
    const first = flatten(frames).find((ev) => ev.offset === e.available);
    const want = e.available === total ? 'last' : `p${e.available}`;
    expectThat(
      first !== undefined && first.payload.toString() === want,
      `expected ${want} at offset ${e.available}, got ${first?.payload.toString() ?? 'nothing'}`,
    );
    return `FELIX_STREAM_REPLAY_CAPACITY assumed ${capacity}; oldest retained ${e.available}`;
  },

  /** Any id up to 2^53 - 1, named by subscribed and the hello (subscribe() checks both). */
  async subscription_id_chosen_by_client(ctx) {
    const s = await ctx.authed();
    for (const id of [4242, Number.MAX_SAFE_INTEGER]) {
      const sub = await s.subscribe(ctx.names.next('chosen-id'), { subscriptionId: id });
      expectThat(sub.id === id, `subscribed as ${sub.id}, asked for ${id}`);
    }
  },

  /** Without subscription_id the broker picks a positive integer, unique on the connection. */
  async subscription_id_picked_by_broker(ctx) {
    const link = await ctx.connect();
    const a = await ctx.authed(link);
    const b = await ctx.authed(link);
    const stream = ctx.names.next('picked-id');
    const first = await a.subscribe(stream);
    const second = await b.subscribe(stream);
    const third = await a.subscribe(ctx.names.next('picked-id'));
    const ids = [first.id, second.id, third.id];
    expectThat(
      ids.every((id) => Number.isSafeInteger(id) && id > 0),
      `broker-picked ids must be positive integers, got ${ids.join(', ')}`,
    );
    expectThat(
      new Set(ids).size === 3,
      `broker-picked ids must be unique on the connection, got ${ids.join(', ')}`,
    );
  },

  /** A client-chosen id already in use on the connection: error invalid_request; the stream carries on. */
  async subscription_id_in_use(ctx) {
    const link = await ctx.connect();
    const a = await ctx.authed(link);
    const b = await ctx.authed(link);
    await a.subscribe(ctx.names.next('dup-id'), { subscriptionId: 77 });
    b.send({
      type: 'subscribe',
      tenant_id: b.tenant,
      namespace: 'conformance',
      stream: ctx.names.next('dup-id'),
      subscription_id: 77,
    });
    await b.expectError('a subscription_id already in use on the connection', { code: 'invalid_request' });
    await ctx.stillServed(b);
  },

  /**
   * A client that allows the broker no more event streams now (here one at a time) gets limit_exceeded,
   * retry class `retry_after`, and the same subscribe is served once its other subscription ended; a
   * connection that allows none at all gets `fatal`. Both streams carry on.
   */
  async event_stream_limit(ctx) {
    const link = await ctx.connect({ maxStreamsUni: 1 });
    const holder = await ctx.authed(link);
    const s = await ctx.authed(link);
    const held = await holder.subscribe(ctx.names.next('holds-the-event-stream'));
    const stream = ctx.names.next('waits-for-an-event-stream');
    const subscribe = (on: AuthedStream): void =>
      on.send({ type: 'subscribe', tenant_id: on.tenant, namespace: NAMESPACE, stream });
    const refusedClass = async (on: AuthedStream, what: string): Promise<string | undefined> =>
      ((await on.expectError(what, { code: 'limit_exceeded' })) as MessageOf<'error'>).retry;
    subscribe(s);
    const now = await refusedClass(s, 'a subscribe while the client allows no more event streams');
    expectThat(!s.errorCodes || now === 'retry_after', `expected retry class retry_after, got ${now}`);
    holder.fs.end();
    await held.events.ended('the end of the held subscription after its stream closed');
    await during('subscribing again once an event stream was given back', () => s.subscribe(stream));

    const none = await ctx.authed(await ctx.connect({ maxStreamsUni: 0 }));
    subscribe(none);
    const never = await refusedClass(none, 'a subscribe on a connection that allows no event stream');
    expectThat(!none.errorCodes || never === 'fatal', `expected retry class fatal, got ${never}`);
    await ctx.stillServed(none);
  },

  /** A client that abandons the subscribing stream (RESET_STREAM, any code) ends its subscriptions too. */
  async reset_ends_the_subscription(ctx) {
    const s = await ctx.authed();
    const sub = await s.subscribe(ctx.names.next('reset-ends'));
    s.fs.stream.reset(0x202);
    const end = await sub.events.ended('the end of the event stream after its subscribing stream was reset');
    expectThat(
      end === 'fin',
      `the event stream was reset (${JSON.stringify(end)}) instead of ending with FIN`,
    );
    await ctx.stillServed();
  },

  /**
   * A client that stops the subscribing stream (STOP_SENDING, any code) ends its subscriptions too, as
   * FIN does, when the broker reads the stop: well within a second (not at a keep-alive tick, seconds later).
   */
  async stop_ends_the_subscription(ctx) {
    const s = await ctx.authed();
    const sub = await s.subscribe(ctx.names.next('stop-ends'));
    const stoppedAt = performance.now();
    s.fs.stream.stop(0x202);
    const end = await sub.events.ended(
      'the end of the event stream after its subscribing stream was stopped',
    );
    const ms = Math.round(performance.now() - stoppedAt);
    expectThat(
      end === 'fin',
      `the event stream was reset (${JSON.stringify(end)}) instead of ending with FIN`,
    );
    expectThat(ms < 1000, `the event stream ended ${ms} ms after the stop: the broker heard it late`);
    await ctx.stillServed();
    return `ended ${ms} ms after the stop`;
  },

  /** Closing the stream that subscribed ends its subscriptions: the event stream ends with FIN. */
  async closing_the_stream_ends_the_subscription(ctx) {
    const s = await ctx.authed();
    const stream = ctx.names.next('close-ends');
    const sub = await s.subscribe(stream);
    s.fs.end();
    const end = await sub.events.ended('the end of the event stream after its subscribing stream closed');
    if (end !== 'fin')
      throw new CheckFailure(
        `the event stream was reset (code 0x${end.reset.toString(16)}) instead of ending with FIN`,
      );
    const frame = sub.events.unread > 0 ? await sub.events.next('') : null;
    expectThat(
      frame === null,
      `unexpected frame on the ended event stream: ${frame ? describeFrame(frame) : ''}`,
    );
  },

  /**
   * `subscribed` names the stream's epoch: a positive integer below 2^53, the same for every subscription
   * to the stream while the broker keeps it; cursor errors name it too.
   */
  async subscribed_names_the_epoch(ctx) {
    const { s, stream } = await streamWith(ctx, 'epoch', ['x0', 'x1']);
    const first = await subscribeAnswer(s, { stream, start: 'earliest' }, 'subscribe from earliest');
    const second = await subscribeAnswer(s, { stream, start: { offset: 1 } }, 'subscribe from offset 1');
    const beyond = await subscribeAnswer(s, { stream, start: { offset: 9 } }, 'subscribe beyond the tail');
    expectThat(first.type === 'subscribed' && second.type === 'subscribed', 'both subscribes are confirmed');
    const epoch = first.epoch;
    expectThat(
      epoch !== undefined && Number.isSafeInteger(epoch) && epoch > 0,
      `subscribed carries no epoch (a positive integer): ${JSON.stringify(first)}`,
    );
    expectThat(
      second.epoch === epoch,
      `two subscriptions to one stream name epochs ${epoch} and ${second.epoch}`,
    );
    expectThat(
      beyond.type === 'subscribe_cursor_error' && beyond.reason === 'in_future' && beyond.epoch === epoch,
      `expected in_future naming epoch ${epoch}, got ${JSON.stringify(beyond)}`,
    );
    return `epoch ${epoch}`;
  },

  /**
   * A subscribe naming another epoch (0 included) is refused with subscribe_cursor_error `epoch_changed`
   * (the current epoch, the oldest retained offset), whatever its start; naming the current epoch works
   * as usual.
   */
  async epoch_changed(ctx) {
    const { s, stream } = await streamWith(ctx, 'epoch-changed', ['y0', 'y1', 'y2']);
    const current = await subscribeAnswer(s, { stream, start: 'earliest' }, 'subscribe from earliest');
    const epoch = current.epoch;
    if (current.type !== 'subscribed' || epoch === undefined)
      throw new CheckFailure(`subscribed carries no epoch: ${JSON.stringify(current)}`);
    const other = epoch === 1 ? 2 : epoch - 1;
    // Epoch 0 is no stream's: it is another epoch too, never "any".
    for (const [start, requested, named] of [
      [{ offset: 1 }, 1, other],
      ['earliest', 0, other],
      ['earliest', 0, 0],
    ] as const) {
      const e = await subscribeAnswer(s, { stream, start, epoch: named }, `subscribe naming epoch ${named}`);
      expectThat(
        e.type === 'subscribe_cursor_error' &&
          e.reason === 'epoch_changed' &&
          e.requested === requested &&
          e.available === 0 &&
          e.epoch === epoch,
        `expected epoch_changed requested ${requested} available 0 epoch ${epoch}, got ${JSON.stringify(e)}`,
      );
    }
    const sub = await during('subscribing from offset 2 naming the current epoch', async () => {
      const answer = await subscribeAnswer(
        s,
        { stream, start: { offset: 2 }, epoch },
        'subscribe naming the epoch',
      );
      expectThat(answer.type === 'subscribed', `expected subscribed, got ${JSON.stringify(answer)}`);
      return s.link.eventStream((answer as MessageOf<'subscribed'>).subscription_id);
    });
    const events = flatten(await collectEvents(sub.events, 1, 'the event at offset 2'));
    const two = events.find((e) => e.offset === 2);
    expectThat(
      two?.payload.toString() === 'y2',
      `expected y2 at offset 2, got ${two?.payload.toString() ?? 'nothing'}`,
    );
    await ctx.stillServed(s);
  },
});
