/**
 * The message objects of the Felix protocol (felix-wire message.rs) plus the felix-ts extensions.
 *
 * Field names are the wire names, snake_case included: a message object is exactly what goes on the
 * wire, so no renaming layer sits on the hot path and the JSON in docs/protocol.md reads the same as
 * the code. Optional fields are absent (not undefined) when not set; fields typed `T | null` are always
 * present. Integers are JS numbers: u64 fields are limited to the safe-integer range (2^53 - 1), and a
 * larger value is rejected on decode rather than silently rounded.
 *
 * Byte fields (payloads, cache values) are Uint8Array. Decoders may return views into the payload they
 * were given: see decodeMessage.
 */

import type { EventStamps } from './timings.js';

export type AckMode = 'none' | 'per_message' | 'per_batch';

/** Where a subscription starts: the live tail (the default), the oldest retained event, or an offset. */
export type StartPosition = 'latest' | 'earliest' | { offset: number };

/**
 * Why a subscribe could not start where it asked to (Felix's CursorErrorReason, plus the felix-ts
 * `epoch_changed`: the offset belongs to an earlier incarnation of the stream).
 */
export type CursorErrorReason = 'too_old' | 'in_future' | 'epoch_changed';

/** Felix's typed error codes. A code this version does not know is kept as its string. */
export type KnownErrorCode =
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'invalid_request'
  | 'shard_unavailable'
  | 'not_leader'
  | 'quorum_timeout'
  | 'leadership_lost'
  | 'unacknowledged'
  | 'overloaded'
  | 'limit_exceeded'
  | 'draining'
  | 'internal'
  | 'storage'
  // felix-ts durable streams: the stream's disk is full / its storage failed; the publish was not accepted
  // (retry later: the broker takes publishes again once a write succeeds).
  | 'storage_full'
  | 'storage_error'
  // felix-ts: a publish whose payload is larger than the largest message the broker takes (the message
  // names the limit and the setting that sets it). Not retryable: the same publish is refused again.
  | 'payload_too_large';
// `string & {}` keeps editor completion for the known names while admitting unknown ones.
export type ErrorCode = KnownErrorCode | (string & {});

/** What a client may do after an error (Felix's RetryClass). An unknown class decodes as 'fatal'. */
export type RetryClass = 'retry' | 'retry_after' | 'redirect' | 'outcome_unknown' | 'fatal';

export interface ErrorDetail {
  reason?: string;
  retry_after_ms?: number;
}

/** What an error says beyond its message; sent only to a client that offered FEATURE_ERROR_CODES. */
export interface TypedErrorFields {
  code?: ErrorCode;
  retry?: RetryClass;
  detail?: ErrorDetail;
}

export interface BrokerEndpoint {
  node_id: string;
  /** host:port a client connects to. */
  addr: string;
}

/** Names a stream: every publish, subscribe and event carries it. */
export interface StreamAddress {
  tenant_id: string;
  namespace: string;
  stream: string;
}

/** Names a cache entry: every cache request and answer carries it. */
export interface CacheAddress {
  tenant_id: string;
  namespace: string;
  cache: string;
  key: string;
}

// --- Session -------------------------------------------------------------------------------------

/** First message on every client-opened stream. */
export interface AuthMessage {
  type: 'auth';
  tenant_id: string;
  token: string;
  /** Frame flags the client can receive; absent from clients that predate negotiation. */
  client_flags?: number;
  /** Feature bits the client understands (u32). */
  client_features?: number;
}

/** Answer to an `auth` that offered `client_flags` (one that did not gets a plain `ok`). */
export interface AuthOkMessage {
  type: 'auth_ok';
  server_flags: number;
  server_features?: number;
  /** felix-ts extension: the broker's FELIX_MAX_FRAME_BYTES, so a client sends no frame it would refuse. */
  max_frame_bytes?: number;
}

export interface TopologyMessage {
  type: 'topology';
}

export interface TopologyViewMessage {
  type: 'topology_view';
  brokers: BrokerEndpoint[];
}

// --- Publish -------------------------------------------------------------------------------------

/**
 * felix-ts extension (feature IDEMPOTENT_PUBLISH): who sent an acked publish, so a retry of it is
 * acknowledged again instead of appended twice. Both or neither; `producer_id` is non-zero.
 */
export interface ProducerFields {
  /** Names one publish worker of one client instance (random, non-zero). */
  producer_id?: number;
  /** That worker's count of acked publish frames, from 1. */
  sequence?: number;
}

export interface PublishMessage extends StreamAddress, ProducerFields {
  type: 'publish';
  payload: Uint8Array;
  request_id?: number;
  ack?: AckMode;
}

export interface PublishBatchMessage extends StreamAddress, ProducerFields {
  type: 'publish_batch';
  payloads: Uint8Array[];
  request_id?: number;
  ack?: AckMode;
  /**
   * The publisher's monotonic send stamp (ns). Binary batches with TIMINGS only: never in the JSON or
   * MessagePack form.
   */
  send_ns?: number;
}

/**
 * felix-ts extension: one piece of a publish too large to send whole (above FELIX_PUBLISH_CHUNK_BYTES).
 * The pieces of one publish share `publish_id` and arrive in order on one stream, each starting where
 * the previous ended; the publish is complete when `byte_offset + payload.length === total_len`. Other
 * frames may travel between the pieces, which is the point: a huge publish does not hold up the rest of
 * its stream. `request_id`/`ack` (and `producer_id`/`sequence`) are taken from the first piece; the ack
 * follows the last piece.
 */
export interface PublishChunkMessage extends StreamAddress, ProducerFields {
  type: 'publish_chunk';
  /** Distinguishes interleaved chunked publishes on one stream; chosen by the sender. */
  publish_id: number;
  /** Length of the whole payload. */
  total_len: number;
  /** Where this piece starts within the whole payload. */
  byte_offset: number;
  payload: Uint8Array;
  request_id?: number;
  ack?: AckMode;
}

export interface PublishOkMessage {
  type: 'publish_ok';
  request_id: number;
}

export interface PublishErrorMessage extends TypedErrorFields {
  type: 'publish_error';
  request_id: number;
  message: string;
}

// --- Subscribe -----------------------------------------------------------------------------------

export interface SubscribeMessage extends StreamAddress {
  type: 'subscribe';
  subscription_id?: number;
  /** Absent means 'latest'. */
  start?: StartPosition;
  /**
   * felix-ts extension: the stream epoch `start` refers to (from an earlier `subscribed`). When the stream's
   * epoch is another one, the broker answers `subscribe_cursor_error` `epoch_changed`.
   */
  epoch?: number;
}

export interface SubscribedMessage {
  type: 'subscribed';
  subscription_id: number;
  /** felix-ts extension: the stream's epoch (its incarnation); offsets mean something only with it. */
  epoch?: number;
  /**
   * felix-ts extension: the offset the subscription starts at — for `latest` the stream's tail when it
   * subscribed, for `earliest` the oldest retained, for an offset that offset — so that a client that
   * loses its connection before any event came can resume there, missing nothing published meanwhile.
   */
  start_offset?: number;
}

/** First frame on the broker-opened event stream, binding it to its subscription. */
export interface EventStreamHelloMessage {
  type: 'event_stream_hello';
  subscription_id: number;
}

/**
 * felix-ts extension (feature DROP_NOTICE, offered by the client), on the event stream: events up to
 * `through_offset` that were not delivered (the subscriber's queue policy dropped them) and that no later
 * event on this stream reveals yet. Sent once the queue and the transport hold nothing more for the
 * subscriber, after every event before the drop.
 */
export interface EventsDroppedMessage {
  type: 'events_dropped';
  /** The last offset dropped: the next event on the stream, when one comes, is above it. */
  through_offset: number;
  /** How many events were dropped since the last event delivered or notice sent (a hint; offsets decide). */
  events: number;
}

export interface EventMessage extends StreamAddress {
  type: 'event';
  payload: Uint8Array;
  /** The event's per-stream sequence number; felix-ts brokers always send it. */
  offset?: number;
}

export interface EventBatchMessage extends StreamAddress {
  type: 'event_batch';
  payloads: Uint8Array[];
  /** Offset of payloads[0]; payload i is at base_offset + i. */
  base_offset?: number;
}

export interface SubscribeCursorErrorMessage {
  type: 'subscribe_cursor_error';
  reason: CursorErrorReason;
  /** The offset asked for. */
  requested: number;
  /**
   * The nearest offset that would work: the oldest retained (too_old, epoch_changed) or the tail
   * (in_future).
   */
  available: number;
  /** felix-ts extension: the stream's current epoch. */
  epoch?: number;
}

// --- Cache ---------------------------------------------------------------------------------------

export interface CachePutMessage extends CacheAddress {
  type: 'cache_put';
  value: Uint8Array;
  request_id?: number;
  /** Always on the wire; null means no expiry. */
  ttl_ms: number | null;
}

export interface CacheGetMessage extends CacheAddress {
  type: 'cache_get';
  request_id?: number;
}

/** Answered with `cache_value` carrying the removed value (null when the key did not exist), as Felix. */
export interface CacheDeleteMessage extends CacheAddress {
  type: 'cache_delete';
  request_id?: number;
}

export interface CacheValueMessage extends CacheAddress {
  type: 'cache_value';
  /** Always on the wire; null is a miss. */
  value: Uint8Array | null;
  request_id?: number;
}

export interface CacheOkMessage {
  type: 'cache_ok';
  request_id: number;
}

// --- Generic replies -----------------------------------------------------------------------------

export interface OkMessage {
  type: 'ok';
}

/**
 * felix-ts extension (feature DRAINING, offered by the client): the broker is shutting down. It finishes
 * what is in flight, then closes the connection; the client should send no new work on it and reconnect.
 */
export interface DrainingMessage {
  type: 'draining';
}

export interface ErrorMessage extends TypedErrorFields {
  type: 'error';
  message: string;
  /**
   * felix-ts extension: the request this error answers, when it answers one (a cache request among
   * several in flight, say). Omitted otherwise, so Felix's `error` re-encodes unchanged.
   */
  request_id?: number;
}

export type Message =
  | AuthMessage
  | AuthOkMessage
  | TopologyMessage
  | TopologyViewMessage
  | PublishMessage
  | PublishBatchMessage
  | PublishChunkMessage
  | PublishOkMessage
  | PublishErrorMessage
  | SubscribeMessage
  | SubscribedMessage
  | EventStreamHelloMessage
  | EventsDroppedMessage
  | EventMessage
  | EventBatchMessage
  | SubscribeCursorErrorMessage
  | CachePutMessage
  | CacheGetMessage
  | CacheDeleteMessage
  | CacheValueMessage
  | CacheOkMessage
  | OkMessage
  | DrainingMessage
  | ErrorMessage;

export type MessageType = Message['type'];

/** The message types a client may send on a stream; every other type is one only the broker sends. */
export const CLIENT_REQUEST_TYPES = [
  'auth',
  'topology',
  'publish',
  'publish_batch',
  'publish_chunk',
  'subscribe',
  'cache_put',
  'cache_get',
  'cache_delete',
] as const satisfies readonly MessageType[];

/** The message object of a given type. */
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/**
 * A binary event batch (flags 0x02 or 0x04, optionally with 0x20). Not a JSON message: it names its
 * subscription (0x02) or nothing at all (0x04, shared by every subscriber of the event stream) instead
 * of tenant/namespace/stream, which the event stream's hello already fixed.
 */
export interface BinaryEventBatch {
  type: 'binary_event_batch';
  /** Present for 0x02 batches; absent for shared (0x04) batches. */
  subscription_id?: number;
  /** Present when the frame has FLAG_EVENT_BATCH_OFFSETS. */
  base_offset?: number;
  payloads: Uint8Array[];
  /** Present when the frame has FLAG_TIMINGS. */
  stamps?: EventStamps;
}

/**
 * Anything a frame decodes to. Binary publish batches decode to `publish_batch` (with request_id and
 * ack when acked) and binary publish acks to `publish_ok`/`publish_error`, the JSON messages they stand
 * in for; check the frame's flags if the encoding of a request matters for the reply.
 */
export type DecodedFrame = Message | BinaryEventBatch;
