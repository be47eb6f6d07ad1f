// Stateless reset (RFC 9000 §10.3): a server that lost a connection's state — it restarted, or forgot the
// connection — answers that connection's packets with a datagram ending in the connection's reset token, so
// the peer learns at once instead of after its idle timeout. The token must be one the server can compute
// again without state: it is an HMAC of the connection ID under a key, and a key that survives restarts
// (configured by the application) makes the tokens survive them too.
import { randomFillSync } from 'node:crypto';
import { hmacSha256 } from './hmac.js';

export const RESET_TOKEN_BYTES = 16;
/** The least key material accepted: an HMAC-SHA256 key shorter than this would be guessable. */
export const MIN_RESET_KEY_BYTES = 16;
/** RFC 9000 §10.3: at least 5 bytes (fixed bits and 38 unpredictable bits) before the 16-byte token. */
const MIN_RESET_DATAGRAM = 21;
/** RFC 9000 §10.3: a reset to a datagram above this may be this long; to a shorter one, one byte shorter. */
const RESET_DATAGRAM = 43;

export class StatelessResetKey {
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length < MIN_RESET_KEY_BYTES)
      throw new RangeError(`a stateless reset key needs at least ${MIN_RESET_KEY_BYTES} bytes`);
    this.key = Buffer.from(key);
  }

  /** The token of the connection whose ID is `cid`: what the server announces, and what a reset ends with. */
  token(cid: Uint8Array): Buffer {
    return hmacSha256(this.key, cid).subarray(0, RESET_TOKEN_BYTES);
  }

  /** The token as quiche takes it (a u128 read big-endian, as it is written on the wire). */
  tokenValue(cid: Uint8Array): bigint {
    return BigInt(`0x${this.token(cid).toString('hex')}`);
  }

  /**
   * The stateless reset answering a short-header datagram of `triggerLength` bytes addressed to `cid`, or
   * null when the trigger is too short to answer (a reset must be shorter than what caused it, so two
   * endpoints that have both lost state cannot keep resetting each other).
   */
  resetFor(cid: Uint8Array, triggerLength: number): Buffer | null {
    const length = Math.min(triggerLength - 1, RESET_DATAGRAM);
    if (length < MIN_RESET_DATAGRAM) return null;
    const packet = randomFillSync(Buffer.allocUnsafe(length));
    // A short header: form bit 0, fixed bit 1, the rest unpredictable, as any 1-RTT packet looks.
    packet[0] = (packet[0]! & 0x3f) | 0x40;
    this.token(cid).copy(packet, length - RESET_TOKEN_BYTES);
    return packet;
  }
}
