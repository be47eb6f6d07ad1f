/**
 * JSON that is not what it claims: invalid UTF-8 (in JSON and in MessagePack strings), strings that are not
 * well-formed (lone surrogate escapes, MessagePack str bytes that are not UTF-8) in any field, nesting
 * thousands deep, and very large texts up to the frame limit.
 */
import fc from 'fast-check';
import { FLAG_MSGPACK, HEADER_BYTES } from '../../../wire/index.js';
import { frameOf, hostileFrame, packr, type HostileFrame, type HostileTarget } from './frames.js';
import { mpStr, mpStrOf } from './msgpack.js';
import { arbAck, arbRequestId, arbValidRequest } from './valid.js';

const INVALID_UTF8 = [
  [0xff],
  [0xfe],
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xe2, 0x82], // cut short
  [0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
].map((b) => Buffer.from(b));

/** A valid JSON request with invalid UTF-8 spliced in (inside a string or between tokens). */
export function arbInvalidUtf8(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(arbValidRequest(target), fc.constantFrom(...INVALID_UTF8), fc.nat({ max: 1 << 16 }), fc.boolean())
    .map(([valid, bad, at, msgpackStr]) => {
      if (msgpackStr) {
        // The same bytes as a MessagePack str in a field the broker reads.
        const str = Buffer.concat([Buffer.of(0xa0 | (bad.length + 1)), Buffer.from('x'), bad]);
        const payload = Buffer.concat([
          Buffer.of(0x84),
          mpStr('type'),
          mpStr('publish'),
          mpStr('tenant_id'),
          mpStr(target.tenant),
          mpStr('namespace'),
          str,
          mpStr('stream'),
          mpStr('s'),
        ]);
        return hostileFrame('invalid-utf8', frameOf(FLAG_MSGPACK, payload));
      }
      // Spliced into a JSON request of any kind (the generic acked publish when the request is binary).
      const text =
        valid.bytes.readUInt16BE(6) === 0
          ? valid.bytes.subarray(HEADER_BYTES)
          : Buffer.from(
              JSON.stringify({
                type: 'publish',
                tenant_id: target.tenant,
                namespace: 'ns',
                stream: 's',
                payload: '',
                request_id: 1,
                ack: 'per_message',
              }),
            );
      const cut = at % (text.length + 1);
      return hostileFrame(
        'invalid-utf8',
        frameOf(0, Buffer.concat([text.subarray(0, cut), bad, text.subarray(cut)])),
      );
    });
}

/** Where arbIllFormedText puts its text: a field the broker reads, an ignored field's value, or its key. */
const TEXT_PLACES = ['key', 'tenant_id', 'namespace', 'cache', 'stream', 'extra-value', 'extra-key'] as const;

/**
 * JSON \u escapes: lone surrogates (ill-formed), and for contrast a pair and the replacement character
 * (well-formed, so accepted).
 */
const JSON_ESCAPES = [
  '\\ud800',
  '\\uDBFF',
  '\\udc00',
  '\\uDFFF',
  '\\udc00\\ud800',
  '\\ud83d\\ude00',
  '\\ufffd',
];

/** Well-formed non-ASCII UTF-8 (U+FFFD among it), the contrast to INVALID_UTF8 in MessagePack strings. */
const VALID_UTF8 = ['c3a9', 'efbfbd', 'f09f9880', 'e282ac'].map((hex) => Buffer.from(hex, 'hex'));

const MARK = 'HOSTILE_TEXT_MARK';

/**
 * A request that is valid but for one string: a lone surrogate escape in JSON, or bytes that are not
 * UTF-8 in a MessagePack str, placed in a name, the cache key, an ignored field or a field's key, after
 * ASCII long enough to reach every one of msgpackr's string readers. For contrast, some carry well-formed
 * non-ASCII text in the same places instead, which must be taken as it is.
 */
export function arbIllFormedText(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .record({
      type: fc.constantFrom('cache_put', 'cache_get', 'cache_delete', 'publish', 'subscribe'),
      place: fc.constantFrom(...TEXT_PLACES),
      msgpack: fc.boolean(),
      wellFormed: fc.boolean(),
      bad: fc.constantFrom(...INVALID_UTF8),
      good: fc.constantFrom(...VALID_UTF8),
      escape: fc.constantFrom(...JSON_ESCAPES),
      padding: fc.oneof(fc.nat({ max: 8 }), fc.integer({ min: 60, max: 300 })),
      requestId: fc.option(arbRequestId, { nil: undefined }),
      ack: fc.option(arbAck, { nil: undefined }),
    })
    .map((c) => {
      const message: Record<string, unknown> = { type: c.type, tenant_id: target.tenant, namespace: 'ns' };
      const bytes = (text: string): unknown =>
        c.msgpack ? Buffer.from(text) : Buffer.from(text).toString('base64');
      if (c.type.startsWith('cache_')) {
        Object.assign(message, { cache: 'c', key: 'k' });
        if (c.type === 'cache_put') Object.assign(message, { value: bytes('v'), ttl_ms: null });
      } else {
        message.stream = 's';
        if (c.type === 'publish') {
          message.payload = bytes('p');
          if (c.ack !== undefined) message.ack = c.ack;
        }
      }
      if (c.requestId !== undefined && c.type !== 'subscribe') message.request_id = c.requestId;
      if (c.place === 'extra-key') message[MARK] = 1;
      else if (c.place === 'extra-value' || !(c.place in message)) message.extra = MARK;
      else message[c.place] = MARK;
      const padding = 'a'.repeat(c.padding);
      if (c.msgpack) {
        const text = Buffer.concat([Buffer.from(padding), c.wellFormed ? c.good : c.bad, Buffer.from('z')]);
        const payload = Buffer.from(packr.pack(message));
        const at = payload.indexOf(mpStr(MARK));
        const spliced = Buffer.concat([
          payload.subarray(0, at),
          mpStrOf(text),
          payload.subarray(at + mpStr(MARK).length),
        ]);
        return hostileFrame('ill-formed-text', frameOf(FLAG_MSGPACK, spliced));
      }
      const escape = c.wellFormed ? '\\ud83d\\ude00' : c.escape;
      return hostileFrame(
        'ill-formed-text',
        frameOf(0, JSON.stringify(message).replace(MARK, `${padding}${escape}z`)),
      );
    });
}

/** Nested JSON arrays or objects, as the whole payload or as a field's value; balanced or not. */
export function arbDeepJson(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  const room = Math.max(16, Math.floor((target.maxFrameBytes - 256) / 6));
  return fc
    .tuple(
      fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1000, max: room })),
      fc.constantFrom('array', 'object', 'mixed'),
      fc.constantFrom('whole', 'field', 'request_id', 'payload'),
      fc.boolean(),
    )
    .map(([depth, shape, where, balanced]) => {
      const open = shape === 'array' ? '[' : shape === 'object' ? '{"a":' : '[{"a":';
      const close = shape === 'array' ? ']' : shape === 'object' ? '}' : '}]';
      const innermost = shape === 'array' ? '' : '0';
      const value = open.repeat(depth) + innermost + (balanced ? close.repeat(depth) : '');
      const text =
        where === 'whole'
          ? value
          : `{"type":"publish","tenant_id":${where === 'field' ? value : JSON.stringify(target.tenant)},"namespace":"ns","stream":"s","payload":${where === 'payload' ? value : '""'}${where === 'request_id' ? `,"request_id":${value},"ack":"per_message"` : ''}}`;
      return hostileFrame('deep-json', frameOf(0, text));
    });
}

/** Large JSON: long strings, many keys, long arrays, long number literals, many escapes. */
export function arbHugeJson(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  const max = target.maxFrameBytes;
  return fc
    .tuple(
      fc.constantFrom('string', 'keys', 'array', 'number', 'escapes', 'payloads'),
      fc.integer({ min: 64, max: Math.max(64, max - 512) }),
      fc.boolean(),
    )
    .map(([shape, size, nearLimit]) => {
      const n = nearLimit ? Math.max(64, max - 400) : Math.min(size, 8192);
      let text: string;
      switch (shape) {
        case 'string':
          text = JSON.stringify({
            type: 'publish',
            tenant_id: target.tenant,
            namespace: 'ns',
            stream: 'x'.repeat(n),
            payload: '',
          });
          break;
        case 'keys': {
          const keys: string[] = [];
          for (let i = 0; keys.length * 12 < n; i++) keys.push(`"k${i}":${i}`);
          text = `{"type":"cache_get",${keys.join(',')},"tenant_id":"${target.tenant}","namespace":"ns","cache":"c","key":"k","request_id":7}`;
          break;
        }
        case 'array':
          text = `{"type":"publish_batch","tenant_id":"${target.tenant}","namespace":"ns","stream":"s","payloads":[${Array(
            Math.floor(n / 3),
          )
            .fill('""')
            .join(',')}]}`;
          break;
        case 'number':
          text = `{"type":"cache_get","tenant_id":"${target.tenant}","namespace":"ns","cache":"c","key":"k","request_id":${'9'.repeat(n)}}`;
          break;
        case 'escapes':
          text = `{"type":"cache_get","tenant_id":"${target.tenant}","namespace":"ns","cache":"c","key":"${'\\u0000'.repeat(Math.floor(n / 6))}","request_id":1}`;
          break;
        default:
          text = `{"type":"publish","tenant_id":"${target.tenant}","namespace":"ns","stream":"s","payload":"${'QUFB'.repeat(Math.floor(n / 4))}"}`;
      }
      return hostileFrame('huge-json', frameOf(0, text));
    });
}
