/**
 * Number fields out of range (beyond 2^53 - 1, negative, fractional, infinite, not numbers) in JSON and
 * MessagePack, and messages whose type is unknown, missing, not a string, or one only a broker sends.
 */
import fc from 'fast-check';
import { FLAG_MSGPACK } from '../../../wire/index.js';
import { frameOf, hostileFrame, packr, type HostileFrame, type HostileTarget } from './frames.js';
import { mpStr } from './msgpack.js';

/** Number fields of requests and the requests that carry them. */
const NUMBER_FIELDS = [
  { type: 'publish', field: 'request_id' },
  { type: 'cache_get', field: 'request_id' },
  { type: 'cache_put', field: 'request_id' },
  { type: 'cache_put', field: 'ttl_ms' },
  { type: 'subscribe', field: 'subscription_id' },
  { type: 'subscribe', field: 'start' },
  { type: 'publish_chunk', field: 'publish_id' },
  { type: 'publish_chunk', field: 'total_len' },
  { type: 'publish_chunk', field: 'byte_offset' },
  { type: 'auth', field: 'client_flags' },
  { type: 'auth', field: 'client_features' },
] as const;

/** JSON literals for a number field: beyond 2^53 − 1, negative, fractional, infinite, or not a number. */
const JSON_BAD_NUMBERS = [
  '9007199254740992',
  '9007199254740993',
  '18446744073709551615',
  '18446744073709551616',
  '1e21',
  '1e400',
  '-1e400',
  '-1',
  '-0',
  '-9007199254740993',
  '0.5',
  '1.5',
  '4294967296',
  '65536',
  '1e-400',
  '"12"',
  '"NaN"',
  'null',
  'true',
  '[]',
  '{}',
  '{"offset":-1}',
  '{"offset":9007199254740993}',
  '{"offset":1.5}',
];

/** The same as MessagePack values. */
const MSGPACK_BAD_NUMBERS = [
  Buffer.of(0xcf, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01), // uint64 2^53 + 1
  Buffer.of(0xcf, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00), // uint64 2^53
  Buffer.of(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // uint64 max
  Buffer.of(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // int64 -1
  Buffer.of(0xd3, 0xff, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // int64 below -2^53
  Buffer.of(0xff), // fixint -1
  Buffer.of(0xd0, 0x80), // int8 -128
  Buffer.of(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), // NaN
  Buffer.of(0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0), // Infinity
  Buffer.of(0xcb, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0), // -1.0
  Buffer.of(0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0), // 1.5
  Buffer.of(0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0), // -0.0
  Buffer.of(0xca, 0x3f, 0xc0, 0, 0), // float32 1.5
  Buffer.of(0xcb, 0x43, 0x40, 0, 0, 0, 0, 0, 1), // float64 just above 2^53
  Buffer.of(0xce, 0xff, 0xff, 0xff, 0xff), // u32 max (too big for a u16)
  Buffer.of(0xc3), // true
  Buffer.of(0xc4, 0x01, 0x01), // bin
  Buffer.concat([
    Buffer.of(0x81),
    mpStr('offset'),
    Buffer.of(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
  ]),
];

function numberRequest(tenant: string, type: string): Record<string, unknown> {
  const base = { tenant_id: tenant, namespace: 'ns' };
  switch (type) {
    case 'publish':
      return { type, ...base, stream: 's', payload: '', ack: 'per_message', request_id: 1 };
    case 'cache_get':
      return { type, ...base, cache: 'c', key: 'k', request_id: 1 };
    case 'cache_put':
      return { type, ...base, cache: 'c', key: 'k', value: '', request_id: 1, ttl_ms: null };
    case 'subscribe':
      return { type, ...base, stream: 's', subscription_id: 1, start: 'latest' };
    case 'publish_chunk':
      return {
        type,
        ...base,
        stream: 's',
        publish_id: 1,
        total_len: 0,
        byte_offset: 0,
        payload: '',
        request_id: 1,
        ack: 'per_message',
      };
    default:
      return { type: 'auth', tenant_id: tenant, token: 'x', client_flags: 0, client_features: 0 };
  }
}

/** A request with one number field out of its range, in JSON or MessagePack. */
export function arbOutOfRange(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(
      fc.constantFrom(...NUMBER_FIELDS),
      fc.boolean(),
      fc.constantFrom(...JSON_BAD_NUMBERS),
      fc.constantFrom(...MSGPACK_BAD_NUMBERS),
    )
    .map(([{ type, field }, msgpack, jsonLiteral, mpValue]) => {
      const request = numberRequest(target.tenant, type);
      if (!msgpack) {
        const marker = '"__VALUE__"';
        const text = JSON.stringify({ ...request, [field]: '__VALUE__' }).replace(marker, jsonLiteral);
        return hostileFrame('out-of-range', frameOf(0, text));
      }
      // JSON's base64 strings become bin for MessagePack.
      const entries = Object.entries({ ...request, [field]: null }).map(([name, value]) => {
        let encoded: Buffer;
        if (name === field) encoded = mpValue;
        else if ((name === 'payload' || name === 'value') && value === '') encoded = Buffer.of(0xc4, 0x00);
        else encoded = packr.pack(value);
        return Buffer.concat([mpStr(name), encoded]);
      });
      return hostileFrame(
        'out-of-range',
        frameOf(FLAG_MSGPACK, Buffer.concat([Buffer.of(0x80 | entries.length), ...entries])),
      );
    });
}

// --- unknown types ---------------------------------------------------------------------------------

/** Messages whose type is unknown, not a string, missing, or a type a client must not send. */
export function arbUnknownType(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  const type = fc.oneof(
    fc.constantFrom(
      'frobnicate',
      '',
      'PUBLISH',
      'publish ',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'auth_ok',
      'publish_ok',
      'publish_error',
      'subscribed',
      'event_stream_hello',
      'event',
      'event_batch',
      'cache_value',
      'cache_ok',
      'ok',
      'error',
      'topology',
      'topology_view',
      'subscribe_cursor_error',
      'binary_event_batch',
    ),
    fc.string({ maxLength: 80 }),
    fc.constantFrom<unknown>(1, null, true, [], {}, ['publish'], { type: 'publish' }),
    fc.constant(undefined),
  );
  return fc
    .tuple(type, fc.boolean(), fc.option(fc.nat({ max: 1000 }), { nil: undefined }))
    .map(([t, msgpack, request_id]) => {
      const message: Record<string, unknown> = { tenant_id: target.tenant, namespace: 'ns', stream: 's' };
      if (t !== undefined) message.type = t;
      if (request_id !== undefined) message.request_id = request_id;
      if (t === '__proto__') {
        // As JSON text, "__proto__" is an own key; as an object literal it would set the prototype.
        const text = `{"type":"__proto__","__proto__":{"type":"publish"}${request_id === undefined ? '' : `,"request_id":${request_id}`}}`;
        return hostileFrame('unknown-type', frameOf(0, text));
      }
      return hostileFrame(
        'unknown-type',
        msgpack ? frameOf(FLAG_MSGPACK, packr.pack(message)) : frameOf(0, JSON.stringify(message)),
      );
    });
}
