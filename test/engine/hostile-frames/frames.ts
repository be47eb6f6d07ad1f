/**
 * The common ground of the hostile-input arbitraries: what they need to know about the broker under
 * attack, the HostileFrame they yield, raw headers and frames, and the auth a hostile stream starts with.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  FEATURE_ERROR_CODES,
  FLAG_MSGPACK,
  HEADER_BYTES,
  KNOWN_FEATURES,
  KNOWN_FLAGS,
  MAGIC,
  VERSION,
  encodeJsonMessage,
  type Message,
} from '../../../wire/index.js';

export interface HostileTarget {
  /** The tenant every stream authenticates as. */
  readonly tenant: string;
  /** The broker's FELIX_MAX_FRAME_BYTES: lengths are chosen on both sides of it. */
  readonly maxFrameBytes: number;
}

/** Names the valid requests use: few, so a long run creates few streams and caches on the broker. */
export const NAMESPACES = ['ns', 'orders'] as const;
export const STREAMS = ['s', 'events', 'a.b-c_1'] as const;
export const CACHES = ['c', 'primary'] as const;

/** Flags worth trying more often than a uniform u16 would: every layout, its neighbours, unknown bits. */
export const INTERESTING_FLAGS = [
  0x0000, 0x0040, 0x0001, 0x0009, 0x0081, 0x0089, 0x0041, 0x0049, 0x0008, 0x0010, 0x0002, 0x0022, 0x0004,
  0x0024, 0x00a4, 0x0020, 0x0080, 0x00c0, 0x0003, 0x0011, 0x0100, 0x0200, 0x8000, 0x8001, 0xffff,
] as const;

/** Lengths around the places where decoders branch. */
export function interestingLengths(target: HostileTarget): number[] {
  const max = target.maxFrameBytes;
  return [
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    11,
    12,
    0x7f,
    0x80,
    0xff,
    0x100,
    0xffff,
    0x10000,
    max - 1,
    max,
    max + 1,
    0x7fffffff,
    0xffffffff,
  ];
}

// --- frames -----------------------------------------------------------------------------------------

export type HostileKind =
  | 'valid'
  | 'random-header'
  | 'mutated-header'
  | 'flags'
  | 'length-lie'
  | 'truncated'
  | 'binary-bomb'
  | 'invalid-utf8'
  | 'ill-formed-text'
  | 'deep-json'
  | 'huge-json'
  | 'msgpack-bomb'
  | 'out-of-range'
  | 'unknown-type'
  | 'valid-then-garbage'
  | 'mutated-valid'
  | 'chunked'
  | 'garbage';

/** One frame's worth of hostile bytes and the class of input it belongs to. */
export interface HostileFrame {
  readonly kind: HostileKind;
  readonly bytes: Buffer;
}

/** A HostileFrame that prints as its kind and hex, so a counterexample can be replayed by hand. */
export function hostileFrame(kind: HostileKind, bytes: Buffer): HostileFrame {
  return {
    kind,
    bytes,
    [fc.toStringMethod]: () => `${kind}(${describeBytes(bytes)})`,
  } as HostileFrame;
}

/** Hex of `bytes`, shortened past 4 KiB (the length then says how much was left out). */
export function describeBytes(bytes: Uint8Array, limit = 4096): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, limit)).toString('hex');
  return bytes.length <= limit ? hex : `${hex}…(${bytes.length} bytes)`;
}

/** A 12-byte header with any field, valid or not. */
export function rawHeader(flags: number, length: number, magic = MAGIC, version = VERSION): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(magic >>> 0, 0);
  header.writeUInt16BE(version & 0xffff, 4);
  header.writeUInt16BE(flags & 0xffff, 6);
  header.writeUInt32BE(length >>> 0, 8);
  return header;
}

/** A correctly framed payload under any flags. */
export function frameOf(flags: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return Buffer.concat([rawHeader(flags, body.length), body]);
}

// --- auth -------------------------------------------------------------------------------------------

export interface AuthOffer {
  /** Absent: a client from before negotiation. */
  readonly client_flags?: number;
  readonly client_features?: number;
}

/** The offer the suites use unless a case says otherwise: JSON replies, codes on errors. */
export const DEFAULT_OFFER: AuthOffer = {
  client_flags: KNOWN_FLAGS & ~FLAG_MSGPACK,
  client_features: KNOWN_FEATURES,
};

export function authFrame(tenant: string, offer: AuthOffer = DEFAULT_OFFER): Buffer {
  const auth: Message = { type: 'auth', tenant_id: tenant, token: 'hostile' };
  if (offer.client_flags !== undefined) auth.client_flags = offer.client_flags;
  if (offer.client_features !== undefined) auth.client_features = offer.client_features;
  return encodeJsonMessage(auth);
}

/** Offers a case's auth may make: MessagePack replies or not, error codes or not, no flags at all. */
export function arbAuthOffer(): fc.Arbitrary<AuthOffer> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(DEFAULT_OFFER) },
    {
      weight: 3,
      arbitrary: fc.record({
        client_flags: fc.oneof(
          fc.constantFrom(0, 0x07, 0x19, 0x40, 0x47, KNOWN_FLAGS),
          fc.integer({ min: 0, max: 0xffff }),
        ),
        client_features: fc.constantFrom(0, FEATURE_ERROR_CODES, KNOWN_FEATURES),
      }),
    },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

/** A Buffer over the same bytes (fast-check makes Uint8Arrays). */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** The fields of `fields` that are set: optional message fields are absent, never undefined. */
export function optional<T extends Record<string, unknown>>(fields: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) (out as Record<string, unknown>)[name] = value;
  }
  return out;
}

/** MessagePack as the wire codec writes it (no msgpackr records), for hand-assembled payloads. */
export const packr = new Packr({ useRecords: false, variableMapSize: true });
