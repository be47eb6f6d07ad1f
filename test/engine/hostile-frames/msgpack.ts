/**
 * MessagePack bombs (flags 0x40): headers declaring 2^32 - 1 entries or bytes, nesting deeper than the
 * stack, ext types (msgpackr's own among them), keys that are not strings or are __proto__.
 */
import fc from 'fast-check';
import { CLIENT_REQUEST_TYPES, FLAG_MSGPACK, HEADER_BYTES } from '../../../wire/index.js';
import { frameOf, hostileFrame, packr, type HostileFrame, type HostileTarget } from './frames.js';
import { arbValidRequest } from './valid.js';

export function mpStr(text: string): Buffer {
  return mpStrOf(Buffer.from(text, 'utf8'));
}

/** A str holding exactly `body`, UTF-8 or not, in the shortest form its length allows. */
export function mpStrOf(body: Buffer): Buffer {
  if (body.length < 32) return Buffer.concat([Buffer.of(0xa0 | body.length), body]);
  if (body.length < 0x100) return Buffer.concat([Buffer.of(0xd9, body.length), body]);
  const head = Buffer.alloc(3);
  head[0] = 0xda;
  head.writeUInt16BE(body.length, 1);
  return Buffer.concat([head, body]);
}

function u32(prefix: number, value: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = prefix;
  b.writeUInt32BE(value >>> 0, 1);
  return b;
}

function u16(prefix: number, value: number): Buffer {
  const b = Buffer.alloc(3);
  b[0] = prefix;
  b.writeUInt16BE(value & 0xffff, 1);
  return b;
}

/** MessagePack headers that promise far more than follows, or types the codec must not choke on. */
const arbMsgpackBombValue: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      u32(0xdf, 0xffffffff), // map32
      u32(0xdd, 0xffffffff), // array32
      u32(0xdb, 0xffffffff), // str32
      u32(0xc6, 0xffffffff), // bin32
      Buffer.concat([u32(0xc9, 0xffffffff), Buffer.of(0x01)]), // ext32
      u32(0xdd, 0x7fffffff),
      u32(0xdf, 0x10000000),
      u16(0xde, 0xffff), // map16
      u16(0xdc, 0xffff), // array16
      u16(0xda, 0xffff), // str16
      Buffer.of(0xc1), // never used
      Buffer.of(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), // float64 NaN
      Buffer.of(0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0), // float64 +Infinity
      Buffer.of(0xca, 0x7f, 0xc0, 0, 0), // float32 NaN
      Buffer.of(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // uint64 max
      Buffer.of(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), // int64 min
      Buffer.of(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // int64 -1
      Buffer.of(0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0), // timestamp64
      Buffer.of(0xd6, 0xff, 0xff, 0xff, 0xff, 0xff), // timestamp32
      Buffer.of(0xc7, 12, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // timestamp96
      Buffer.of(0xd4, 0x72, 0x00), // msgpackr record extension
      Buffer.of(0xd4, 0x62, 0x00), // msgpackr bundled strings
      Buffer.of(0xd5, 0x70, 0x00, 0x00),
      Buffer.of(0xc7, 0x00, 0x78), // ext8 empty, msgpackr "moreTypes" code
      Buffer.of(0xc0),
    ),
  },
  // fixext 1..16 / ext8 / ext16 of any type and size.
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc8),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 20 }),
      )
      .map(([prefix, type, data]) => {
        const fixed = { 0xd4: 1, 0xd5: 2, 0xd6: 4, 0xd7: 8, 0xd8: 16 } as Record<number, number>;
        if (prefix in fixed) {
          const body = Buffer.alloc(fixed[prefix]!);
          body.set(data.subarray(0, body.length));
          return Buffer.concat([Buffer.of(prefix, type), body]);
        }
        const head = prefix === 0xc7 ? Buffer.of(0xc7, data.length) : u16(0xc8, data.length);
        return Buffer.concat([head, Buffer.of(type), data]);
      }),
  },
  // Deep nesting: arrays of one, or maps of one, hundreds to thousands deep (deeper than the stack).
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.integer({ min: 100, max: 2_000 }), fc.integer({ min: 2_000, max: 20_000 })),
        fc.boolean(),
      )
      .map(([depth, maps]) =>
        maps
          ? Buffer.concat([Buffer.alloc(depth * 3, Buffer.from([0x81, 0xa1, 0x61])), Buffer.of(0xc0)])
          : Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.of(0xc0)]),
      ),
  },
  // Keys that are not strings, and __proto__.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      Buffer.concat([Buffer.of(0x82), Buffer.of(0x01), Buffer.of(0x02), mpStr('type'), mpStr('publish')]),
      Buffer.concat([
        Buffer.of(0x82),
        Buffer.of(0x81, 0xa1, 0x61, 0x01),
        Buffer.of(0x02),
        mpStr('type'),
        mpStr('cache_get'),
      ]),
      Buffer.concat([
        Buffer.of(0x82),
        Buffer.of(0x92, 0x01, 0x02),
        Buffer.of(0x02),
        mpStr('type'),
        mpStr('cache_get'),
      ]),
      Buffer.concat([
        Buffer.of(0x82),
        mpStr('__proto__'),
        Buffer.concat([Buffer.of(0x81), mpStr('type'), mpStr('publish')]),
        mpStr('x'),
        Buffer.of(0x01),
      ]),
      Buffer.concat([Buffer.of(0x81), mpStr('constructor'), Buffer.of(0x01)]),
    ),
  },
);

/**
 * MessagePack frames (flags 0x40): a bomb as the whole payload, as the value of a field of an otherwise
 * plausible request, or behind a valid message as trailing bytes.
 */
export function arbMsgpackBomb(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  const field = fc.constantFrom(
    'type',
    'tenant_id',
    'namespace',
    'stream',
    'payload',
    'request_id',
    'ack',
    'key',
    'value',
    'ttl_ms',
    'start',
    'cache',
    'payloads',
  );
  const type = fc.constantFrom(...CLIENT_REQUEST_TYPES.filter((t) => t !== 'topology'));
  return fc
    .tuple(
      fc.constantFrom('whole', 'field', 'trailing', 'in-array'),
      arbMsgpackBombValue,
      field,
      type,
      arbValidRequest(target, ['publish', 'cache_get', 'cache_put', 'subscribe']),
    )
    .map(([where, bomb, name, t, valid]) => {
      let payload: Buffer;
      switch (where) {
        case 'whole':
          payload = bomb;
          break;
        case 'field':
          payload = Buffer.concat([
            Buffer.of(0x87),
            mpStr('type'),
            mpStr(t),
            mpStr('tenant_id'),
            mpStr(target.tenant),
            mpStr('namespace'),
            mpStr('ns'),
            mpStr('stream'),
            mpStr('s'),
            mpStr('cache'),
            mpStr('c'),
            mpStr('key'),
            mpStr('k'),
            mpStr(name),
            bomb,
          ]);
          break;
        case 'trailing': {
          const message =
            valid.bytes[7] === FLAG_MSGPACK
              ? valid.bytes.subarray(HEADER_BYTES)
              : packr.pack({
                  type: 'cache_get',
                  tenant_id: target.tenant,
                  namespace: 'ns',
                  cache: 'c',
                  key: 'k',
                  request_id: 3,
                });
          payload = Buffer.concat([message, bomb]);
          break;
        }
        default:
          payload = Buffer.concat([
            Buffer.of(0x81),
            mpStr('payloads'),
            Buffer.of(0x93, 0xc4, 0x00),
            bomb,
            Buffer.of(0xc4, 0x00),
          ]);
      }
      return hostileFrame('msgpack-bomb', frameOf(FLAG_MSGPACK, payload));
    });
}
