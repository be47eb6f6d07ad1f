/**
 * What the broker confirmed in `auth_ok`, reduced to the decisions the SDK makes from it. Use only what
 * the broker advertised (never our own set), and a broker answering a plain `ok` predates negotiation:
 * it gets the original three flags and no features (docs/protocol.md, Negotiation).
 */
import {
  FEATURE_IDEMPOTENT_PUBLISH,
  FEATURE_PUBLISH_CHUNK,
  FLAG_BINARY_PUBLISH_ACKED,
  FLAG_BINARY_PUBLISH_BATCH,
  FLAG_BINARY_PUBLISH_PRODUCER,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  negotiateFlags,
  supportsFeature,
  supportsFlags,
  type AuthMessage,
  type AuthOkMessage,
  type OkMessage,
} from '../wire/index.js';

export interface Negotiated {
  /** Frame flags both sides support. */
  readonly flags: number;
  /** Feature bits the broker serves (and we know). */
  readonly features: number;
  /** Messages travel as MessagePack (flag 0x40) instead of JSON. */
  readonly msgpack: boolean;
  /** Plain binary publish batches (0x01) may be sent. */
  readonly binaryPublish: boolean;
  /** Acked binary publish batches (0x09) may be sent; otherwise acked publishes go as messages. */
  readonly binaryAckedPublish: boolean;
  /** The broker reassembles `publish_chunk`. */
  readonly publishChunks: boolean;
  /**
   * The broker suppresses retried acked publishes (IDEMPOTENT_PUBLISH): they carry producer_id and
   * sequence, and those in flight when a connection drops are sent again after the reconnect.
   */
  readonly idempotentPublish: boolean;
  /** Acked binary batches may carry producer_id and sequence (flag 0x0100, as 0x0109). */
  readonly binaryProducer: boolean;
  /** Publishes carry send stamps and event batches stamp blocks (flag 0x80). */
  readonly timings: boolean;
  /** The broker's FELIX_MAX_FRAME_BYTES (`auth_ok.max_frame_bytes`); null when it did not say. */
  readonly maxFrameBytes: number | null;
}

/** The flags the SDK offers. `timings` false (FELIX_DISABLE_TIMINGS=1) keeps TIMINGS out: then no stamp byte travels. */
export function offeredFlags(timings = true): number {
  return timings ? KNOWN_FLAGS : KNOWN_FLAGS & ~FLAG_TIMINGS;
}

export function authMessage(tenant: string, token: string, timings = true): AuthMessage {
  return {
    type: 'auth',
    tenant_id: tenant,
    token,
    client_flags: offeredFlags(timings),
    client_features: KNOWN_FEATURES,
  };
}

/** What to use towards the broker: what it advertised (its whole set) and we offered. */
export function negotiate(reply: AuthOkMessage | OkMessage, offered: number = KNOWN_FLAGS): Negotiated {
  const flags = negotiateFlags(reply.type === 'auth_ok' ? reply.server_flags : undefined, offered);
  const features = reply.type === 'auth_ok' ? ((reply.server_features ?? 0) & KNOWN_FEATURES) >>> 0 : 0;
  return Object.freeze({
    flags,
    features,
    msgpack: supportsFlags(flags, FLAG_MSGPACK),
    binaryPublish: supportsFlags(flags, FLAG_BINARY_PUBLISH_BATCH),
    binaryAckedPublish: supportsFlags(flags, FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_PUBLISH_ACKED),
    publishChunks: supportsFeature(features, FEATURE_PUBLISH_CHUNK),
    idempotentPublish: supportsFeature(features, FEATURE_IDEMPOTENT_PUBLISH),
    binaryProducer: supportsFlags(
      flags,
      FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_PUBLISH_ACKED | FLAG_BINARY_PUBLISH_PRODUCER,
    ),
    timings: supportsFlags(flags, FLAG_TIMINGS),
    maxFrameBytes: reply.type === 'auth_ok' ? (reply.max_frame_bytes ?? null) : null,
  });
}
