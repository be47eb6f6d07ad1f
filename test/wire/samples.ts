/** A fully populated and a minimal instance of every message type, shared by the wire suites. */
import type { Message, MessageOf, MessageType } from '../../wire/index.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const stream = { tenant_id: 't1', namespace: 'default', stream: 'orders' };
const cacheKey = { tenant_id: 't1', namespace: 'default', cache: 'primary', key: 'k/ü' };

/** Every field set, including the optional ones; large and awkward values where they matter. */
export const FULL_SAMPLES: { [T in MessageType]: MessageOf<T> } = {
  auth: {
    type: 'auth',
    tenant_id: 't1',
    token: 'tok"en\n',
    client_flags: 0x7f,
    client_features: 0x8000_0804,
  },
  auth_ok: { type: 'auth_ok', server_flags: 0x7f, server_features: 0xffff_ffff, max_frame_bytes: 65_536 },
  topology: { type: 'topology' },
  topology_view: {
    type: 'topology_view',
    brokers: [
      { node_id: 'n1', addr: '127.0.0.1:5000' },
      { node_id: 'n2', addr: '[::1]:5001' },
    ],
  },
  publish: {
    ...stream,
    type: 'publish',
    payload: bytes('hello'),
    request_id: 2 ** 53 - 1,
    ack: 'per_message',
    producer_id: 2 ** 53 - 1,
    sequence: 2 ** 40,
  },
  publish_batch: {
    ...stream,
    type: 'publish_batch',
    payloads: [bytes('a'), new Uint8Array(0), Buffer.from([0, 255, 1])],
    request_id: 9,
    ack: 'per_batch',
    producer_id: 1,
    // The smallest: sequences count from 1.
    sequence: 1,
  },
  publish_chunk: {
    ...stream,
    type: 'publish_chunk',
    publish_id: 2 ** 40,
    total_len: 10,
    byte_offset: 4,
    payload: bytes('chunk!'),
    request_id: 5,
    ack: 'none',
    producer_id: 77,
    sequence: 3,
  },
  publish_ok: { type: 'publish_ok', request_id: 0 },
  publish_error: {
    type: 'publish_error',
    request_id: 77,
    message: 'stream not found',
    code: 'not_found',
    retry: 'retry_after',
    detail: { reason: 'not_ready', retry_after_ms: 250 },
  },
  subscribe: {
    ...stream,
    type: 'subscribe',
    subscription_id: 3,
    start: { offset: 2 ** 33 },
    epoch: 2 ** 53 - 1,
  },
  subscribed: { type: 'subscribed', subscription_id: 4_294_967_296, epoch: 8_128_812, start_offset: 41 },
  event_stream_hello: { type: 'event_stream_hello', subscription_id: 12 },
  events_dropped: { type: 'events_dropped', through_offset: 2 ** 40 + 7, events: 64 },
  event: { ...stream, type: 'event', payload: bytes('world'), offset: 0 },
  event_batch: { ...stream, type: 'event_batch', payloads: [bytes('x'), bytes('yz')], base_offset: 100 },
  subscribe_cursor_error: {
    type: 'subscribe_cursor_error',
    reason: 'epoch_changed',
    requested: 3,
    available: 17,
    epoch: 42,
  },
  cache_put: { ...cacheKey, type: 'cache_put', value: bytes('cached'), request_id: 8, ttl_ms: 1000 },
  cache_get: { ...cacheKey, type: 'cache_get', request_id: 8 },
  cache_delete: { ...cacheKey, type: 'cache_delete', request_id: 8 },
  cache_value: { ...cacheKey, type: 'cache_value', value: bytes('v'), request_id: 8 },
  cache_ok: { type: 'cache_ok', request_id: 8 },
  ok: { type: 'ok' },
  draining: { type: 'draining' },
  error: {
    type: 'error',
    message: 'nope',
    code: 'some_future_code',
    retry: 'fatal',
    detail: {},
    request_id: 12,
  },
};

/** Only what must be present: optional fields absent, nullable fields null. */
export const MINIMAL_SAMPLES: { [T in MessageType]: MessageOf<T> } = {
  auth: { type: 'auth', tenant_id: '', token: '' },
  auth_ok: { type: 'auth_ok', server_flags: 0 },
  topology: { type: 'topology' },
  topology_view: { type: 'topology_view', brokers: [] },
  publish: { ...stream, type: 'publish', payload: new Uint8Array(0) },
  publish_batch: { ...stream, type: 'publish_batch', payloads: [] },
  publish_chunk: {
    ...stream,
    type: 'publish_chunk',
    publish_id: 0,
    total_len: 0,
    byte_offset: 0,
    payload: new Uint8Array(0),
  },
  publish_ok: { type: 'publish_ok', request_id: 1 },
  publish_error: { type: 'publish_error', request_id: 1, message: '' },
  subscribe: { ...stream, type: 'subscribe' },
  subscribed: { type: 'subscribed', subscription_id: 0 },
  event_stream_hello: { type: 'event_stream_hello', subscription_id: 0 },
  events_dropped: { type: 'events_dropped', through_offset: 0, events: 0 },
  event: { ...stream, type: 'event', payload: bytes('p') },
  event_batch: { ...stream, type: 'event_batch', payloads: [] },
  subscribe_cursor_error: { type: 'subscribe_cursor_error', reason: 'in_future', requested: 9, available: 4 },
  cache_put: { ...cacheKey, type: 'cache_put', value: new Uint8Array(0), ttl_ms: null },
  cache_get: { ...cacheKey, type: 'cache_get' },
  cache_delete: { ...cacheKey, type: 'cache_delete' },
  cache_value: { ...cacheKey, type: 'cache_value', value: null },
  cache_ok: { type: 'cache_ok', request_id: 1 },
  ok: { type: 'ok' },
  draining: { type: 'draining' },
  error: { type: 'error', message: '' },
};

export const ALL_SAMPLES: Message[] = [...Object.values(FULL_SAMPLES), ...Object.values(MINIMAL_SAMPLES)];
