/**
 * Application error codes that travel in QUIC frames rather than in FLX1 frames: RESET_STREAM and
 * STOP_SENDING codes on streams, and CONNECTION_CLOSE codes. One list for broker and client, documented in
 * docs/protocol.md ("Stream and connection codes").
 */

/** Broker → client, on a stream: the stream broke the protocol (bad framing, no auth first, a unidirectional stream). */
export const STREAM_CODE_PROTOCOL_ERROR = 0x101;
/** Broker → client, on an event stream: the subscriber was evicted (slow subscriber). */
export const STREAM_CODE_SLOW_SUBSCRIBER = 0x102;
/** Broker → client, on a stream: the broker is shutting down. */
export const STREAM_CODE_SHUTDOWN = 0x103;
/** Client → broker, on a stream: the broker sent something the client cannot decode. */
export const STREAM_CODE_CLIENT_PROTOCOL_ERROR = 0x201;
/** Client → broker, on a stream: the client abandons the stream (unsubscribe, close). */
export const STREAM_CODE_CLIENT_GONE = 0x202;

/** CONNECTION_CLOSE: a graceful close (shutdown, idle); the reason text says why. */
export const CONNECTION_CODE_NO_ERROR = 0x0;
/** CONNECTION_CLOSE: the broker hit an unexpected error serving this connection and closed it alone. */
export const CONNECTION_CODE_INTERNAL_ERROR = 0x1;
/** CONNECTION_CLOSE: the broker refuses this peer (protected mode, a connection limit); the reason says which. */
export const CONNECTION_CODE_REFUSED = 0x2;
/** CONNECTION_CLOSE: the token that authenticated a stream of this connection expired (reason `token_expired`). */
export const CONNECTION_CODE_TOKEN_EXPIRED = 0x3;
/**
 * CONNECTION_CLOSE: the client sent nothing for FELIX_BROKER_WRITE_DEADLINE_MS (and left two PINGs
 * unanswered) while bytes waited for it (reason `write deadline`).
 */
export const CONNECTION_CODE_WRITE_DEADLINE = 0x4;
/**
 * CONNECTION_CLOSE: authentication is on and no stream of this connection authenticated within
 * FELIX_AUTH_TIMEOUT_MS of its handshake (reason `auth timeout`).
 */
export const CONNECTION_CODE_AUTH_TIMEOUT = 0x5;
/**
 * CONNECTION_CLOSE: streams the client reset while the broker held their bytes unread (paused) may have
 * taken half the connection's receive window for good, in the QUIC stack the broker runs on (reason
 * `receive credit stranded`). Reconnect: a new connection has its whole window.
 */
export const CONNECTION_CODE_CREDIT_STRANDED = 0x6;
