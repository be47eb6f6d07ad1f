import { describe, expect, it } from 'vitest';
import {
  decodeJsonMessage,
  decodeMessage,
  decodeMsgpackMessage,
  decodeWholeFrame,
  encodeJsonText,
  encodeMessage,
  encodeMsgpackPayload,
  FEATURE_CACHE_DELETE,
  FEATURE_PUBLISH_CHUNK,
  FLAG_MSGPACK,
  MESSAGE_TYPES,
  type Message,
  type WireErrorCode,
} from '../../wire/index.js';
import { MESSAGE_FIELDS } from '../../wire/schema.js';
import { expectWireError, normalize } from './helpers.js';
import { ALL_SAMPLES, FULL_SAMPLES, MINIMAL_SAMPLES } from './samples.js';

const jsonPayload = (text: string) => Buffer.from(text, 'utf8');

describe('message schema', () => {
  it('describes exactly the fields of every message type (samples and schema agree)', () => {
    expect([...MESSAGE_TYPES].sort()).toEqual(Object.keys(FULL_SAMPLES).sort());
    for (const type of MESSAGE_TYPES) {
      const sampleFields = Object.keys(FULL_SAMPLES[type]).filter((key) => key !== 'type');
      expect(
        MESSAGE_FIELDS[type].map((field) => field.name),
        type,
      ).toEqual(sampleFields);
    }
  });
});

describe.each([
  ['JSON', false],
  ['MessagePack', true],
] as const)('%s round trip', (_name, msgpack) => {
  it.each(ALL_SAMPLES.map((message, index) => [`${message.type}#${index}`, message] as const))(
    '%s',
    (_label, message) => {
      const frame = decodeWholeFrame(encodeMessage(message, { msgpack }));
      expect(frame.flags).toBe(msgpack ? FLAG_MSGPACK : 0);
      expect(normalize(decodeMessage(frame.flags, frame.payload))).toEqual(normalize(message));
    },
  );
});

describe('JSON encoding follows Felix field order and omission rules', () => {
  it.each([
    [
      FULL_SAMPLES.publish,
      '{"type":"publish","tenant_id":"t1","namespace":"default","stream":"orders","payload":"aGVsbG8=","request_id":9007199254740991,"ack":"per_message","producer_id":9007199254740991,"sequence":1099511627776}',
    ],
    [
      MINIMAL_SAMPLES.cache_put,
      '{"type":"cache_put","tenant_id":"t1","namespace":"default","cache":"primary","key":"k/ü","value":"","ttl_ms":null}',
    ],
    [
      MINIMAL_SAMPLES.cache_value,
      '{"type":"cache_value","tenant_id":"t1","namespace":"default","cache":"primary","key":"k/ü","value":null}',
    ],
    [
      FULL_SAMPLES.subscribe,
      '{"type":"subscribe","tenant_id":"t1","namespace":"default","stream":"orders","subscription_id":3,"start":{"offset":8589934592},"epoch":9007199254740991}',
    ],
    [
      FULL_SAMPLES.subscribed,
      '{"type":"subscribed","subscription_id":4294967296,"epoch":8128812,"start_offset":41}',
    ],
    [MINIMAL_SAMPLES.subscribed, '{"type":"subscribed","subscription_id":0}'],
    [FULL_SAMPLES.draining, '{"type":"draining"}'],
    [
      { type: 'subscribe', tenant_id: 't', namespace: 'n', stream: 's', start: 'earliest' } as Message,
      '{"type":"subscribe","tenant_id":"t","namespace":"n","stream":"s","start":"earliest"}',
    ],
    [
      FULL_SAMPLES.event_batch,
      '{"type":"event_batch","tenant_id":"t1","namespace":"default","stream":"orders","payloads":["eA==","eXo="],"base_offset":100}',
    ],
    [
      FULL_SAMPLES.publish_error,
      '{"type":"publish_error","request_id":77,"message":"stream not found","code":"not_found","retry":"retry_after","detail":{"reason":"not_ready","retry_after_ms":250}}',
    ],
    [
      FULL_SAMPLES.auth,
      '{"type":"auth","tenant_id":"t1","token":"tok\\"en\\n","client_flags":127,"client_features":2147485700}',
    ],
    [FULL_SAMPLES.topology, '{"type":"topology"}'],
    [
      FULL_SAMPLES.cache_put,
      '{"type":"cache_put","tenant_id":"t1","namespace":"default","cache":"primary","key":"k/ü","value":"Y2FjaGVk","request_id":8,"ttl_ms":1000}',
    ],
    [
      FULL_SAMPLES.cache_value,
      '{"type":"cache_value","tenant_id":"t1","namespace":"default","cache":"primary","key":"k/ü","value":"dg==","request_id":8}',
    ],
    [
      FULL_SAMPLES.publish_chunk,
      '{"type":"publish_chunk","tenant_id":"t1","namespace":"default","stream":"orders","publish_id":1099511627776,"total_len":10,"byte_offset":4,"payload":"Y2h1bmsh","request_id":5,"ack":"none","producer_id":77,"sequence":3}',
    ],
    [
      FULL_SAMPLES.subscribe_cursor_error,
      '{"type":"subscribe_cursor_error","reason":"epoch_changed","requested":3,"available":17,"epoch":42}',
    ],
    [
      MINIMAL_SAMPLES.subscribe_cursor_error,
      '{"type":"subscribe_cursor_error","reason":"in_future","requested":9,"available":4}',
    ],
  ])('%o', (message, expected) => {
    expect(encodeJsonText(message)).toBe(expected);
  });

  it('writes u32 feature sets unsigned even when built with signed bitwise operators', () => {
    const features = FEATURE_PUBLISH_CHUNK | FEATURE_CACHE_DELETE; // negative in JS
    expect(features).toBeLessThan(0);
    expect(encodeJsonText({ type: 'auth_ok', server_flags: 1, server_features: features })).toBe(
      '{"type":"auth_ok","server_flags":1,"server_features":2147483652}',
    );
  });

  it('escapes control characters like serde_json (short forms, lowercase \\u00xx)', () => {
    const text = encodeJsonText({ type: 'error', message: '\b\f\n\r\t\u0001\u001f"\\/é\u007f' });
    expect(text).toBe('{"type":"error","message":"\\b\\f\\n\\r\\t\\u0001\\u001f\\"\\\\/é\u007f"}');
  });
});

describe('JSON decoding', () => {
  it('reads null as absent for optional fields and a missing ttl_ms as null, as serde does', () => {
    const message = decodeJsonMessage(
      jsonPayload(
        '{"ttl_ms":null,"request_id":null,"type":"cache_put","tenant_id":"t","namespace":"n","cache":"c","key":"k","value":"AA=="}',
      ),
    );
    expect(normalize(message)).toEqual(
      normalize({
        type: 'cache_put',
        tenant_id: 't',
        namespace: 'n',
        cache: 'c',
        key: 'k',
        value: Buffer.from([0]),
        ttl_ms: null,
      }),
    );
    const withoutTtl = decodeJsonMessage(
      jsonPayload('{"type":"cache_put","tenant_id":"t","namespace":"n","cache":"c","key":"k","value":""}'),
    );
    expect(withoutTtl).toMatchObject({ ttl_ms: null });
  });

  it('ignores unknown fields, as serde does', () => {
    expect(decodeJsonMessage(jsonPayload('{"type":"ok","future":[1,2,{"x":null}]}'))).toEqual({ type: 'ok' });
  });

  it('keeps unknown error codes and reads unknown retry classes as fatal, as Felix does', () => {
    expect(
      decodeJsonMessage(jsonPayload('{"type":"error","message":"m","code":"brand_new","retry":"someday"}')),
    ).toEqual({
      type: 'error',
      message: 'm',
      code: 'brand_new',
      retry: 'fatal',
    });
  });

  it('accepts each start position form', () => {
    const subscribe = (start: string) =>
      decodeJsonMessage(
        jsonPayload(`{"type":"subscribe","tenant_id":"t","namespace":"n","stream":"s","start":${start}}`),
      );
    expect(subscribe('"latest"')).toMatchObject({ start: 'latest' });
    expect(subscribe('"earliest"')).toMatchObject({ start: 'earliest' });
    expect(subscribe('{"offset":42}')).toMatchObject({ start: { offset: 42 } });
    expectWireError(() => subscribe('"middle"'), 'malformed');
    expectWireError(() => subscribe('{"offset":1,"extra":2}'), 'malformed');
    expectWireError(() => subscribe('{"offset":-1}'), 'malformed');
  });

  it.each<[string, string, WireErrorCode]>([
    ['not JSON', '{"type":', 'malformed'],
    ['not an object', '[1,2]', 'malformed'],
    ['no type', '{"message":"x"}', 'malformed'],
    ['a non-string type', '{"type":7}', 'malformed'],
    ['an unknown type', '{"type":"unsubscribe_all"}', 'unknown_type'],
    ['a prototype key as type', '{"type":"constructor"}', 'unknown_type'],
    ['a missing required field', '{"type":"publish_ok"}', 'malformed'],
    ['null in a required field', '{"type":"publish_ok","request_id":null}', 'malformed'],
    ['a string for an integer', '{"type":"publish_ok","request_id":"7"}', 'malformed'],
    ['a negative integer', '{"type":"publish_ok","request_id":-7}', 'malformed'],
    ['a fraction', '{"type":"publish_ok","request_id":1.5}', 'malformed'],
    ['a u64 above 2^53 - 1', '{"type":"publish_ok","request_id":9007199254740993}', 'malformed'],
    ['a u16 above 65535', '{"type":"auth_ok","server_flags":65536}', 'malformed'],
    [
      'an unknown ack mode',
      '{"type":"publish","tenant_id":"t","namespace":"n","stream":"s","payload":"","ack":"maybe"}',
      'malformed',
    ],
    [
      'a producer_id without sequence',
      '{"type":"publish","tenant_id":"t","namespace":"n","stream":"s","payload":"","request_id":1,"ack":"per_message","producer_id":5}',
      'malformed',
    ],
    [
      'a sequence without producer_id',
      '{"type":"publish_batch","tenant_id":"t","namespace":"n","stream":"s","payloads":[],"sequence":5}',
      'malformed',
    ],
    [
      'producer_id 0',
      '{"type":"publish_chunk","tenant_id":"t","namespace":"n","stream":"s","publish_id":1,"total_len":0,"byte_offset":0,"payload":"","producer_id":0,"sequence":1}',
      'malformed',
    ],
    [
      'sequence 0 (sequences count from 1)',
      '{"type":"publish","tenant_id":"t","namespace":"n","stream":"s","payload":"","request_id":1,"ack":"per_message","producer_id":5,"sequence":0}',
      'malformed',
    ],
    [
      'an unknown cursor error reason',
      '{"type":"subscribe_cursor_error","reason":"gone","requested":1,"available":2}',
      'malformed',
    ],
    [
      'unpadded base64',
      '{"type":"event","tenant_id":"t","namespace":"n","stream":"s","payload":"aGVsbG8"}',
      'malformed',
    ],
    [
      'non-canonical base64 pad bits',
      '{"type":"event","tenant_id":"t","namespace":"n","stream":"s","payload":"aGVsbG9="}',
      'malformed',
    ],
    [
      'url-safe base64',
      '{"type":"event","tenant_id":"t","namespace":"n","stream":"s","payload":"-_-_"}',
      'malformed',
    ],
    [
      'a number in a byte list',
      '{"type":"event_batch","tenant_id":"t","namespace":"n","stream":"s","payloads":[1]}',
      'malformed',
    ],
  ])('rejects %s', (_what, text, code) => {
    expectWireError(() => decodeJsonMessage(jsonPayload(text)), code);
  });

  it('rejects invalid UTF-8 instead of replacing it', () => {
    const payload = Buffer.concat([
      jsonPayload('{"type":"error","message":"'),
      Buffer.from([0xc3, 0x28]),
      jsonPayload('"}'),
    ]);
    expectWireError(() => decodeJsonMessage(payload), 'malformed');
  });

  it('names the request id of a request it cannot decode, so the reply can be matched', () => {
    const error = expectWireError(
      () =>
        decodeJsonMessage(jsonPayload('{"type":"publish","request_id":41,"tenant_id":"t","namespace":"n"}')),
      'malformed',
    );
    expect(error.requestId).toBe(41);
    expect(
      expectWireError(() => decodeJsonMessage(jsonPayload('{"type":"nope","request_id":5}')), 'unknown_type')
        .requestId,
    ).toBe(5);
  });

  it('refuses to encode a message without a required field', () => {
    expectWireError(() => encodeMessage({ type: 'publish_ok' } as unknown as Message), 'malformed');
    expectWireError(() => encodeMessage({ type: 'no_such' } as unknown as Message), 'unknown_type');
  });
});

describe('MessagePack encoding', () => {
  it('carries byte fields raw, not as base64', () => {
    const payload = Buffer.from('raw-bytes-not-base64');
    const encoded = encodeMsgpackPayload({
      type: 'event',
      tenant_id: 't',
      namespace: 'n',
      stream: 's',
      payload,
    });
    expect(encoded.includes(payload)).toBe(true);
    expect(encoded.includes(Buffer.from(payload.toString('base64')))).toBe(false);
  });

  it('keeps the JSON field names and order', () => {
    const encoded = encodeMsgpackPayload(FULL_SAMPLES.publish);
    const order = ['type', 'tenant_id', 'namespace', 'stream', 'payload', 'request_id', 'ack'].map((key) =>
      encoded.indexOf(Buffer.from(key)),
    );
    expect(order.every((position) => position >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('writes integers above u32 as 64-bit integers, not floats', () => {
    const encoded = encodeMsgpackPayload({ type: 'subscribed', subscription_id: 2 ** 40 });
    // d3 = int 64, followed by the big-endian value.
    expect(encoded.includes(Buffer.from('d30000010000000000', 'hex'))).toBe(true);
    expect(encoded.includes(0xcb)).toBe(false);
  });

  it('decodes byte fields as views into the payload (the documented aliasing rule)', () => {
    const payload = encodeMsgpackPayload({
      type: 'event',
      tenant_id: 't',
      namespace: 'n',
      stream: 's',
      payload: Buffer.from('abc'),
    });
    const message = decodeMsgpackMessage(payload);
    payload.fill(0x41, payload.length - 3);
    expect(Buffer.from((message as { payload: Uint8Array }).payload).toString()).toBe('AAA');
  });

  it.each([
    ['trailing bytes', Buffer.concat([encodeMsgpackPayload({ type: 'ok' }), Buffer.from([0])])],
    ['an empty payload', Buffer.alloc(0)],
    ['a truncated map', encodeMsgpackPayload(FULL_SAMPLES.publish).subarray(0, 20)],
    ['an array32 claiming 2^32 - 1 items', Buffer.from('ddffffffff', 'hex')],
    ['a map that is not a message', Buffer.from('81a17801', 'hex')],
  ])('rejects %s as malformed', (_what, payload) => {
    expectWireError(() => decodeMsgpackMessage(payload), 'malformed');
  });

  it('rejects base64 text where MessagePack needs bin', () => {
    const wrong = Buffer.from(
      // {"type":"event","tenant_id":"t","namespace":"n","stream":"s","payload":"YQ=="} as msgpack
      '85a474797065a56576656e74a974656e616e745f6964a174a96e616d657370616365a16ea673747265616da173a77061796c6f6164a459513d3d',
      'hex',
    );
    expectWireError(() => decodeMsgpackMessage(wrong), 'malformed');
  });
});

describe('decodeMessage', () => {
  it('refuses flags that do not carry a message', () => {
    expectWireError(() => decodeMessage(0x01, jsonPayload('{"type":"ok"}')), 'invalid_flags');
  });
});
