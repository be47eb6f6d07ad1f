/**
 * One description of every message (its fields in Felix's order, their kinds and presence rules) from
 * which both the JSON and the MessagePack codecs are driven, so the two cannot drift apart.
 *
 * Order matters: serde writes fields in declaration order and the JSON vectors must re-encode byte for
 * byte. Presence follows serde: `optional` is omitted when absent (and null reads as absent),
 * `nullable` is always written and may be null.
 */
import { WireError, withRequestId } from './errors.js';
import { MAX_BATCH_PAYLOADS } from './frame.js';
import type {
  CursorErrorReason,
  ErrorDetail,
  Message,
  MessageOf,
  MessageType,
  RetryClass,
  StartPosition,
  AckMode,
  BrokerEndpoint,
} from './messages.js';

export type FieldKind =
  | 'string'
  | 'u16'
  | 'u32'
  | 'u64'
  | 'bytes'
  | 'bytes_list'
  | 'ack_mode'
  | 'start'
  | 'cursor_reason'
  | 'error_code'
  | 'retry_class'
  | 'error_detail'
  | 'brokers';

export type Presence = 'required' | 'optional' | 'nullable';

export interface FieldSpec<Name extends string = string> {
  readonly name: Name;
  readonly kind: FieldKind;
  readonly presence: Presence;
  /** The least an integer field may be (0 when absent), so a refusal names the range that holds. */
  readonly min?: number;
  /** The most items a list field may hold, checked before any is decoded. */
  readonly maxItems?: number;
}

type FieldName<T extends MessageType> = Exclude<keyof MessageOf<T>, 'type'> & string;

const required = <N extends string>(name: N, kind: FieldKind): FieldSpec<N> => ({
  name,
  kind,
  presence: 'required',
});
const optional = <N extends string>(name: N, kind: FieldKind): FieldSpec<N> => ({
  name,
  kind,
  presence: 'optional',
});
const nullable = <N extends string>(name: N, kind: FieldKind, min?: number): FieldSpec<N> => ({
  name,
  kind,
  presence: 'nullable',
  ...(min === undefined ? {} : { min }),
});

const STREAM_ADDRESS = [
  required('tenant_id', 'string'),
  required('namespace', 'string'),
  required('stream', 'string'),
] as const;
const CACHE_ADDRESS = [
  required('tenant_id', 'string'),
  required('namespace', 'string'),
  required('cache', 'string'),
  required('key', 'string'),
] as const;
// felix-ts extension (IDEMPOTENT_PUBLISH), written after `ack`.
const PRODUCER = [optional('producer_id', 'u64'), optional('sequence', 'u64')] as const;
const ERROR_CODES = [
  optional('code', 'error_code'),
  optional('retry', 'retry_class'),
  optional('detail', 'error_detail'),
] as const;

/** Every message type and its fields, in wire order. */
export const MESSAGE_FIELDS: { readonly [T in MessageType]: readonly FieldSpec<FieldName<T>>[] } = {
  auth: [
    required('tenant_id', 'string'),
    required('token', 'string'),
    optional('client_flags', 'u16'),
    optional('client_features', 'u32'),
  ],
  auth_ok: [
    required('server_flags', 'u16'),
    optional('server_features', 'u32'),
    // felix-ts extension: clients that do not know it ignore it (unknown fields are ignored).
    optional('max_frame_bytes', 'u32'),
  ],
  topology: [],
  topology_view: [required('brokers', 'brokers')],
  publish: [
    ...STREAM_ADDRESS,
    required('payload', 'bytes'),
    optional('request_id', 'u64'),
    optional('ack', 'ack_mode'),
    ...PRODUCER,
  ],
  publish_batch: [
    ...STREAM_ADDRESS,
    { ...required('payloads', 'bytes_list'), maxItems: MAX_BATCH_PAYLOADS },
    optional('request_id', 'u64'),
    optional('ack', 'ack_mode'),
    ...PRODUCER,
  ],
  publish_chunk: [
    ...STREAM_ADDRESS,
    required('publish_id', 'u64'),
    required('total_len', 'u64'),
    required('byte_offset', 'u64'),
    required('payload', 'bytes'),
    optional('request_id', 'u64'),
    optional('ack', 'ack_mode'),
    ...PRODUCER,
  ],
  publish_ok: [required('request_id', 'u64')],
  publish_error: [required('request_id', 'u64'), required('message', 'string'), ...ERROR_CODES],
  // epoch: felix-ts extension, written last (after subscription_id in `subscribed`).
  subscribe: [
    ...STREAM_ADDRESS,
    optional('subscription_id', 'u64'),
    optional('start', 'start'),
    optional('epoch', 'u64'),
  ],
  subscribed: [required('subscription_id', 'u64'), optional('epoch', 'u64'), optional('start_offset', 'u64')],
  event_stream_hello: [required('subscription_id', 'u64')],
  events_dropped: [required('through_offset', 'u64'), required('events', 'u64')],
  event: [...STREAM_ADDRESS, required('payload', 'bytes'), optional('offset', 'u64')],
  event_batch: [...STREAM_ADDRESS, required('payloads', 'bytes_list'), optional('base_offset', 'u64')],
  subscribe_cursor_error: [
    required('reason', 'cursor_reason'),
    required('requested', 'u64'),
    required('available', 'u64'),
    optional('epoch', 'u64'),
  ],
  cache_put: [
    ...CACHE_ADDRESS,
    required('value', 'bytes'),
    optional('request_id', 'u64'),
    // A lifetime of 0 would store an entry that no read can see.
    nullable('ttl_ms', 'u64', 1),
  ],
  cache_get: [...CACHE_ADDRESS, optional('request_id', 'u64')],
  cache_delete: [...CACHE_ADDRESS, optional('request_id', 'u64')],
  cache_value: [...CACHE_ADDRESS, nullable('value', 'bytes'), optional('request_id', 'u64')],
  cache_ok: [required('request_id', 'u64')],
  ok: [],
  draining: [],
  // request_id: felix-ts extension, so an error about one of several in-flight requests names it.
  error: [required('message', 'string'), ...ERROR_CODES, optional('request_id', 'u64')],
};

/** Rules across fields, checked after the fields themselves decoded. Returns the problem, if any. */
const MESSAGE_RULES: { readonly [T in MessageType]?: (message: MessageOf<T>) => string | undefined } = {
  publish: producerRule,
  publish_batch: producerRule,
  // A piece running past its total_len is the reassembler's to answer (PublishChunkAssembler): it knows the
  // publish the piece belongs to, whose request the answer must name.
  publish_chunk: producerRule,
};

/**
 * producer_id and sequence come together, producer 0 names no producer, and sequences count from 1 (the
 * broker counts every sequence at or below a producer's contiguous mark, which starts at 0, as accepted:
 * a 0 would be acked and never appended).
 */
function producerRule(m: { producer_id?: number; sequence?: number }): string | undefined {
  if ((m.producer_id === undefined) !== (m.sequence === undefined))
    return 'producer_id and sequence must be given together';
  if (m.producer_id === 0) return 'producer_id must not be 0';
  if (m.sequence === 0) return 'sequence counts from 1: it must not be 0';
  return undefined;
}

const FIELDS_BY_TYPE: ReadonlyMap<string, readonly FieldSpec[]> = new Map(Object.entries(MESSAGE_FIELDS));

/**
 * Types with a `request_id` of their own. An error about a message of another known type (a `subscribe`,
 * whose answers are matched by order) names no request, whatever `request_id` the peer put in it: echoing
 * one only some of the time would tell a client that matches by id one thing and by order another. A
 * message of no known type is named by the `request_id` it carries, if that can be read.
 */
const TYPES_WITH_REQUEST_ID: ReadonlySet<string> = new Set(
  Object.entries(MESSAGE_FIELDS)
    .filter(([, fields]) => (fields as readonly FieldSpec[]).some((f) => f.name === 'request_id'))
    .map(([type]) => type),
);

export const MESSAGE_TYPES = Object.keys(MESSAGE_FIELDS) as MessageType[];

/** How an encoding carries what JSON cannot hold natively (bytes) or holds differently (large ints). */
export interface ValueRepresentation {
  encodeBytes(bytes: Uint8Array): unknown;
  decodeBytes(value: unknown, field: string): Uint8Array;
  encodeU64(value: number): unknown;
}

const ACK_MODES: readonly AckMode[] = ['none', 'per_message', 'per_batch'];
const CURSOR_REASONS: readonly CursorErrorReason[] = ['too_old', 'in_future', 'epoch_changed'];
const RETRY_CLASSES: readonly RetryClass[] = ['retry', 'retry_after', 'redirect', 'outcome_unknown', 'fatal'];
const MAX_BY_INT_KIND = { u16: 0xffff, u32: 0xffff_ffff, u64: Number.MAX_SAFE_INTEGER } as const;

/** The ordered plain object an encoder serialises: `type` first, then the fields in wire order. */
export function toWireObject(message: Message, representation: ValueRepresentation): Record<string, unknown> {
  const fields = FIELDS_BY_TYPE.get(message.type);
  if (fields === undefined)
    throw new WireError('unknown_type', `cannot encode unknown message type ${message.type}`);
  const source = message as unknown as Record<string, unknown>;
  const wire: Record<string, unknown> = { type: message.type };
  for (const field of fields) {
    const value = source[field.name];
    if (value === undefined || value === null) {
      if (field.presence === 'nullable') wire[field.name] = null;
      else if (field.presence === 'required') {
        throw new WireError('malformed', `${message.type} needs field ${field.name}`);
      }
    } else {
      wire[field.name] = encodeValue(field.kind, value, representation);
    }
  }
  return wire;
}

/** Validates a parsed payload against the schema and builds the typed message it describes. */
export function fromWireObject(wire: unknown, representation: ValueRepresentation): Message {
  if (!isPlainObject(wire)) throw new WireError('malformed', 'a message must be an object');
  const type = wire.type;
  if (typeof type !== 'string')
    throw new WireError('malformed', 'a message needs a string type', { requestId: requestIdNaming(wire) });
  const fields = FIELDS_BY_TYPE.get(type);
  if (fields === undefined) {
    throw new WireError('unknown_type', `unknown message type ${JSON.stringify(type.slice(0, 64))}`, {
      requestId: requestIdNaming(wire),
      messageType: type.slice(0, 64),
    });
  }
  const message: Record<string, unknown> = { type };
  try {
    for (const field of fields) {
      const value = Object.hasOwn(wire, field.name) ? wire[field.name] : undefined;
      if (value === undefined || value === null) {
        if (field.presence === 'nullable') message[field.name] = null;
        else if (field.presence === 'required') throw malformed(`${type} is missing field ${field.name}`);
      } else {
        message[field.name] = decodeValue(field, value, representation);
      }
    }
    const rule = MESSAGE_RULES[type as MessageType] as ((m: Message) => string | undefined) | undefined;
    const problem = rule?.(message as unknown as Message);
    if (problem !== undefined) throw malformed(`${type}: ${problem}`);
  } catch (error) {
    throw error instanceof WireError
      ? withRequestId(error, requestIdNaming(wire), { messageType: type, ackRequested: readableAck(wire) })
      : error;
  }
  return message as unknown as Message;
}

/**
 * `error` (a refusal of the whole payload) naming what of the parsed `wire` can still be read: its
 * request_id, type, and whether it asked for an ack, so the reply reaches the request it refuses.
 */
export function refusalFor(wire: unknown, error: WireError): WireError {
  if (!isPlainObject(wire)) return error;
  const type = wire.type;
  return withRequestId(error, requestIdNaming(wire), {
    messageType: typeof type === 'string' ? type.slice(0, 64) : undefined,
    ackRequested: readableAck(wire),
  });
}

function encodeValue(kind: FieldKind, value: unknown, representation: ValueRepresentation): unknown {
  switch (kind) {
    case 'bytes':
      return representation.encodeBytes(value as Uint8Array);
    case 'bytes_list': {
      const payloads = value as Uint8Array[];
      const encoded = new Array<unknown>(payloads.length);
      for (let i = 0; i < payloads.length; i++) encoded[i] = representation.encodeBytes(payloads[i]);
      return encoded;
    }
    case 'u64':
      return representation.encodeU64(value as number);
    case 'u32':
      // Feature sets built with `|` come out negative once bit 31 is set; the wire wants the unsigned value.
      return (value as number) >>> 0;
    case 'start': {
      const start = value as StartPosition;
      return typeof start === 'string' ? start : { offset: representation.encodeU64(start.offset) };
    }
    case 'error_detail': {
      const detail = value as ErrorDetail;
      const wire: Record<string, unknown> = {};
      if (detail.reason !== undefined) wire.reason = detail.reason;
      if (detail.retry_after_ms !== undefined)
        wire.retry_after_ms = representation.encodeU64(detail.retry_after_ms);
      return wire;
    }
    case 'brokers': {
      const brokers = value as BrokerEndpoint[];
      const wire = new Array<unknown>(brokers.length);
      for (let i = 0; i < brokers.length; i++)
        wire[i] = { node_id: brokers[i].node_id, addr: brokers[i].addr };
      return wire;
    }
    default:
      return value;
  }
}

function decodeValue(spec: FieldSpec, value: unknown, representation: ValueRepresentation): unknown {
  const { kind, name: field } = spec;
  switch (kind) {
    case 'string':
    case 'error_code':
      return expectString(value, field);
    case 'u16':
    case 'u32':
    case 'u64':
      return expectInteger(value, field, MAX_BY_INT_KIND[kind], spec.min, spec.presence === 'nullable');
    case 'bytes':
      return representation.decodeBytes(value, field);
    case 'bytes_list': {
      if (!Array.isArray(value)) throw malformed(`field ${field} must be an array`);
      if (spec.maxItems !== undefined && value.length > spec.maxItems) throw tooManyPayloads(value.length);
      const payloads = new Array<Uint8Array>(value.length);
      for (let i = 0; i < value.length; i++) payloads[i] = representation.decodeBytes(value[i], field);
      return payloads;
    }
    case 'ack_mode':
      return expectOneOf(value, ACK_MODES, field);
    case 'cursor_reason':
      return expectOneOf(value, CURSOR_REASONS, field);
    case 'retry_class': {
      // As Felix: an unknown class reads as fatal, the one reading that can never duplicate a write.
      const name = expectString(value, field);
      return (RETRY_CLASSES as readonly string[]).includes(name) ? name : 'fatal';
    }
    case 'start':
      return decodeStartPosition(value, field);
    case 'error_detail':
      return decodeErrorDetail(value, field);
    case 'brokers':
      return decodeBrokers(value, field);
  }
}

function decodeStartPosition(value: unknown, field: string): StartPosition {
  if (value === 'latest' || value === 'earliest') return value;
  // serde's externally tagged newtype variant: exactly {"offset": n}.
  if (isPlainObject(value) && Object.keys(value).length === 1 && Object.hasOwn(value, 'offset')) {
    return { offset: expectInteger(value.offset, `${field}.offset`, Number.MAX_SAFE_INTEGER) };
  }
  throw malformed(`field ${field} must be "latest", "earliest" or {"offset": n}`);
}

function decodeErrorDetail(value: unknown, field: string): ErrorDetail {
  if (!isPlainObject(value)) throw malformed(`field ${field} must be an object`);
  const detail: ErrorDetail = {};
  if (value.reason !== undefined && value.reason !== null)
    detail.reason = expectString(value.reason, `${field}.reason`);
  if (value.retry_after_ms !== undefined && value.retry_after_ms !== null) {
    detail.retry_after_ms = expectInteger(
      value.retry_after_ms,
      `${field}.retry_after_ms`,
      Number.MAX_SAFE_INTEGER,
    );
  }
  return detail;
}

function decodeBrokers(value: unknown, field: string): BrokerEndpoint[] {
  if (!Array.isArray(value)) throw malformed(`field ${field} must be an array`);
  const brokers = new Array<BrokerEndpoint>(value.length);
  for (let i = 0; i < value.length; i++) {
    const entry: unknown = value[i];
    if (!isPlainObject(entry)) throw malformed(`field ${field}[${i}] must be an object`);
    brokers[i] = {
      node_id: expectString(entry.node_id, `${field}[${i}].node_id`),
      addr: expectString(entry.addr, `${field}[${i}].addr`),
    };
  }
  return brokers;
}

function expectString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw malformed(`field ${field} must be a string`);
  return value;
}

function expectInteger(value: unknown, field: string, max: number, min = 0, orNull = false): number {
  // MessagePack may deliver a 64-bit integer as a bigint; JSON never does.
  const number =
    typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw malformed(`field ${field} must be an integer from ${min} to ${max}${orNull ? ', or null' : ''}`);
  }
  return number;
}

function expectOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw malformed(`field ${field} must be one of ${allowed.join(', ')}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** Whether a message asks for an ack, read before the rest of it is trusted (its refusal is then a publish_error). */
function readableAck(wire: Record<string, unknown>): boolean {
  const ack = Object.hasOwn(wire, 'ack') ? wire.ack : undefined;
  return ack === 'per_message' || ack === 'per_batch';
}

/** A request id worth naming in an error reply, read before the rest of the message is trusted. */
/** The request an error about `wire` names: its readable `request_id`, unless its type has none. */
function requestIdNaming(wire: Record<string, unknown>): number | undefined {
  const type = wire.type;
  if (typeof type === 'string' && FIELDS_BY_TYPE.has(type) && !TYPES_WITH_REQUEST_ID.has(type))
    return undefined;
  const value = Object.hasOwn(wire, 'request_id') ? wire.request_id : undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function malformed(message: string): WireError {
  return new WireError('malformed', message);
}

/** The refusal of a publish batch of `count` payloads, over MAX_BATCH_PAYLOADS. */
export function tooManyPayloads(count: number): WireError {
  return new WireError(
    'too_many_payloads',
    `a publish batch holds at most ${MAX_BATCH_PAYLOADS} payloads, this one ${count}: send them as several batches`,
  );
}
