// Checks that a client Initial decrypts, before the endpoint creates a connection for it.
//
// Initial packets are protected with keys derived from their DCID alone (RFC 9001 §5.2), so anyone can
// check one. Letting quiche find out costs a connection (an SSL object, key derivation, the AEAD, the
// native objects' release later): ~45 µs before the datagram's own cost. This check is node:crypto
// without a connection and leaves nothing behind; quiche decrypts a genuine Initial again, one extra
// check per new connection.
import * as nodeCrypto from 'node:crypto';
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
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

const SHA256_BLOCK = 64;
const SHA256_LEN = 32;
// HMAC's two padded inputs, reused: every key here is at most one block (salt 20, secrets 32 bytes),
// and every message fits the room left after the pad (a DCID ≤ 20 bytes, an info ≤ 22 bytes).
const inner = Buffer.alloc(SHA256_BLOCK + 32);
const outer = Buffer.alloc(SHA256_BLOCK + SHA256_LEN);

// crypto.hash (Node 20.12 and later), read off the namespace: a named import would fail to link on an
// older Node, which gets createHmac instead.
const hash = nodeCrypto.hash as typeof nodeCrypto.hash | undefined;

/**
 * HMAC-SHA256 (RFC 2104) as two one-shot hashes: about half the cost of createHmac, and no native
 * object per call for the garbage collector.
 */
const hmac: (key: Buffer, data: Buffer) => Buffer =
  hash !== undefined
    ? (key, data) => {
        for (let i = 0; i < SHA256_BLOCK; i++) {
          const k = i < key.length ? key[i]! : 0;
          inner[i] = k ^ 0x36;
          outer[i] = k ^ 0x5c;
        }
        data.copy(inner, SHA256_BLOCK);
        hash('sha256', inner.subarray(0, SHA256_BLOCK + data.length), 'buffer').copy(outer, SHA256_BLOCK);
        return hash('sha256', outer, 'buffer');
      }
    : (key, data) => createHmac('sha256', key).update(data).digest();

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
