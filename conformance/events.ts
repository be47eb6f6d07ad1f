import { CheckFailure } from './failure.js';
import type { FrameStream, ReceivedFrame } from './frame-stream.js';
import { describeFrame } from './describe.js';

/** One event as a subscriber sees it, whatever encoding carried it. */
export interface DeliveredEvent {
  /** Its stream offset, when the encoding carries one. */
  readonly offset: number | undefined;
  readonly payload: Buffer;
}

/** One frame of an event stream, read into its events. */
export interface EventFrameView {
  readonly flags: number;
  readonly kind: 'event' | 'event_batch' | 'binary_event_batch';
  readonly subscriptionId: number | undefined;
  readonly events: DeliveredEvent[];
}

/** Reads an event-carrying frame (JSON or MessagePack `event`/`event_batch`, or a binary event batch). */
export function readEventFrame(frame: ReceivedFrame): EventFrameView {
  const m = frame.message;
  if (m === null) throw new CheckFailure(`an event frame did not decode: ${describeFrame(frame)}`);
  switch (m.type) {
    case 'event':
      return {
        flags: frame.flags,
        kind: 'event',
        subscriptionId: undefined,
        events: [{ offset: m.offset, payload: Buffer.from(m.payload) }],
      };
    case 'event_batch':
      return {
        flags: frame.flags,
        kind: 'event_batch',
        subscriptionId: undefined,
        events: m.payloads.map((p, i) => ({
          offset: m.base_offset === undefined ? undefined : m.base_offset + i,
          payload: Buffer.from(p),
        })),
      };
    case 'binary_event_batch':
      return {
        flags: frame.flags,
        kind: 'binary_event_batch',
        subscriptionId: m.subscription_id,
        events: m.payloads.map((p, i) => ({
          offset: m.base_offset === undefined ? undefined : m.base_offset + i,
          payload: Buffer.from(p),
        })),
      };
    default:
      throw new CheckFailure(`expected an event frame, got ${describeFrame(frame)}`);
  }
}

/** Reads event frames off `events` until at least `count` events arrived (bounded by the stream's wait). */
export async function collectEvents(
  events: FrameStream,
  count: number,
  what: string,
): Promise<EventFrameView[]> {
  const frames: EventFrameView[] = [];
  let seen = 0;
  while (seen < count) {
    const frame = await events.next(`${what} (${seen} of ${count} events so far)`);
    const view = readEventFrame(frame);
    frames.push(view);
    seen += view.events.length;
  }
  return frames;
}

/** The events of several frames, in order. */
export function flatten(frames: readonly EventFrameView[]): DeliveredEvent[] {
  return frames.flatMap((f) => f.events);
}

/** The payloads as text, for comparing with what was published. */
export function texts(events: readonly DeliveredEvent[]): string[] {
  return events.map((e) => e.payload.toString('utf8'));
}
