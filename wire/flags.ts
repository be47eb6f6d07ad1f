/**
 * Frame flags and feature bits.
 *
 * Flags say how a frame's payload is laid out and travel on every frame; feature bits say only that a
 * request type exists and travel once, in `auth`/`auth_ok`. Both are offered and confirmed during auth,
 * as in Felix, and a side only ever sends what the other side confirmed.
 */
import { WireError } from './errors.js';

// Felix's flags (felix-wire frame.rs).
export const FLAG_BINARY_PUBLISH_BATCH = 0x0001;
export const FLAG_BINARY_EVENT_BATCH = 0x0002;
export const FLAG_BINARY_EVENT_BATCH_SHARED = 0x0004;
/** Modifier on FLAG_BINARY_PUBLISH_BATCH: the batch carries a request id and ack mode. */
export const FLAG_BINARY_PUBLISH_ACKED = 0x0008;
export const FLAG_BINARY_PUBLISH_ACK = 0x0010;
/** Modifier on either event-batch flag: the batch carries the offset of its first event. */
export const FLAG_EVENT_BATCH_OFFSETS = 0x0020;

// felix-ts extensions. Taken from the top of the low byte so Felix's next bits (it counts upwards) are
// the least likely to collide.
/** The payload is a message object encoded with MessagePack instead of JSON. */
export const FLAG_MSGPACK = 0x0040;
/** Publish and event-batch frames carry a trailing block of monotonic-clock stamps (wire/timings.ts). */
export const FLAG_TIMINGS = 0x0080;
/**
 * Modifier on an acked binary publish batch (0x09): `u64 producer_id, u64 sequence` follow the request id
 * and ack byte (feature IDEMPOTENT_PUBLISH). The first bit of the high byte: the low byte is full.
 */
export const FLAG_BINARY_PUBLISH_PRODUCER = 0x0100;

/** Every flag Felix defines. */
export const FELIX_FLAGS =
  FLAG_BINARY_PUBLISH_BATCH |
  FLAG_BINARY_EVENT_BATCH |
  FLAG_BINARY_EVENT_BATCH_SHARED |
  FLAG_BINARY_PUBLISH_ACKED |
  FLAG_BINARY_PUBLISH_ACK |
  FLAG_EVENT_BATCH_OFFSETS;

/**
 * What a peer that answered `auth` with a plain `ok` (it predates negotiation) must be assumed to
 * support. Frozen, exactly as in Felix.
 */
export const ORIGINAL_V1_FLAGS =
  FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_EVENT_BATCH | FLAG_BINARY_EVENT_BATCH_SHARED;

/** Every flag this version decodes. */
export const KNOWN_FLAGS = FELIX_FLAGS | FLAG_MSGPACK | FLAG_TIMINGS | FLAG_BINARY_PUBLISH_PRODUCER;

/** True if `flags` has a bit outside `known`. */
export function hasUnknownFlags(flags: number, known: number = KNOWN_FLAGS): boolean {
  return (flags & ~known) !== 0;
}

/** True if `peerFlags` includes every bit of `required`. */
export function supportsFlags(peerFlags: number, required: number): boolean {
  return (peerFlags & required) === required;
}

/**
 * The flags a side may use towards its peer: what both support. `advertised` is the peer's
 * `client_flags`/`server_flags`, or undefined when the peer predates negotiation (an `auth` without
 * `client_flags`, or a plain `ok` answering our `auth`).
 */
export function negotiateFlags(advertised: number | undefined, own: number = KNOWN_FLAGS): number {
  return (advertised === undefined ? ORIGINAL_V1_FLAGS : advertised) & own;
}

// Felix's feature bits (u32) for the requests felix-ts serves.
export const FEATURE_TOPOLOGY = 0x0000_0001;
export const FEATURE_CACHE_DELETE = 0x0000_0004;
/** `code`, `retry` and `detail` on `error` and `publish_error`. */
export const FEATURE_ERROR_CODES = 0x0000_0800;
/**
 * felix-ts extension: the broker reassembles `publish_chunk`. Bit 31, far from Felix's bits, which it
 * allocates from bit 0 upwards.
 */
export const FEATURE_PUBLISH_CHUNK = 0x8000_0000;
/**
 * felix-ts extension: the broker suppresses retried acked publishes (`producer_id` + `sequence`, flag
 * 0x0100 on binary batches): a publish it already accepted is acknowledged again, not appended again.
 */
export const FEATURE_IDEMPOTENT_PUBLISH = 0x4000_0000;
/**
 * felix-ts extension: the client understands the `draining` message (offered in `client_features`); the
 * broker advertises that it sends it when it starts draining for shutdown.
 */
export const FEATURE_DRAINING = 0x2000_0000;
/**
 * felix-ts extension: the client understands `events_dropped` on its event streams (offered in
 * `client_features`); the broker advertises that it sends one when events its queue policy dropped would
 * otherwise be revealed by no later event (the tail of a burst).
 */
export const FEATURE_DROP_NOTICE = 0x1000_0000;

/** Every feature bit this version implements. */
export const KNOWN_FEATURES =
  (FEATURE_TOPOLOGY |
    FEATURE_CACHE_DELETE |
    FEATURE_ERROR_CODES |
    FEATURE_PUBLISH_CHUNK |
    FEATURE_IDEMPOTENT_PUBLISH |
    FEATURE_DRAINING |
    FEATURE_DROP_NOTICE) >>>
  0;

/** True if `features` advertises every bit of `feature`. Safe for bit 31 (JS bitwise ops are signed). */
export function supportsFeature(features: number, feature: number): boolean {
  return (features & feature) >>> 0 === feature >>> 0;
}

/** How a frame's payload is laid out, from its flags. */
export type PayloadLayout =
  | 'json'
  | 'msgpack'
  | 'binary_publish_batch'
  | 'binary_acked_publish_batch'
  | 'binary_publish_ack'
  | 'binary_event_batch'
  | 'binary_shared_event_batch';

/**
 * The layout `flags` select. Throws `unknown_flags` for bits this version does not know and
 * `invalid_flags` for known bits that do not combine into a layout.
 */
export function payloadLayout(flags: number): PayloadLayout {
  if (hasUnknownFlags(flags)) {
    throw new WireError('unknown_flags', `unknown frame flags 0x${flags.toString(16)}`, { flags });
  }
  // TIMINGS only appends a stamp block to binary publish and event batches.
  const timings = (flags & FLAG_TIMINGS) !== 0;
  const base = flags & ~FLAG_TIMINGS;
  if (
    timings &&
    (base & (FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_EVENT_BATCH | FLAG_BINARY_EVENT_BATCH_SHARED)) === 0
  ) {
    throw new WireError('invalid_flags', `frame flags 0x${flags.toString(16)} do not form a layout`, {
      flags,
    });
  }
  switch (base) {
    case 0:
      return 'json';
    case FLAG_MSGPACK:
      return 'msgpack';
    case FLAG_BINARY_PUBLISH_BATCH:
      return 'binary_publish_batch';
    case FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_PUBLISH_ACKED:
    case FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_PUBLISH_ACKED | FLAG_BINARY_PUBLISH_PRODUCER:
      return 'binary_acked_publish_batch';
    case FLAG_BINARY_PUBLISH_ACK:
      return 'binary_publish_ack';
    case FLAG_BINARY_EVENT_BATCH:
    case FLAG_BINARY_EVENT_BATCH | FLAG_EVENT_BATCH_OFFSETS:
      return 'binary_event_batch';
    case FLAG_BINARY_EVENT_BATCH_SHARED:
    case FLAG_BINARY_EVENT_BATCH_SHARED | FLAG_EVENT_BATCH_OFFSETS:
      return 'binary_shared_event_batch';
    default:
      throw new WireError('invalid_flags', `frame flags 0x${flags.toString(16)} do not form a layout`, {
        flags,
      });
  }
}
