// What an endpoint did with datagrams that matched none of its connections: plain counters, cheap to
// bump per datagram, for an operator's metrics (a garbage flood shows up here, not in any connection).

export const DROP_REASONS = [
  /** Too short for its own header, or lengths inside it run past the datagram. */
  'malformed',
  /** A short-header packet (or, on a client, any packet) for a connection ID we do not have. */
  'unknown_connection',
  /** A long header of a version we do not speak (answered with Version Negotiation when allowed). */
  'unsupported_version',
  /** A long header other than Initial (Handshake, 0-RTT, Retry, fixed bit clear) for no connection. */
  'not_initial',
  /** An Initial in a datagram below 1200 bytes, or with a DCID below 8 bytes (RFC 9000 §14.1, §7.2). */
  'small_initial',
  /** An Initial whose payload fails authentication with the keys its DCID gives. */
  'undecryptable',
  /** A new connection while the endpoint is closing or told to stop accepting. */
  'not_accepting',
  /** A new connection while too many handshakes are in progress. */
  'handshake_limit',
  /** A new connection while the endpoint holds maxConnections (answered with CONNECTION_REFUSED). */
  'connection_limit',
  /** A new connection from an address holding maxConnectionsPerAddress (answered with CONNECTION_REFUSED). */
  'address_limit',
  /** A new connection past maxHandshakesPerSecond (dropped unanswered). */
  'handshake_rate',
  /** An Initial whose token is not a fresh Retry token of this endpoint for this address (forged, replayed, stale). */
  'invalid_token',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface DatagramStats {
  /** Datagrams dropped before any connection saw them, by reason. */
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Version Negotiation packets sent (at most a fixed number per second). */
  readonly versionNegotiations: number;
  /**
   * Handshakes refused at the client's first flight, with a CONNECTION_CLOSE and no state kept:
   * a wrong or missing ALPN (TLS alert no_application_protocol) and other TLS or protocol errors in it.
   */
  readonly handshakesRefused: number;
  /** Handshakes dropped, their slots freed, for not completing within handshakeTimeoutMs. */
  readonly handshakesTimedOut: number;
  /** Retry packets sent: new clients asked to prove their address before any handshake state exists. */
  readonly retriesSent: number;
  /** CONNECTION_CLOSE (CONNECTION_REFUSED) answers to Initials refused by a connection limit. */
  readonly refusalsSent: number;
  /** New connections whose address a Retry token proved. */
  readonly retriesValidated: number;
  /** Stateless resets sent to packets of connections this endpoint does not have (at most a fixed number per second). */
  readonly statelessResetsSent: number;
  /** Connections closed by the write deadline: silent peers with bytes waiting for them (writeDeadlineMs). */
  readonly writeDeadlineCloses: number;
}

/** Mutable counters behind an endpoint's DatagramStats. */
export class DatagramCounters {
  readonly dropped: Record<DropReason, number> = Object.fromEntries(
    DROP_REASONS.map((r) => [r, 0]),
  ) as Record<DropReason, number>;
  versionNegotiations = 0;
  handshakesRefused = 0;
  handshakesTimedOut = 0;
  retriesSent = 0;
  refusalsSent = 0;
  retriesValidated = 0;
  statelessResetsSent = 0;
  writeDeadlineCloses = 0;

  snapshot(): DatagramStats {
    return {
      dropped: { ...this.dropped },
      versionNegotiations: this.versionNegotiations,
      handshakesRefused: this.handshakesRefused,
      handshakesTimedOut: this.handshakesTimedOut,
      retriesSent: this.retriesSent,
      refusalsSent: this.refusalsSent,
      retriesValidated: this.retriesValidated,
      statelessResetsSent: this.statelessResetsSent,
      writeDeadlineCloses: this.writeDeadlineCloses,
    };
  }
}
