/**
 * JSON that is not what it claims: invalid UTF-8 (in JSON and in MessagePack strings), nesting thousands
 * deep, and very large texts up to the frame limit.
 */
import fc from 'fast-check';
import { FLAG_MSGPACK, HEADER_BYTES } from '../../../wire/index.js';
import { frameOf, hostileFrame, type HostileFrame, type HostileTarget } from './frames.js';
import { mpStr } from './msgpack.js';
import { arbValidRequest } from './valid.js';

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
