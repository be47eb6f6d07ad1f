// Checks that a client Initial decrypts, before the endpoint creates a connection for it.
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
const QUIC_KEY = expandLabelInfo('quic key', 16);
const QUIC_IV = expandLabelInfo('quic iv', 12);
const QUIC_HP = expandLabelInfo('quic hp', 16);

const hmac = (key: Buffer, data: Buffer): Buffer => hmacSha256(key, data);

/**
 * Whether the first packet of `msg`, a version 1 Initial whose header `h` has read (read() and
 * readInitial() returned true), passes AEAD authentication with the client's Initial keys.
 */
export function initialDecrypts(msg: Buffer, h: LongHeader): boolean {
  const initialSecret = hmac(INITIAL_SALT_V1, msg.subarray(DCID_OFFSET, DCID_OFFSET + h.dcidLen));
  const clientSecret = hmac(initialSecret, CLIENT_IN);
  const key = hmac(clientSecret, QUIC_KEY).subarray(0, 16);
  const nonce = hmac(clientSecret, QUIC_IV).subarray(0, 12);
  const hp = hmac(clientSecret, QUIC_HP).subarray(0, 16);

  // Header protection (RFC 9001 §5.4): the mask from a sample taken 4 bytes after the packet number's
  // start reveals the low bits of the first byte (the packet number length) and the packet number.
  const pnOffset = h.pnOffset;
  const sampleAt = pnOffset + SAMPLE_OFFSET;
  const mask = createCipheriv('aes-128-ecb', hp, null).update(msg.subarray(sampleAt, sampleAt + SAMPLE_LEN));
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
