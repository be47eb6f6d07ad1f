/**
 * Generated hostile inputs for the cross-process run: each case is the bytes one client stream sends
 * (random and mutated headers, flags, lengths, truncations, count and length bombs, invalid UTF-8, deep
 * and huge JSON, MessagePack bombs, out-of-range numbers, unknown types, valid frames followed by
 * garbage, garbage before auth) and what the broker must at least do about them. Case `i` of seed `s` is
 * always the same bytes, so any case can be replayed alone.
 */
import { FLAG_MSGPACK } from '../../wire/index.js';
import {
  DEFAULT_AUTH,
  binaryBatch,
  frameOf,
  jsonDeepArray,
  jsonText,
  message,
  mpArray32Header,
  mpDeepArray,
  mpMapHeader,
  mpStr,
  mpStr32Header,
  mpUint64,
  msgpackBytes,
  rawHeader,
} from './frames.js';
import { Prng, itemSeed } from './prng.js';

/**
 * `error`: the contract names an error reply (or a reset) for every frame of the case, so one must come.
 * `any`: what comes depends on how the mutation landed (a mutated length may swallow the next frame, a
 * cut frame ends the stream mid-frame); the broker must still answer or close the stream, not go silent.
 */
export type Expectation = 'error' | 'any';

export interface HostileCase {
  readonly index: number;
  readonly category: Category;
  /** Authenticate the stream before the hostile bytes (false: garbage before auth). */
  readonly auth: boolean;
  /** Offer MessagePack in auth, so replies come as MessagePack. */
  readonly msgpack: boolean;
  /** Open a unidirectional stream instead (the broker refuses those with STOP_SENDING). */
  readonly unidirectional: boolean;
  /** The hostile bytes, in the writes they are sent in (a frame may be split across writes). */
  readonly writes: readonly Buffer[];
  /** Follow with a valid acked publish: on a stream that continues it must be answered. */
  readonly probe: boolean;
  readonly expect: Expectation;
}

export interface GeneratorLimits {
  /** The broker's FELIX_MAX_FRAME_BYTES. */
  readonly maxFrameBytes: number;
}

export const CATEGORIES = [
  'mutated-header',
  'random-flags',
  'unknown-flags',
  'random-length',
  'truncated',
  'bad-magic',
  'count-bomb',
  'length-bomb',
  'invalid-utf8',
  'deep-json',
  'huge-json',
  'over-max-frame',
  'msgpack-bomb',
  'out-of-range',
  'unknown-type',
  'non-canonical-base64',
  'wrong-tenant',
  'bad-name',
  'valid-then-garbage',
  'garbage-before-auth',
  'unidirectional',
] as const;
export type Category = (typeof CATEGORIES)[number];

const WEIGHTS: readonly (readonly [number, Category])[] = [
  [10, 'mutated-header'],
  [8, 'random-flags'],
  [4, 'unknown-flags'],
  [6, 'random-length'],
  [6, 'truncated'],
  [3, 'bad-magic'],
  [6, 'count-bomb'],
  [6, 'length-bomb'],
  [5, 'invalid-utf8'],
  [3, 'deep-json'],
  [1, 'huge-json'],
  [2, 'over-max-frame'],
  [6, 'msgpack-bomb'],
  [6, 'out-of-range'],
  [4, 'unknown-type'],
  [4, 'non-canonical-base64'],
  [2, 'wrong-tenant'],
  [2, 'bad-name'],
  [5, 'valid-then-garbage'],
  [5, 'garbage-before-auth'],
  [1, 'unidirectional'],
];

/** The request id of case `index`'s probe: far above the ids hostile frames use, so it cannot be mistaken. */
export function probeRequestId(index: number): number {
  return 2_000_000_000 + index;
}

export function generateCase(runSeed: number, index: number, limits: GeneratorLimits): HostileCase {
  const rng = new Prng(itemSeed(runSeed, index));
  const category = rng.weighted(WEIGHTS);
  const base: Mutable<HostileCase> = {
    index,
    category,
    auth: true,
    msgpack: rng.chance(0.2),
    unidirectional: false,
    writes: [],
    probe: true,
    expect: 'error',
  };
  const built = BUILDERS[category](rng, base, limits);
  return { ...built, writes: splitWrites(rng, built.writes) };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Builder = (rng: Prng, c: Mutable<HostileCase>, limits: GeneratorLimits) => Mutable<HostileCase>;

const BUILDERS: Record<Category, Builder> = {
  'mutated-header'(rng, c) {
    const frame = Buffer.from(validRequest(rng));
    for (let flips = rng.int(1, 3); flips > 0; flips--) frame[rng.int(0, 11)] ^= 1 << rng.int(0, 7);
    return { ...c, writes: [frame], expect: 'any' };
  },
  'random-flags'(rng, c) {
    // A JSON or MessagePack message under any other flags is never a request layout that decodes.
    const msgpack = rng.chance(0.5);
    const payload = message(validMessage(rng), msgpack).subarray(12);
    let flags = rng.int(1, 0xffff);
    if (flags === (msgpack ? FLAG_MSGPACK : 0)) flags ^= 0x0004;
    return { ...c, writes: [frameOf(flags, payload)] };
  },
  'unknown-flags'(rng, c) {
    const frame = Buffer.from(validRequest(rng));
    frame.writeUInt16BE(frame.readUInt16BE(6) | (1 << rng.int(8, 15)), 6);
    return { ...c, writes: [frame] };
  },
  'random-length'(rng, c) {
    const frame = Buffer.from(validRequest(rng));
    const actual = frame.length - 12;
    const lies = [rng.int(0, Math.max(0, actual - 1)), actual + rng.int(1, 64), rng.int(0, 0xffff)];
    frame.writeUInt32BE(rng.pick(lies), 8);
    return { ...c, writes: [frame], expect: 'any' };
  },
  truncated(rng, c) {
    const frame = validRequest(rng);
    // The stream ends mid-frame: the contract's answer is the stream closing, with nothing sent.
    return { ...c, writes: [frame.subarray(0, rng.int(1, frame.length - 1))], probe: false, expect: 'any' };
  },
  'bad-magic'(rng, c) {
    const garbage = notAFrame(rng.bytes(rng.int(12, 64)));
    // Or the right magic with a version this broker does not speak.
    const bytes = rng.chance(0.3) ? rawHeader({ version: rng.int(2, 0xffff), length: 0 }) : garbage;
    return { ...c, writes: [bytes] };
  },
  'count-bomb'(rng, c) {
    const acked = rng.chance(0.6);
    const count = rng.pick([0xffffffff, 0x80000000, 0x10000, rng.int(2, 1000)]);
    const frame = binaryBatch({
      requestId: acked ? rng.int(1, 1_000_000) : undefined,
      payloads: [Buffer.from('a')],
      count,
    });
    return { ...c, writes: [frame] };
  },
  'length-bomb'(rng, c) {
    const acked = rng.chance(0.6);
    const requestId = acked ? rng.int(1, 1_000_000) : undefined;
    const variant = rng.int(0, 2);
    if (variant === 0)
      return { ...c, writes: [binaryBatch({ requestId, streamNameLength: rng.int(0x100, 0xffff) })] };
    if (variant === 1)
      return {
        ...c,
        writes: [binaryBatch({ requestId, firstPayloadLength: rng.pick([0xffffffff, 0x7fffffff, 1000]) })],
      };
    // A MessagePack cache request whose string claims gigabytes.
    const bomb = Buffer.concat([
      mpMapHeader(5),
      mpStr('type'),
      mpStr(rng.pick(['cache_get', 'cache_put', 'publish'])),
      mpStr('tenant_id'),
      mpStr32Header(rng.pick([0xffffffff, 0x10000000])),
      Buffer.from('t1'),
    ]);
    return { ...c, writes: [msgpackBytes(bomb)] };
  },
  'invalid-utf8'(rng, c) {
    const bad = rng.pick([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]);
    const lookup = { type: 'cache_get', tenant_id: 't1', namespace: 'hostile', cache: 'c', request_id: 7 };
    switch (rng.int(0, 2)) {
      case 0: {
        // The same bytes as a MessagePack str: the cache key, which (unlike a name) any text may be.
        const fields = Object.entries(lookup).map(([name, value]) =>
          Buffer.concat([mpStr(name), typeof value === 'number' ? Buffer.of(value) : mpStr(value)]),
        );
        const key = Buffer.concat([mpStr('key'), Buffer.of(0xa1 + bad.length, 0x6b), Buffer.from(bad)]);
        return { ...c, writes: [msgpackBytes(Buffer.concat([mpMapHeader(6), ...fields, key]))] };
      }
      case 1:
        // A lone surrogate escape: valid UTF-8 JSON, but not a well-formed string.
        return {
          ...c,
          writes: [jsonText(JSON.stringify({ ...lookup, key: 'K' }).replace('"K"', '"k\\ud800"'))],
        };
    }
    const text = Buffer.from(JSON.stringify({ type: 'publish', ...names(rng), payload: 'eA==' }));
    // Inside the stream name, so only the UTF-8 is wrong.
    const at = text.indexOf('"stream":"') + 10;
    const payload = Buffer.concat([text.subarray(0, at), Buffer.from(bad), text.subarray(at)]);
    return { ...c, writes: [frameOf(0, payload)] };
  },
  'deep-json'(rng, c) {
    const depth = rng.pick([1_000, 10_000, 50_000, 100_000]);
    const text = rng.chance(0.5)
      ? jsonDeepArray(depth)
      : `{"type":"publish","tenant_id":"t1","namespace":"hostile","stream":"s","payload":${jsonDeepArray(depth)}}`;
    return { ...c, writes: [jsonText(text)] };
  },
  'huge-json'(rng, c) {
    const items = rng.int(50_000, 300_000);
    const text = rng.chance(0.5)
      ? `{"type":"publish","tenant_id":"t1","namespace":"hostile","stream":"s","payload":[${'0,'.repeat(items)}0]}`
      : `{"type":"x-huge",${Array.from({ length: Math.floor(items / 10) }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    return { ...c, writes: [jsonText(text)] };
  },
  'over-max-frame'(rng, c, limits) {
    // Only the header: a payload the broker must not wait to buffer. It skips what follows, the probe too.
    const length = rng.pick([
      limits.maxFrameBytes + 1,
      0xffffffff,
      rng.int(limits.maxFrameBytes + 1, 0xffffffff),
    ]);
    return { ...c, writes: [rawHeader({ flags: rng.pick([0, 0x40, 0x09]), length })], probe: false };
  },
  'msgpack-bomb'(rng, c) {
    const bombs = [
      () => mpArray32Header(0xffffffff),
      () => mpMapHeader(0xffffffff),
      () => mpMapHeader(rng.int(16, 0x7fffffff)),
      () => mpDeepArray(rng.pick([1_000, 10_000, 100_000])),
      () => Buffer.concat([mpMapHeader(1), mpStr('type'), Buffer.of(0xc6, 0xff, 0xff, 0xff, 0xff)]),
      () => Buffer.of(0xc1),
      () => Buffer.of(0xd4, rng.int(0, 255), 0),
      () => Buffer.concat([message(validMessage(rng), true).subarray(12), rng.bytes(rng.int(1, 16))]),
    ];
    return { ...c, writes: [msgpackBytes(rng.pick(bombs)())] };
  },
  'out-of-range'(rng, c) {
    const huge = ['9007199254740993', '18446744073709551616', '-1', '1.5', '1e308', '"7"', '[]'];
    const value = rng.pick(huge);
    const templates = [
      `{"type":"publish","tenant_id":"t1","namespace":"hostile","stream":"s","payload":"eA==","request_id":${value},"ack":"per_message"}`,
      `{"type":"cache_put","tenant_id":"t1","namespace":"hostile","cache":"c","key":"k","value":"eA==","request_id":7,"ttl_ms":${value}}`,
      `{"type":"subscribe","tenant_id":"t1","namespace":"hostile","stream":"s","start":{"offset":${value}}}`,
      `{"type":"subscribe","tenant_id":"t1","namespace":"hostile","stream":"s","subscription_id":${value}}`,
    ];
    if (rng.chance(0.2)) {
      // The same in MessagePack: a uint64 above 2^53.
      const bomb = Buffer.concat([
        mpMapHeader(7),
        mpStr('type'),
        mpStr('publish'),
        mpStr('tenant_id'),
        mpStr('t1'),
        mpStr('namespace'),
        mpStr('hostile'),
        mpStr('stream'),
        mpStr('s'),
        mpStr('payload'),
        Buffer.of(0xc4, 1, 0x78),
        mpStr('request_id'),
        mpUint64(BigInt(rng.pick(['9007199254740993', '18446744073709551615']))),
        mpStr('ack'),
        mpStr('per_message'),
      ]);
      return { ...c, writes: [msgpackBytes(bomb)] };
    }
    return { ...c, writes: [jsonText(rng.pick(templates))] };
  },
  'unknown-type'(rng, c) {
    const letters = rng.bytes(rng.int(1, 24)).toString('hex');
    const text = rng.pick([
      `{"type":"x-${letters}"}`,
      `{"type":"x-${letters}","request_id":${rng.int(1, 1000)}}`,
      `{"type":${rng.int(0, 1000)}}`,
      `{"typ":"publish"}`,
      `{"type":null}`,
    ]);
    return { ...c, writes: [jsonText(text)] };
  },
  'non-canonical-base64'(rng, c) {
    const text = rng.pick(['aGVsbG8', 'aGVs bG8=', 'aGk', '====', 'aGl=', '@@@@', 'aGVsbG8=\n', 'a===']);
    const acked = rng.chance(0.5);
    const m: Record<string, unknown> = { type: 'publish', ...names(rng), payload: text };
    if (acked) Object.assign(m, { request_id: rng.int(1, 1_000_000), ack: 'per_message' });
    if (rng.chance(0.3))
      Object.assign(m, {
        type: 'cache_put',
        cache: 'c',
        key: 'k',
        value: text,
        ttl_ms: null,
        payload: undefined,
      });
    return { ...c, writes: [jsonText(JSON.stringify(m))] };
  },
  'wrong-tenant'(rng, c) {
    const m = validMessage(rng);
    m.tenant_id = rng.pick(['t2', 'other', 't1 ']);
    return { ...c, writes: [message(m, rng.chance(0.3))] };
  },
  'bad-name'(rng, c) {
    // Only names every reading of the rules refuses: whether "letters" admits non-ASCII ones is open.
    const bad = rng.pick(['bad name!', '.dot', '-dash', 'x'.repeat(256), '', 'a/b', 'ns\u0000x']);
    const m = validMessage(rng);
    if ('cache' in m) m.cache = bad;
    else if (rng.chance(0.5)) m.namespace = bad;
    else m.stream = bad;
    return { ...c, writes: [message(m)] };
  },
  'valid-then-garbage'(rng, c) {
    const garbage = rng.bytes(rng.int(1, 200));
    if (garbage[0] === 0x46) garbage[0] = 0x47; // never the start of "FLX1"
    return { ...c, writes: [validRequest(rng), garbage] };
  },
  'garbage-before-auth'(rng, c) {
    const variants = [
      () => notAFrame(rng.bytes(rng.int(12, 300))),
      () => validRequest(rng),
      () => message({ ...DEFAULT_AUTH }, true),
      () => jsonText(`{"type":"auth","tenant_id":${rng.int(0, 9)},"token":"x"}`),
      () => jsonText('{"type":"auth",'),
      () => binaryBatch({ requestId: 1 }),
    ];
    return { ...c, auth: false, writes: [rng.pick(variants)()], probe: false };
  },
  unidirectional(rng, c) {
    const bytes = rng.chance(0.5) ? message({ ...DEFAULT_AUTH }) : rng.bytes(rng.int(1, 100));
    return { ...c, auth: false, unidirectional: true, writes: [bytes], probe: false };
  },
};

/**
 * `bytes` made sure not to start with the FLX1 magic. At least 12 of them make a whole header the broker
 * must reject: fewer, followed by FIN, would be a stream ending mid-frame, which is answered by silence.
 */
function notAFrame(bytes: Buffer): Buffer {
  if (bytes.readUInt32BE(0) === 0x464c5831) bytes[0] ^= 0xff;
  return bytes;
}

/** Splits the bytes of a case into 1–3 writes at random points, so frames also arrive in pieces. */
function splitWrites(rng: Prng, writes: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const bytes of writes) {
    if (bytes.length < 2 || rng.chance(0.6)) {
      out.push(bytes);
      continue;
    }
    const cut = rng.int(1, bytes.length - 1);
    out.push(bytes.subarray(0, cut), bytes.subarray(cut));
  }
  return out;
}

function names(rng: Prng): Record<string, string> {
  return { tenant_id: 't1', namespace: 'hostile', stream: `flood-${rng.int(0, 3)}` };
}

/** A valid request message (publish, batch, cache, subscribe) on the hostile namespace. */
function validMessage(rng: Prng): Record<string, unknown> {
  const requestId = rng.int(1, 1_000_000);
  const payload = rng.bytes(rng.int(0, 64));
  switch (rng.int(0, 5)) {
    case 0:
      return { type: 'publish', ...names(rng), payload };
    case 1:
      return { type: 'publish', ...names(rng), payload, request_id: requestId, ack: 'per_message' };
    case 2:
      return {
        type: 'publish_batch',
        ...names(rng),
        payloads: [payload, payload],
        request_id: requestId,
        ack: 'per_batch',
      };
    case 3: {
      const { stream: _stream, ...rest } = names(rng);
      return {
        type: 'cache_put',
        ...rest,
        cache: 'flood',
        key: `k${rng.int(0, 15)}`,
        value: payload,
        request_id: requestId,
        ttl_ms: 60_000,
      };
    }
    case 4: {
      const { stream: _stream, ...rest } = names(rng);
      return { type: 'cache_get', ...rest, cache: 'flood', key: `k${rng.int(0, 15)}`, request_id: requestId };
    }
    default:
      return { type: 'subscribe', ...names(rng) };
  }
}

/** A valid request frame in any encoding: JSON, MessagePack or binary batch. */
function validRequest(rng: Prng): Buffer {
  const roll = rng.int(0, 9);
  if (roll < 2) {
    return binaryBatch({
      requestId: rng.chance(0.5) ? rng.int(1, 1_000_000) : undefined,
      stream: names(rng).stream,
      payloads: [rng.bytes(rng.int(0, 32)), rng.bytes(rng.int(0, 32))],
    });
  }
  return message(validMessage(rng), roll < 4);
}
