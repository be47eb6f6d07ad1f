/**
 * Which form a subscriber's events take on the wire, from the flags its auth negotiated (docs/protocol.md,
 * "Event encodings"): the broker never sends a subscriber an encoding it did not offer.
 */
import {
  FLAG_BINARY_EVENT_BATCH,
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_EVENT_BATCH_OFFSETS,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
} from '../../wire/index.js';

export type EventLayout = 'shared' | 'per_subscription' | 'msgpack' | 'json';

export interface EventEncoding {
  readonly layout: EventLayout;
  /** Binary batches carry their base offset (0x20). Message forms always carry offsets. */
  readonly offsets: boolean;
  /** Shared batches with offsets carry the stamp block (0x80). */
  readonly timings: boolean;
  /** Messages on the event stream (its hello, drop notices) are MessagePack. */
  readonly msgpack: boolean;
  /** The client offered DROP_NOTICE: drops no later event reveals are told with `events_dropped`. */
  readonly dropNotices: boolean;
}

/**
 * `negotiated`: client_flags & the broker's flags (Felix's 0x07 for an auth without client_flags);
 * `dropNotices`: the client offered the feature DROP_NOTICE.
 */
export function eventEncoding(negotiated: number, dropNotices = false): EventEncoding {
  const offsets = (negotiated & FLAG_EVENT_BATCH_OFFSETS) !== 0;
  const msgpack = (negotiated & FLAG_MSGPACK) !== 0;
  if ((negotiated & FLAG_BINARY_EVENT_BATCH_SHARED) !== 0) {
    const timings = offsets && (negotiated & FLAG_TIMINGS) !== 0;
    return { layout: 'shared', offsets, timings, msgpack, dropNotices };
  }
  if ((negotiated & FLAG_BINARY_EVENT_BATCH) !== 0) {
    return { layout: 'per_subscription', offsets, timings: false, msgpack, dropNotices };
  }
  return { layout: msgpack ? 'msgpack' : 'json', offsets: true, timings: false, msgpack, dropNotices };
}
