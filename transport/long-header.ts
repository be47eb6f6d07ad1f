// Reading a long-header packet's plain-text fields, for datagrams that match no connection: everything
// here is bounds checks and byte reads, so garbage is told from a plausible client Initial before the
// endpoint creates a connection or does any cryptography.

/** QUIC version 1 (RFC 9000), the only version quiche 0.18 speaks. */
export const QUIC_V1 = 0x0000_0001;
/** RFC 9000 §17.2: connection IDs are at most 20 bytes in version 1. */
export const MAX_CID_LEN = 20;
/** RFC 9000 §14.1: a datagram carrying a client's Initial is at least 1200 bytes. */
export const MIN_INITIAL_DATAGRAM = 1200;
/** RFC 9000 §7.2: the DCID of a client's first Initial is at least 8 bytes. */
export const MIN_INITIAL_DCID_LEN = 8;
/** Long-header packet types of version 1 (the two type bits of the first byte). */
export const PACKET_INITIAL = 0;

// Offset of the DCID in every long header (RFC 8999 §5.1): flags(1) version(4) dcid_len(1).
export const DCID_OFFSET = 6;
// AEAD tag (16) plus the 4 bytes the header-protection sample starts after (RFC 9001 §5.4.2).
const MIN_INITIAL_LENGTH = 20;

/**
 * The fields of one long header, filled by read() and readInitial(). One instance is reused for every
 * datagram, so reading allocates nothing.
 */
export class LongHeader {
  version = 0;
  /** The two type bits (version 1 meaning: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry). */
  type = 0;
  /** The fixed bit (0x40), which version 1 requires to be set. */
  fixedBit = false;
  dcidLen = 0;
  scidOffset = 0;
  scidLen = 0;
  /** Initial only: where its token starts, and its length (0: no token). */
  tokenOffset = 0;
  tokenLen = 0;
  /** Initial only: where the (protected) packet number starts. */
  pnOffset = 0;
  /** Initial only: where the packet ends (pnOffset + its Length field); later bytes are other packets. */
  packetEnd = 0;

  /**
   * Reads the version-independent fields (RFC 8999): version and both connection IDs, which must fit
   * the datagram and be at most 20 bytes. Returns false when they do not.
   */
  read(msg: Buffer): boolean {
    if (msg.length < DCID_OFFSET + 1) return false;
    const dcidLen = msg[5]!;
    if (dcidLen > MAX_CID_LEN) return false;
    const scidLenAt = DCID_OFFSET + dcidLen;
    if (scidLenAt >= msg.length) return false;
    const scidLen = msg[scidLenAt]!;
    if (scidLen > MAX_CID_LEN || scidLenAt + 1 + scidLen > msg.length) return false;
    const first = msg[0]!;
    this.version = msg.readUInt32BE(1);
    this.type = (first >> 4) & 3;
    this.fixedBit = (first & 0x40) !== 0;
    this.dcidLen = dcidLen;
    this.scidOffset = scidLenAt + 1;
    this.scidLen = scidLen;
    return true;
  }

  /**
   * After read(), for a version 1 Initial (RFC 9000 §17.2.2): the token and the Length field must fit
   * the datagram, and the packet must be long enough to hold a header-protection sample and an AEAD tag.
   * The token's content is not judged here (transport/address-validation.ts does that).
   */
  readInitial(msg: Buffer): boolean {
    let o = this.scidOffset + this.scidLen;
    const tokenLen = readVarint(msg, o);
    if (tokenLen < 0) return false;
    o += varintSize(msg[o]!);
    this.tokenOffset = o;
    this.tokenLen = tokenLen;
    o += tokenLen;
    const length = readVarint(msg, o);
    if (length < MIN_INITIAL_LENGTH) return false;
    o += varintSize(msg[o]!);
    if (o + length > msg.length) return false;
    this.pnOffset = o;
    this.packetEnd = o + length;
    return true;
  }
}

function varintSize(first: number): number {
  return 1 << (first >> 6);
}

/** A QUIC variable-length integer at `o` (RFC 9000 §16), or -1 when it runs past the end. */
function readVarint(msg: Buffer, o: number): number {
  if (o >= msg.length) return -1;
  const size = varintSize(msg[o]!);
  if (o + size > msg.length) return -1;
  let value = msg[o]! & 0x3f;
  // Eight-byte values exceed 2^53 only beyond any datagram size, and are rejected by the bounds checks.
  for (let i = 1; i < size; i++) value = value * 256 + msg[o + i]!;
  return value;
}
