/**
 * Framing attacks: random and mutated headers (magic, version, flags, lengths), known flag bits in
 * combinations with no layout, lengths that lie, frames cut short, garbage after a valid frame.
 */
import fc from 'fast-check';
import { HEADER_BYTES, MAGIC, VERSION } from '../../../wire/index.js';
import {
  INTERESTING_FLAGS,
  bufferOf,
  frameOf,
  hostileFrame,
  interestingLengths,
  rawHeader,
  type HostileFrame,
  type HostileTarget,
} from './frames.js';
import { arbValidRequest } from './valid.js';

export function arbFlags(): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...INTERESTING_FLAGS) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  );
}

/** A header with every field random or off by a little, and some payload that may not match it. */
export function arbRandomHeader(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  const magic = fc.oneof(
    fc.constant(MAGIC),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.tuple(fc.nat({ max: 3 }), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
      const m = Buffer.alloc(4);
      m.writeUInt32BE(MAGIC);
      m[i] = b;
      return m.readUInt32BE(0);
    }),
  );
  const version = fc.oneof(
    fc.constantFrom(VERSION, 0, 2, 0x0100, 0xffff),
    fc.integer({ min: 0, max: 0xffff }),
  );
  return fc
    .tuple(
      magic,
      version,
      arbFlags(),
      fc.oneof(fc.constant(-1), fc.constantFrom(...interestingLengths(target)), fc.nat({ max: 256 })),
      fc.uint8Array({ maxLength: 64 }),
    )
    .map(([m, v, flags, length, payload]) => {
      const declared = length < 0 ? payload.length : length;
      return hostileFrame('random-header', Buffer.concat([rawHeader(flags, declared, m, v), payload]));
    });
}

/** A valid request whose header has one field (magic, version, flags or length) changed. */
export function arbMutatedHeader(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(arbValidRequest(target), fc.nat({ max: HEADER_BYTES - 1 }), fc.integer({ min: 0, max: 255 }))
    .map(([valid, at, byte]) => {
      const bytes = Buffer.from(valid.bytes);
      bytes[at] = byte === bytes[at] ? byte ^ 0xff : byte;
      return hostileFrame('mutated-header', bytes);
    });
}

/** A valid request's payload under other flags: known bits in layouts that do not exist, unknown bits. */
export function arbFlagsFrame(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(arbValidRequest(target), arbFlags())
    .map(([valid, flags]) => hostileFrame('flags', frameOf(flags, valid.bytes.subarray(HEADER_BYTES))));
}

/** A valid request whose length field lies: a little, a lot, zero, around the frame limit. */
export function arbLengthLie(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(
      arbValidRequest(target),
      fc.oneof(
        fc.integer({ min: -16, max: 16 }),
        fc.constantFrom(...interestingLengths(target).map((n) => ({ absolute: n }))),
      ),
    )
    .map(([valid, lie]) => {
      const bytes = Buffer.from(valid.bytes);
      const actual = bytes.length - HEADER_BYTES;
      const declared = typeof lie === 'number' ? Math.max(0, actual + (lie === 0 ? 1 : lie)) : lie.absolute;
      bytes.writeUInt32BE(declared >>> 0, 8);
      return hostileFrame('length-lie', bytes);
    });
}

/** A valid request cut short anywhere, header included. */
export function arbTruncated(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(arbValidRequest(target), fc.nat({ max: 1 << 16 }))
    .map(([valid, cut]) => hostileFrame('truncated', valid.bytes.subarray(0, cut % valid.bytes.length)));
}

/** Random bytes: mostly not a frame at all. */
export function arbGarbage(): fc.Arbitrary<HostileFrame> {
  return fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => hostileFrame('garbage', bufferOf(b)));
}

/** A valid request followed by random bytes. */
export function arbValidThenGarbage(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(arbValidRequest(target), fc.uint8Array({ minLength: 1, maxLength: 48 }))
    .map(([valid, garbage]) => hostileFrame('valid-then-garbage', Buffer.concat([valid.bytes, garbage])));
}
