/**
 * UDP datagrams that belong to no connection, for the flood next to the hostile-frame run: random bytes,
 * forged short-header packets, fake Initials (long header, QUIC v1, ≥1200 bytes, random connection IDs,
 * an undecryptable payload), long headers of other types and of unknown versions. None is a valid QUIC
 * packet for any connection the broker has.
 */
import { CID_LEN } from '../../transport/index.js';
import type { Prng } from './prng.js';

export const DATAGRAM_KINDS = [
  'garbage',
  'short-header',
  'fake-initial',
  'long-header-other-type',
  'unknown-version',
] as const;
export type DatagramKind = (typeof DATAGRAM_KINDS)[number];

const WEIGHTS: readonly (readonly [number, DatagramKind])[] = [
  [25, 'garbage'],
  [30, 'short-header'],
  [30, 'fake-initial'],
  [10, 'long-header-other-type'],
  [5, 'unknown-version'],
];

// RFC 9000 §14.1: a client's Initial is padded to at least 1200 bytes; below that a server drops it unread.
const MIN_INITIAL_BYTES = 1200;
const MAX_DATAGRAM_BYTES = 1350;
const QUIC_V1 = 0x00000001;

/** Random bytes handed out in slices, so a flood at thousands of datagrams a second costs little to make. */
export class RandomPool {
  private readonly pool: Buffer;

  constructor(
    private readonly rng: Prng,
    bytes = 256 * 1024,
  ) {
    this.pool = rng.bytes(bytes);
  }

  /** `length` random-looking bytes (a view: copy before changing them). */
  take(length: number): Buffer {
    const at = this.rng.int(0, this.pool.length - length);
    return this.pool.subarray(at, at + length);
  }
}

export function nextDatagram(rng: Prng, pool: RandomPool): { kind: DatagramKind; bytes: Buffer } {
  const kind = rng.weighted(WEIGHTS);
  return { kind, bytes: BUILD[kind](rng, pool) };
}

const BUILD: Record<DatagramKind, (rng: Prng, pool: RandomPool) => Buffer> = {
  garbage: (rng, pool) => Buffer.from(pool.take(rng.int(1, MAX_DATAGRAM_BYTES))),
  'short-header'(rng, pool) {
    const out = Buffer.from(pool.take(rng.int(1 + CID_LEN + 4, MAX_DATAGRAM_BYTES)));
    out[0] = 0x40 | (out[0]! & 0x3f); // short header: top bit clear, fixed bit set
    // The broker's connection IDs start with a routing slot: small ones name live slots, so the forgery
    // gets as far as the connection-ID comparison instead of failing the first lookup.
    if (rng.chance(0.7)) out.writeUInt32BE(rng.int(0, 63), 1);
    return out;
  },
  'fake-initial': (rng, pool) => longHeader(rng, pool, 0x00, QUIC_V1),
  'long-header-other-type': (rng, pool) => longHeader(rng, pool, rng.pick([0x10, 0x20, 0x30]), QUIC_V1),
  'unknown-version'(rng, pool) {
    let version = rng.u32();
    if (version === QUIC_V1 || version === 0) version = 0x1a2a3a4a; // a reserved "greasing" version
    return longHeader(rng, pool, 0x00, version);
  },
};

/**
 * A long-header packet (RFC 9000 §17.2) of `typeBits` (0x00 Initial, 0x10 0-RTT, 0x20 Handshake,
 * 0x30 Retry) and `version`, with random connection IDs, an empty token, a length field that matches,
 * and random bytes where the protected packet number and payload go.
 */
function longHeader(rng: Prng, pool: RandomPool, typeBits: number, version: number): Buffer {
  const total = rng.int(MIN_INITIAL_BYTES, MAX_DATAGRAM_BYTES);
  const dcidLength = rng.chance(0.5) ? CID_LEN : rng.int(8, 20);
  const scidLength = rng.int(0, 20);
  const out = Buffer.from(pool.take(total));
  let at = 0;
  out[at++] = 0xc0 | typeBits | rng.int(0, 3); // long header, fixed bit, type, packet-number length
  out.writeUInt32BE(version >>> 0, at);
  at += 4;
  out[at++] = dcidLength;
  at += dcidLength; // random DCID already there
  out[at++] = scidLength;
  at += scidLength;
  if (typeBits === 0x00) out[at++] = 0; // Initial: token length 0
  const rest = total - at - 2;
  out.writeUInt16BE(0x4000 | rest, at); // 2-byte varint: the packet's length
  return out;
}
