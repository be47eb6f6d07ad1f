// The garbage datagram classes the garbage benchmark floods a server with. Each class is a pool of
// pre-built datagrams, so the flooder spends its time sending, not building.
import { randomBytes } from 'node:crypto';

export const GARBAGE_CLASSES = ['random', 'short', 'initial', 'truncated'] as const;
export type GarbageClass = (typeof GARBAGE_CLASSES)[number];

export const GARBAGE_TITLES: Readonly<Record<GarbageClass, string>> = {
  random: 'random bytes, 1–1400 B',
  short: 'forged short header (unknown CID), 40–1350 B',
  initial: 'forged Initial (valid header, undecryptable), 1200–1350 B',
  truncated: 'truncated Initial (forged Initial cut to 7–1199 B)',
};

const QUIC_V1 = 1;

/** Byte source: one large random block, handed out in slices (randomBytes per datagram would be slow). */
class Noise {
  private readonly block = randomBytes(1 << 22);
  private cursor = 0;

  bytes(n: number): Buffer {
    if (this.cursor + n > this.block.length) this.cursor = 0;
    const b = Buffer.from(this.block.subarray(this.cursor, this.cursor + n));
    this.cursor += n;
    return b;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + (this.bytes(4).readUInt32BE(0) % (max - min + 1));
  }
}

/**
 * A client Initial that passes every check a server can make without keys: long header, fixed bit,
 * type Initial, version 1, a DCID of 8–20 bytes, an SCID, an empty token, a Length that matches the
 * datagram, at least 1200 bytes. Its payload is noise, so it fails decryption.
 */
function forgedInitial(noise: Noise, size: number): Buffer {
  const dcidLen = noise.int(8, 20);
  const scidLen = noise.int(0, 20);
  const b = noise.bytes(size);
  b[0] = 0xc0 | (b[0]! & 0x0f); // long header, fixed bit, type Initial; protected bits random
  b.writeUInt32BE(QUIC_V1, 1);
  b[5] = dcidLen;
  let o = 6 + dcidLen;
  b[o++] = scidLen;
  o += scidLen;
  b[o++] = 0; // token length 0: a first Initial carries no token
  b.writeUInt16BE(0x4000 | (size - o - 2), o); // Length as a 2-byte varint: the rest of the datagram
  return b;
}

function build(kind: GarbageClass, noise: Noise): Buffer {
  switch (kind) {
    case 'random':
      return noise.bytes(noise.int(1, 1400));
    case 'short': {
      const b = noise.bytes(noise.int(40, 1350));
      b[0] = 0x40 | (b[0]! & 0x3f); // short header, fixed bit set
      return b;
    }
    case 'initial':
      return forgedInitial(noise, noise.int(1200, 1350));
    case 'truncated':
      return forgedInitial(noise, 1200).subarray(0, noise.int(7, 1199));
  }
}

/** `count` datagrams of one class. */
export function garbagePool(kind: GarbageClass, count: number): Buffer[] {
  const noise = new Noise();
  const pool: Buffer[] = [];
  for (let i = 0; i < count; i++) pool.push(build(kind, noise));
  return pool;
}
