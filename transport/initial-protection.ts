// Initial packet protection without a connection: checks that a client Initial decrypts, before the
// endpoint creates a connection for it, and seals the server's answer to an Initial it refuses.
//
// Initial packets are protected with keys derived from their DCID alone (RFC 9001 §5.2), so anyone can
// check one. Letting quiche find out costs a connection (an SSL object, key derivation, the AEAD, the
// native objects' release later): ~45 µs before the datagram's own cost. This check is node:crypto
// without a connection and leaves nothing behind; quiche decrypts a genuine Initial again, one extra
// check per new connection.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { hmacSha256 } from './hmac.js';
import { DCID_OFFSET, type LongHeader } from './long-header.js';

// RFC 9001 §5.2: the version 1 initial salt.
const INITIAL_SALT_V1 = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');
const TAG_LEN = 16;
const RESERVED_BITS = 0x0c;
const SAMPLE_OFFSET = 4;
const SAMPLE_LEN = 16;

/**
 * HKDF-Expand-Label's info (RFC 8446 §7.1) with an empty context, plus HKDF-Expand's block counter 1:
 * every output here fits one SHA-256 block, so Expand is a single HMAC over this.
 */
function expandLabelInfo(label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'ascii');
  return Buffer.concat([Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([0, 1])]);
}

const CLIENT_IN = expandLabelInfo('client in', 32);
const SERVER_IN = expandLabelInfo('server in', 32);
const QUIC_KEY = expandLabelInfo('quic key', 16);
const QUIC_IV = expandLabelInfo('quic iv', 12);
const QUIC_HP = expandLabelInfo('quic hp', 16);

const hmac = (key: Buffer, data: Buffer): Buffer => hmacSha256(key, data);

interface InitialKeys {
  readonly key: Buffer;
  readonly iv: Buffer;
  readonly hp: Buffer;
}

/** RFC 9001 §5.2: one side's Initial keys, from the client's first DCID. */
function initialKeys(originalDcid: Uint8Array, side: Buffer): InitialKeys {
  const secret = hmac(hmac(INITIAL_SALT_V1, Buffer.from(originalDcid)), side);
  return {
    key: hmac(secret, QUIC_KEY).subarray(0, 16),
    iv: hmac(secret, QUIC_IV).subarray(0, 12),
    hp: hmac(secret, QUIC_HP).subarray(0, 16),
  };
}

/** The header-protection mask of a packet whose sample is `sample` (RFC 9001 §5.4.3, AES). */
function protectionMask(hp: Buffer, sample: Uint8Array): Buffer {
  return createCipheriv('aes-128-ecb', hp, null).update(sample);
}

/**
 * Whether the first packet of `msg`, a version 1 Initial whose header `h` has read (read() and
 * readInitial() returned true), passes AEAD authentication with the client's Initial keys.
 */
export function initialDecrypts(msg: Buffer, h: LongHeader): boolean {
  const { key, iv: nonce, hp } = initialKeys(msg.subarray(DCID_OFFSET, DCID_OFFSET + h.dcidLen), CLIENT_IN);

  // Header protection (RFC 9001 §5.4): the mask from a sample taken 4 bytes after the packet number's
  // start reveals the low bits of the first byte (the packet number length) and the packet number.
  const pnOffset = h.pnOffset;
  const sampleAt = pnOffset + SAMPLE_OFFSET;
  const mask = protectionMask(hp, msg.subarray(sampleAt, sampleAt + SAMPLE_LEN));
  const first = msg[0]! ^ (mask[0]! & 0x0f);
  // RFC 9000 §17.2: the reserved bits are zero in every genuine packet. Checked before the AEAD, this
  // turns away three in four forgeries for the price of the header protection alone.
  if ((first & RESERVED_BITS) !== 0) return false;
  const pnLen = (first & 3) + 1;
  const header = Buffer.from(msg.subarray(0, pnOffset + pnLen));
  header[0] = first;
  // With nothing received yet the packet number is its truncated value (RFC 9000 §A.3), which enters
  // the nonce XORed onto the IV's last bytes (RFC 9001 §5.3).
  for (let i = 0; i < pnLen; i++) {
    const byte = header[pnOffset + i]! ^ mask[1 + i]!;
    header[pnOffset + i] = byte;
    nonce[nonce.length - pnLen + i] ^= byte;
  }

  const end = h.packetEnd;
  const decipher = createDecipheriv('aes-128-gcm', key, nonce);
  decipher.setAAD(header);
  decipher.setAuthTag(msg.subarray(end - TAG_LEN, end));
  decipher.update(msg.subarray(pnOffset + pnLen, end - TAG_LEN));
  try {
    decipher.final();
    return true;
  } catch {
    return false; // authentication failed
  }
}

/** QUIC transport error CONNECTION_REFUSED (RFC 9000 §20.1): the server refuses to accept a new connection. */
export const CONNECTION_REFUSED = 0x2;
const FRAME_CONNECTION_CLOSE = 0x1c;
const MAX_REASON_BYTES = 100;

/**
 * A server Initial packet carrying only CONNECTION_CLOSE (CONNECTION_REFUSED, `reason`), sealed with the
 * server's Initial keys for the client's first DCID (RFC 9000 §10.2.3: before the handshake a refusal can
 * only be read in an Initial). The client reads it at once and fails its connect with the reason, instead
 * of retransmitting into silence until its own timeout. A few dozen bytes: no amplification.
 */
export function sealInitialRefusal(
  clientScid: Uint8Array,
  originalDcid: Uint8Array,
  serverScid: Uint8Array,
  reason: string,
): Buffer {
  const { key, iv, hp } = initialKeys(originalDcid, SERVER_IN);
  const phrase = Buffer.from(reason, 'utf8').subarray(0, MAX_REASON_BYTES);
  // CONNECTION_CLOSE: type, error code, offending frame type (0: none), reason length, reason. The first
  // three are below 64 (one-byte varints); the length may need two bytes (RFC 9000 §16).
  const reasonLength =
    phrase.length < 64 ? [phrase.length] : [0x40 | (phrase.length >> 8), phrase.length & 0xff];
  const frame = Buffer.concat([
    Buffer.from([FRAME_CONNECTION_CLOSE, CONNECTION_REFUSED, 0, ...reasonLength]),
    phrase,
  ]);
  const pnLen = 1;
  // The header-protection sample starts 4 bytes past the packet number and is 16 bytes long.
  const payload =
    frame.length + pnLen >= SAMPLE_OFFSET ? frame : Buffer.concat([frame, Buffer.alloc(SAMPLE_OFFSET)]);
  const length = pnLen + payload.length + TAG_LEN;
  const header = Buffer.concat([
    Buffer.from([0xc0 | (pnLen - 1), 0, 0, 0, 1, clientScid.length]),
    clientScid,
    Buffer.from([serverScid.length]),
    serverScid,
    // Token length 0, then Length as a two-byte varint, then packet number 0.
    Buffer.from([0, 0x40 | (length >> 8), length & 0xff, 0]),
  ]);
  const pnOffset = header.length - pnLen;
  // Packet number 0: the nonce is the IV itself.
  const cipher = createCipheriv('aes-128-gcm', key, iv);
  cipher.setAAD(header);
  const sealed = Buffer.concat([cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
  const packet = Buffer.concat([header, sealed]);
  const sampleAt = pnOffset + SAMPLE_OFFSET;
  const mask = protectionMask(hp, packet.subarray(sampleAt, sampleAt + SAMPLE_LEN));
  packet[0] = packet[0]! ^ (mask[0]! & 0x0f);
  for (let i = 0; i < pnLen; i++) packet[pnOffset + i] = packet[pnOffset + i]! ^ mask[1 + i]!;
  return packet;
}
