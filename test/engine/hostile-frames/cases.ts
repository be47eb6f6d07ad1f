/**
 * Whole cases: every class of hostile frame together, the chunks a case's bytes are delivered in, and
 * the case itself (an auth or not, the frames, FIN or not), including garbage before auth.
 */
import fc from 'fast-check';
import {
  arbAuthOffer,
  authFrame,
  hostileFrame,
  type AuthOffer,
  type HostileFrame,
  type HostileTarget,
} from './frames.js';
import { arbBinaryBatchBomb } from './binary.js';
import { arbDeepJson, arbHugeJson, arbIllFormedText, arbInvalidUtf8 } from './json.js';
import { arbMsgpackBomb } from './msgpack.js';
import { arbOutOfRange, arbUnknownType } from './messages.js';
import {
  arbFlagsFrame,
  arbGarbage,
  arbLengthLie,
  arbMutatedHeader,
  arbRandomHeader,
  arbTruncated,
  arbValidThenGarbage,
} from './headers.js';
import { arbMutatedValid, arbValidRequest } from './valid.js';

/** Every class above, weighted so the cheap, varied classes dominate and the large ones stay rare. */
export function arbHostileFrame(target: HostileTarget): fc.Arbitrary<HostileFrame> {
  return fc.oneof(
    { weight: 6, arbitrary: arbMutatedValid(target) },
    { weight: 2, arbitrary: arbRandomHeader(target) },
    { weight: 2, arbitrary: arbMutatedHeader(target) },
    { weight: 2, arbitrary: arbFlagsFrame(target) },
    { weight: 1, arbitrary: arbLengthLie(target) },
    { weight: 1, arbitrary: arbTruncated(target) },
    { weight: 3, arbitrary: arbBinaryBatchBomb(target) },
    { weight: 2, arbitrary: arbInvalidUtf8(target) },
    { weight: 2, arbitrary: arbIllFormedText(target) },
    { weight: 1, arbitrary: arbDeepJson(target) },
    { weight: 1, arbitrary: arbHugeJson(target) },
    { weight: 3, arbitrary: arbMsgpackBomb(target) },
    { weight: 2, arbitrary: arbOutOfRange(target) },
    { weight: 2, arbitrary: arbUnknownType(target) },
    { weight: 1, arbitrary: arbValidThenGarbage(target) },
    { weight: 1, arbitrary: arbGarbage() },
    { weight: 2, arbitrary: arbValidRequest(target).map((v) => hostileFrame('valid', v.bytes)) },
  );
}

/** Chunk sizes the bytes of a case are delivered in, cycled: single bytes, header-sized, large. */
export function arbChunking(): fc.Arbitrary<readonly number[]> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant([Infinity]) },
    {
      weight: 3,
      arbitrary: fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 4096 })), {
        minLength: 1,
        maxLength: 8,
      }),
    },
    { weight: 1, arbitrary: fc.constant([1]) },
  );
}

/**
 * `bytes` split by `sizes` (cycled), in at most `maxChunks` chunks: a large frame is cut at random places
 * too, without costing a call per byte.
 */
export function splitIntoChunks(bytes: Buffer, sizes: readonly number[], maxChunks = 256): Buffer[] {
  const chunks: Buffer[] = [];
  const least = Math.ceil(bytes.length / maxChunks);
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    const end = Math.min(bytes.length, at + Math.max(1, least, size));
    chunks.push(bytes.subarray(at, end));
    at = end;
  }
  return chunks;
}

/** What one client stream sends: an auth (or not), frames, in chunks, with or without FIN at the end. */
export interface HostileCase {
  /** Null: the frames start without an auth (garbage before auth, or a late auth among them). */
  readonly auth: AuthOffer | null;
  readonly frames: readonly HostileFrame[];
  readonly chunks: readonly number[];
  readonly fin: boolean;
}

/**
 * A case of `frames` after an auth; one in eight starts unauthenticated instead (the frames then come
 * before any auth, sometimes followed by a valid one).
 */
export function arbHostileCase(
  target: HostileTarget,
  frame: fc.Arbitrary<HostileFrame>,
  options: { minFrames?: number; maxFrames?: number } = {},
): fc.Arbitrary<HostileCase> {
  const frames = fc.array(frame, { minLength: options.minFrames ?? 1, maxLength: options.maxFrames ?? 12 });
  return fc.record({
    auth: fc.oneof({ weight: 7, arbitrary: arbAuthOffer() }, { weight: 1, arbitrary: fc.constant(null) }),
    frames,
    chunks: arbChunking(),
    fin: fc.boolean(),
  });
}

/** Garbage and then a valid auth: the broker must refuse the stream at the garbage, not after. */
export function arbGarbageBeforeAuth(target: HostileTarget): fc.Arbitrary<HostileCase> {
  return fc.record({
    auth: fc.constant(null),
    frames: fc
      .tuple(
        fc.oneof(arbGarbage(), arbHostileFrame(target)),
        fc.array(arbHostileFrame(target), { maxLength: 3 }),
      )
      .map(([garbage, rest]) => [garbage, hostileFrame('valid', authFrame(target.tenant)), ...rest]),
    chunks: arbChunking(),
    fin: fc.boolean(),
  });
}

/** The bytes a case sends, auth first. */
export function caseBytes(target: HostileTarget, c: HostileCase): Buffer {
  const parts = c.frames.map((f) => f.bytes);
  if (c.auth !== null) parts.unshift(authFrame(target.tenant, c.auth));
  return Buffer.concat(parts);
}
