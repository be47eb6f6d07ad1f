/** Base class of every error the transport raises, so callers can tell ours from the rest. */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * connect() found no handshake within its timeout (code `connect_timeout`). `portClosed`: the peer's port
 * answered with ICMP port unreachable (nothing listens there) rather than with silence.
 */
export class ConnectTimeoutError extends TransportError {
  override name = 'ConnectTimeoutError';
  constructor(
    message: string,
    readonly portClosed: boolean,
  ) {
    super(message, 'connect_timeout');
  }
}

/** A transport setting is out of range or of the wrong kind. */
export class TransportSettingsError extends TransportError {
  override name = 'TransportSettingsError';
  constructor(
    readonly setting: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(
      `transport setting ${setting}=${JSON.stringify(value)} is invalid: allowed ${allowed}`,
      'bad_setting',
    );
  }
}

/** The connection closed (by either side, by timeout or by error) before or while an operation ran. */
export class ConnectionClosedError extends TransportError {
  override name = 'ConnectionClosedError';
  constructor(
    message: string,
    readonly info: CloseInfo,
    code = 'connection_closed',
  ) {
    super(message, code);
  }
}

/** QUIC crypto error 0x100 + TLS alert 120 (no_application_protocol): no ALPN both sides speak. */
export const NO_APPLICATION_PROTOCOL = 0x178;

/**
 * The handshake failed because the server speaks none of the application protocols (ALPN) this client
 * offered: the server answered at once with TLS alert no_application_protocol.
 */
export class AlpnRefusedError extends ConnectionClosedError {
  override name = 'AlpnRefusedError';
  constructor(
    readonly offered: readonly string[],
    info: CloseInfo,
  ) {
    super(
      `the server refused ALPN ${offered.map((p) => JSON.stringify(p)).join(', ')}: ` +
        `TLS alert no_application_protocol (QUIC error 0x178), it speaks none of them`,
      info,
      'alpn_refused',
    );
  }
}

/** The certificate policy refused to connect (e.g. no CA for a non-loopback address). */
export class TlsPolicyError extends TransportError {
  override name = 'TlsPolicyError';
  constructor(message: string) {
    super(message, 'tls_policy');
  }
}

/** How a connection ended, as seen from this side. */
export interface CloseInfo {
  /** Application close code (isApp) or QUIC transport error code. */
  readonly code: number;
  readonly reason: string;
  /** True when the code is an application code given to close(); false for QUIC transport errors. */
  readonly isApp: boolean;
  /** True when the peer closed the connection, false when this side did (including on error). */
  readonly byPeer: boolean;
  /** True when the connection ended because the idle timeout elapsed. */
  readonly timedOut: boolean;
}

/** quiche reports stream errors as strings such as "StreamReset(99)" or "StreamStopped(7)". */
export function parseStreamError(err: unknown): { kind: string; code: number } {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^(\w+)(?:\((\d+)\))?/.exec(message);
  return { kind: m?.[1] ?? 'Unknown', code: m?.[2] !== undefined ? Number(m[2]) : 0 };
}

/** CloseInfo.reason of a connection ended by the peer's stateless reset: it restarted or forgot the connection. */
export const STATELESS_RESET_REASON = 'stateless reset';
