// Address validation with QUIC Retry (RFC 9000 §8.1.2): instead of starting a handshake for a new client's
// Initial, the server answers with a Retry carrying a token only it can make; a client that really is at its
// source address comes back with the token and only then gets a connection. A spoofed or never-finishing
// flood of Initials then costs the server one small packet each and no state at all. The token is an HMAC
// over what the server must check when it comes back: when it was made, the client's address, the
// connection ID the Retry told the client to use, and the client's original connection ID (which quiche
// needs to finish the handshake and which the token carries back, since the server keeps nothing).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TransportSettingsError } from './errors.js';
import { hmacSha256 } from './hmac.js';
import { RateEstimate } from './per-second.js';

/** always: every new client proves its address; never: none does; auto: only above a handshake rate. */
export const RETRY_MODES = ['always', 'never', 'auto'] as const;
export type RetryMode = (typeof RETRY_MODES)[number];

export interface RetryOptions {
  readonly retry?: RetryMode;
  /** auto: Retry engages while more new clients than this arrive per second (over a sliding second). */
  readonly retryAboveHandshakesPerSecond?: number;
}

/** How long a Retry token is good for: one round trip needs far less, a replay later gets nothing. */
const TOKEN_LIFETIME_MS = 10_000;
const TOKEN_MARKER = 0x52;
const MAC_BYTES = 16;
const MAX_ODCID = 20;
// marker(1) issued-at ms (6) odcid length (1) odcid (≤ 20) mac (16)
const HEADER_BYTES = 8;

export class AddressValidator {
  readonly mode: RetryMode;
  readonly aboveHandshakesPerSecond: number;
  // Tokens only need to outlive one round trip to this process: a key of this process is enough.
  private readonly key = randomBytes(32);
  private readonly demand = new RateEstimate();

  constructor(opts: RetryOptions = {}) {
    const mode = opts.retry ?? 'auto';
    if (!RETRY_MODES.includes(mode)) throw new TransportSettingsError('retry', mode, RETRY_MODES.join(', '));
    const above = opts.retryAboveHandshakesPerSecond ?? 200;
    if (!Number.isInteger(above) || above < 0)
      throw new TransportSettingsError('retryAboveHandshakesPerSecond', above, 'an integer of at least 0');
    this.mode = mode;
    this.aboveHandshakesPerSecond = above;
  }

  /**
   * Called for each new client Initial without a valid token (after it proved to be a real Initial):
   * whether to answer it with a Retry instead of starting a handshake. Counts it as demand in auto mode.
   */
  retryRequired(): boolean {
    if (this.mode === 'never') return false;
    if (this.mode === 'always') return true;
    return this.demand.note() > this.aboveHandshakesPerSecond;
  }

  /** The token a Retry sent to `clientIp` carries, for a client that used `odcid` and is told to use `retryScid`. */
  mint(clientIp: string, odcid: Uint8Array, retryScid: Uint8Array): Buffer {
    const token = Buffer.allocUnsafe(HEADER_BYTES + odcid.length + MAC_BYTES);
    token[0] = TOKEN_MARKER;
    token.writeUIntBE(Date.now(), 1, 6);
    token[7] = odcid.length;
    token.set(odcid, HEADER_BYTES);
    const body = HEADER_BYTES + odcid.length;
    this.mac(token.subarray(0, body), clientIp, retryScid).copy(token, body);
    return token;
  }

  /**
   * The original DCID a token from `clientIp` vouches for, when the Initial carrying it is addressed to the
   * Retry's connection ID (`dcid`) and the token is genuine and fresh; null otherwise.
   */
  validate(token: Uint8Array, clientIp: string, dcid: Uint8Array): Buffer | null {
    if (token.length < HEADER_BYTES + MAC_BYTES || token[0] !== TOKEN_MARKER) return null;
    const odcidLength = token[7]!;
    if (odcidLength > MAX_ODCID || token.length !== HEADER_BYTES + odcidLength + MAC_BYTES) return null;
    const t = Buffer.from(token.buffer, token.byteOffset, token.length);
    const age = Date.now() - t.readUIntBE(1, 6);
    if (age < 0 || age > TOKEN_LIFETIME_MS) return null;
    const body = HEADER_BYTES + odcidLength;
    const expected = this.mac(t.subarray(0, body), clientIp, dcid);
    if (!timingSafeEqual(expected, t.subarray(body))) return null;
    return Buffer.from(t.subarray(HEADER_BYTES, body));
  }

  private mac(body: Uint8Array, clientIp: string, retryScid: Uint8Array): Buffer {
    return hmacSha256(this.key, body, clientIp, retryScid).subarray(0, MAC_BYTES);
  }
}
