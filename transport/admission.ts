// Which new connections a server endpoint takes on: bounds on live connections (in total and per source
// address) and on the rate of new handshakes. Counters only, consulted before any quiche state exists.
import { performance } from 'node:perf_hooks';
import { TransportSettingsError } from './errors.js';

/** Server limits on new connections; each unset one is unbounded (0 for the handshake timeout: none). */
export interface AdmissionLimits {
  /** Live connections (handshaking ones included) beyond which a new one is refused. */
  readonly maxConnections?: number;
  /** Live connections from one source IP address beyond which another from it is refused. */
  readonly maxConnectionsPerAddress?: number;
  /** New handshakes started per second (a token bucket holding one second's worth); the excess is dropped. */
  readonly maxHandshakesPerSecond?: number;
  /** A connection whose handshake has not completed this many ms after its first Initial is dropped. */
  readonly handshakeTimeoutMs?: number;
}

/** Why a new connection is refused before its handshake starts. */
export type AdmissionRefusal = 'connection_limit' | 'address_limit';

const LIMIT_NAMES = [
  'maxConnections',
  'maxConnectionsPerAddress',
  'maxHandshakesPerSecond',
  'handshakeTimeoutMs',
] as const;

function checked(limits: AdmissionLimits): Required<AdmissionLimits> {
  for (const name of LIMIT_NAMES) {
    const v = limits[name];
    if (v === undefined) continue;
    const min = name === 'handshakeTimeoutMs' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new TransportSettingsError(name, v, `an integer of at least ${min}`);
    }
  }
  return {
    maxConnections: limits.maxConnections ?? Infinity,
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress ?? Infinity,
    maxHandshakesPerSecond: limits.maxHandshakesPerSecond ?? Infinity,
    handshakeTimeoutMs: limits.handshakeTimeoutMs ?? 0,
  };
}

export class Admission {
  readonly limits: Required<AdmissionLimits>;
  private live = 0;
  private readonly byAddress = new Map<string, number>();
  private tokens: number;
  private refilledAt = performance.now();

  constructor(limits: AdmissionLimits = {}) {
    this.limits = checked(limits);
    this.tokens = this.limits.maxHandshakesPerSecond;
  }

  /** Why a new connection from `host` would pass a connection limit, or null when it would not. */
  limitRefusal(host: string): AdmissionRefusal | null {
    const l = this.limits;
    if (this.live >= l.maxConnections) return 'connection_limit';
    if ((this.byAddress.get(host) ?? 0) >= l.maxConnectionsPerAddress) return 'address_limit';
    return null;
  }

  /** A connection from `host` now holds a slot. */
  admitted(host: string): void {
    this.live++;
    if (this.limits.maxConnectionsPerAddress !== Infinity)
      this.byAddress.set(host, (this.byAddress.get(host) ?? 0) + 1);
  }

  /** A connection from `host` let go of its slot. */
  released(host: string): void {
    this.live--;
    if (this.limits.maxConnectionsPerAddress === Infinity) return;
    const n = (this.byAddress.get(host) ?? 1) - 1;
    if (n === 0) this.byAddress.delete(host);
    else this.byAddress.set(host, n);
  }

  /** Takes one new handshake from the per-second budget; false when it is spent. */
  takeHandshakeToken(): boolean {
    const rate = this.limits.maxHandshakesPerSecond;
    if (rate === Infinity) return true;
    const now = performance.now();
    // Refilled continuously at `rate` per second, holding at most one second's worth (the burst).
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
