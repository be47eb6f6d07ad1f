// Each event encoding a subscriber can negotiate: docs/protocol.md "Which encoding events come in".
import {
  FLAG_BINARY_EVENT_BATCH,
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_EVENT_BATCH_OFFSETS,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
} from '../../wire/index.js';
import type { CheckContext } from '../context.js';
import { hex } from '../describe.js';
import { collectEvents, flatten, type EventFrameView } from '../events.js';
import { expectThat } from '../failure.js';
import type { BrokerLink } from '../link.js';
import { area, type Check } from '../registry.js';
import { DEFAULT_FLAGS_WITHOUT_OFFER } from '../session.js';
import { expectEvents, readBack } from './common.js';

/** How events reach a subscriber whose auth negotiated `n` (offer & server_flags). */
interface Expected {
  /** Flags every event frame must have. */
  readonly frameFlags: number;
  /** Flags of the event_stream_hello. */
  readonly helloFlags: number;
  readonly kind: 'binary' | 'message';
  readonly offsets: boolean;
  readonly subscriptionId: boolean;
}

/** The contract's four rules, in order. */
export function expectedEncoding(n: number): Expected {
  const helloFlags = (n & FLAG_MSGPACK) !== 0 ? FLAG_MSGPACK : 0;
  if ((n & FLAG_BINARY_EVENT_BATCH_SHARED) !== 0) {
    // Stamps ride only on the form with offsets (0xa4).
    const offsets = n & FLAG_EVENT_BATCH_OFFSETS;
    const frameFlags = FLAG_BINARY_EVENT_BATCH_SHARED | offsets | (offsets !== 0 ? n & FLAG_TIMINGS : 0);
    return {
      frameFlags,
      helloFlags,
      kind: 'binary',
      offsets: (n & FLAG_EVENT_BATCH_OFFSETS) !== 0,
      subscriptionId: false,
    };
  }
  if ((n & FLAG_BINARY_EVENT_BATCH) !== 0) {
    const frameFlags = FLAG_BINARY_EVENT_BATCH | (n & FLAG_EVENT_BATCH_OFFSETS);
    return {
      frameFlags,
      helloFlags,
      kind: 'binary',
      offsets: (n & FLAG_EVENT_BATCH_OFFSETS) !== 0,
      subscriptionId: true,
    };
  }
  return { frameFlags: helloFlags, helloFlags, kind: 'message', offsets: true, subscriptionId: false };
}

function describeExpected(e: Expected): string {
  if (e.kind === 'binary') return `binary event batches with flags ${hex(e.frameFlags)}`;
  return e.frameFlags === FLAG_MSGPACK ? 'MessagePack event/event_batch' : 'JSON event/event_batch';
}

/** Checks one event frame against what the subscriber negotiated. */
function checkFrame(view: EventFrameView, want: Expected, subscriptionId: number, offer: string): void {
  const where = `an event frame to a subscriber that offered ${offer}`;
  expectThat(
    view.flags === want.frameFlags,
    `${where} has flags ${hex(view.flags)}; expected ${describeExpected(want)}`,
  );
  if (want.kind === 'message') {
    expectThat(view.kind !== 'binary_event_batch', `${where} is a binary batch`);
    if (view.kind === 'event_batch')
      expectThat(
        view.events.length > 1,
        `${where} is an event_batch of one event; one event travels as event`,
      );
  }
  if (want.offsets)
    expectThat(
      view.events.every((e) => e.offset !== undefined),
      `${where} carries no offsets`,
    );
  if (want.subscriptionId)
    expectThat(
      view.subscriptionId === subscriptionId,
      `${where} names subscription ${view.subscriptionId}, not ${subscriptionId}`,
    );
}

/**
 * A subscriber offering `offer` (null: no client_flags) on `link` receives four events (one single
 * publish, then a batch of three) only in the encoding its negotiation selects.
 */
async function receivesAsNegotiated(
  ctx: CheckContext,
  offer: number | null,
  link?: BrokerLink,
): Promise<string> {
  const subscriber = await ctx.authed(link, { flags: offer });
  const n = offer === null ? DEFAULT_FLAGS_WITHOUT_OFFER : subscriber.negotiated;
  const want = expectedEncoding(n);
  const label = offer === null ? 'no client_flags' : hex(offer);
  const stream = ctx.names.next('encoding');
  const sub = await subscriber.subscribe(stream);
  expectThat(
    sub.helloFlags === want.helloFlags,
    `the event_stream_hello has flags ${hex(sub.helloFlags)}, expected ${hex(want.helloFlags)} (negotiated ${hex(n)})`,
  );
  const publisher = await ctx.authed();
  await publisher.publish(stream, ['single']);
  await publisher.publish(stream, ['b1', 'b2', 'b3']);
  const frames = await collectEvents(sub.events, 4, `4 events to a subscriber that offered ${label}`);
  for (const f of frames) checkFrame(f, want, sub.id, label);
  const events = flatten(frames);
  const payloads = ['single', 'b1', 'b2', 'b3'];
  if (want.offsets) expectEvents(events, payloads, 0, `events to a subscriber that offered ${label}`);
  else
    expectThat(
      events.map((e) => e.payload.toString()).join(',') === payloads.join(','),
      `events to a subscriber that offered ${label}: got ${events.map((e) => e.payload.toString()).join(',')}`,
    );
  return `negotiated ${hex(n)}: ${describeExpected(want)}`;
}

const OFFERS: readonly (number | null)[] = [null, 0x07, 0x27, 0x22, 0x02, 0x19, 0x00, 0x40, 0x60, 0x7f, 0x84];

function offerCheck(offer: number | null): Check {
  return {
    name: `events.offer_${offer === null ? 'absent' : hex(offer)}`,
    run: (ctx) => receivesAsNegotiated(ctx, offer),
  };
}

export const eventChecks: Check[] = [
  ...OFFERS.map(offerCheck),
  ...area('events', {
    /** TIMINGS (when the broker advertises it): live events in stamped shared batches 0xa4. */
    async offer_0xff_timings(ctx) {
      const probe = await ctx.authed(undefined, { flags: 0xff });
      if ((probe.negotiated & FLAG_TIMINGS) === 0)
        return 'TIMINGS not in server_flags (FELIX_DISABLE_TIMINGS=1): nothing to check';
      return receivesAsNegotiated(ctx, 0xff);
    },

    /** Replayed history carries no stamps: 0x24 even to a subscriber that negotiated 0xa4. */
    async replay_unstamped(ctx) {
      const subscriber = await ctx.authed(undefined, { flags: 0xff });
      if ((subscriber.negotiated & FLAG_TIMINGS) === 0)
        return 'TIMINGS not in server_flags: nothing to check';
      const stream = ctx.names.next('replay-stamps');
      const publisher = await ctx.authed();
      await publisher.publish(stream, ['r0', 'r1']);
      await readBack(ctx, stream, 2);
      const sub = await subscriber.subscribe(stream, { start: 'earliest' });
      const frames = await collectEvents(sub.events, 2, 'the 2 replayed events');
      for (const f of frames)
        expectThat(f.flags === 0x24, `a replayed event frame has flags ${hex(f.flags)}, expected 0x24`);
      expectEvents(flatten(frames), ['r0', 'r1'], 0, 'the replayed events');
    },

    /** Event streams follow the auth of the stream that subscribed, not the connection. */
    async per_stream_negotiation(ctx) {
      const link = await ctx.connect();
      await receivesAsNegotiated(ctx, 0x00, link);
      await receivesAsNegotiated(ctx, 0x27, link);
      await receivesAsNegotiated(ctx, 0x40, link);
    },
  }),
];
