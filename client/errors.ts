/**
 * Every failure the SDK reports is a FelixError with a machine-readable `code`, so applications branch on
 * the code (retry, resubscribe from `available`, give up) and never parse messages.
 */
import { ConnectionClosedError, TransportError } from '../transport/index.js';
import { defaultRetryClass } from '../wire/index.js';
import type { ErrorCode, ErrorDetail, RetryClass, TypedErrorFields } from '../wire/index.js';

export type FelixErrorCode =
  /** The operation needs a connected client: connect() has not finished, or close() has begun. */
  | 'not_connected'
  /** The broker could not be reached, or the QUIC/TLS handshake failed (wrong address, port, certificate). */
  | 'connect_failed'
  /** The broker refused the credentials (`auth` answered with `error`). */
  | 'auth_failed'
  /** A connection or stream ended while the operation was in flight; its outcome is unknown. */
  | 'connection_closed'
  /** No answer within the request timeout; the outcome is unknown (the publish may still be delivered). */
  | 'timeout'
  /** The broker answered a publish with publish_error (see `brokerCode`, `retry`). */
  | 'publish_rejected'
  /** The broker answered with a generic `error` (e.g. to a subscribe). */
  | 'broker_error'
  /** `start: {offset}` is older than what the broker retains; `available` is the oldest retained offset. */
  | 'cursor_too_old'
  /** `start: {offset}` is beyond the stream's tail; `available` is the tail. */
  | 'cursor_in_future'
  /**
   * The broker ended the subscription because it did not keep up (its queue policy's last resort); `reason`
   * says why (`slow_consumer`).
   */
  | 'subscription_evicted'
  /** A payload the broker cannot take: larger than a frame, and the broker has no chunked publish. */
  | 'payload_too_large'
  /** A local bound was reached (e.g. FELIX_EVENT_ROUTER_MAX_PENDING). */
  | 'limit_exceeded'
  /** The broker sent something this client cannot make sense of. */
  | 'protocol_error'
  /** A bad argument or connect option. */
  | 'invalid_argument';

/**
 * What became of a publishBatch sent as several frames when it was rejected: the broker appends or refuses
 * each frame on its own (README, Publishing).
 */
export interface BatchProgress {
  /** How many payloads the batch had. */
  readonly payloads: number;
  /** The indexes (into the batch, ascending) of the payloads the broker acknowledged: appended. */
  readonly acked: readonly number[];
}

export interface FelixErrorOptions {
  cause?: unknown;
  /** The broker's error code (`error.code` / `publish_error.code`), when it sent one. */
  brokerCode?: ErrorCode;
  /**
   * What the application may do about it (docs/protocol.md, Retry classes); absent: the code's own class
   * (clientRetryClass).
   */
  retry?: RetryClass;
  detail?: ErrorDetail;
  /** Cursor errors: the offset asked for and the nearest one the broker can serve. */
  requested?: number;
  available?: number;
  /** A publishBatch sent as several frames: which of its payloads were appended. */
  batch?: BatchProgress;
}

export class FelixError extends Error {
  override readonly name = 'FelixError';
  readonly code: FelixErrorCode;
  readonly brokerCode: ErrorCode | undefined;
  readonly retry: RetryClass | undefined;
  readonly detail: ErrorDetail | undefined;
  readonly requested: number | undefined;
  readonly available: number | undefined;
  /** A publishBatch sent as several frames: which of its payloads were appended (absent otherwise). */
  readonly batch: BatchProgress | undefined;

  constructor(code: FelixErrorCode, message: string, options: FelixErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.brokerCode = options.brokerCode;
    this.retry = options.retry ?? clientRetryClass(code);
    this.detail = options.detail;
    this.requested = options.requested;
    this.available = options.available;
    this.batch = options.batch;
  }

  /** Why, in a word, when the broker said (`detail.reason`): e.g. `slow_consumer` on subscription_evicted. */
  get reason(): string | undefined {
    return this.detail?.reason;
  }
}

/**
 * The class of an error the SDK made itself, when the site does not say. A request that timed out or whose
 * stream or connection ended unanswered may have been applied (`outcome_unknown`); a site that knows the
 * request was never sent says `retry` instead (withRetry). A request the SDK refuses before sending fails
 * the same way every time (`fatal`). Other codes carry the broker's class, or none.
 */
export function clientRetryClass(code: FelixErrorCode): RetryClass | undefined {
  switch (code) {
    // Unanswered, or the stream it came on was ended for bytes the SDK could not read (protocol_error):
    // what was in flight there may have been applied.
    case 'timeout':
    case 'connection_closed':
    case 'protocol_error':
      return 'outcome_unknown';
    // Nothing reached a broker: trying again (later) is safe.
    case 'connect_failed':
      return 'retry';
    // A slow consumer may subscribe again once it keeps up (as the broker classes the eviction); a local
    // bound (the broker's own limit_exceeded carries its class) has room again once what holds it is done.
    case 'subscription_evicted':
    case 'limit_exceeded':
      return 'retry_after';
    // Asked again as it is, each fails the same way: a closed client, a start the stream cannot serve, a
    // payload or argument the SDK refuses.
    case 'not_connected':
    case 'cursor_too_old':
    case 'cursor_in_future':
    case 'payload_too_large':
    case 'invalid_argument':
      return 'fatal';
    default:
      return undefined;
  }
}

/** `error` with class `retry` instead of its own (the same error when it already has it). */
export function withRetry(error: FelixError, retry: RetryClass): FelixError {
  if (error.retry === retry) return error;
  return new FelixError(error.code, error.message, {
    cause: error.cause,
    brokerCode: error.brokerCode,
    retry,
    detail: error.detail,
    requested: error.requested,
    available: error.available,
    batch: error.batch,
  });
}

/** `error` for a request never sent: a closed stream or a timeout then says sending it again is safe. */
export function unsentError(error: FelixError): FelixError {
  return error.code === 'timeout' || error.code === 'connection_closed' ? withRetry(error, 'retry') : error;
}

/** The reason a subscription_evicted error carries when the broker disconnected a slow consumer. */
export const SLOW_CONSUMER = 'slow_consumer';

export function isFelixError(value: unknown): value is FelixError {
  return value instanceof FelixError;
}

/**
 * A FelixError carrying the typed fields of a broker `error`/`publish_error`. A code without a class (a
 * Felix broker, or an older felix-ts) gets the code's default class, as Felix's own client reads it.
 */
export function brokerError(
  code: FelixErrorCode,
  prefix: string,
  reply: TypedErrorFields & { message: string },
) {
  return new FelixError(code, `${prefix}: ${reply.message}`, {
    brokerCode: reply.code,
    retry: reply.retry ?? (reply.code === undefined ? undefined : defaultRetryClass(reply.code)),
    detail: reply.detail,
  });
}

/**
 * Wraps whatever a lower layer threw: FelixErrors pass through, transport errors keep their meaning
 * (a closed connection is `connection_closed` whichever layer saw it), anything else becomes `fallback`.
 */
export function toFelixError(error: unknown, fallback: FelixErrorCode, context: string): FelixError {
  if (error instanceof FelixError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ConnectionClosedError) {
    return new FelixError('connection_closed', `${context}: ${message}`, { cause: error });
  }
  if (error instanceof TransportError && error.code === 'stream_closed') {
    return new FelixError('connection_closed', `${context}: ${message}`, { cause: error });
  }
  return new FelixError(fallback, `${context}: ${message}`, { cause: error });
}

/** The same error with `context` in front of its message (typed fields kept; the original as cause). */
export function withContext(error: FelixError, context: string): FelixError {
  return new FelixError(error.code, `${context}: ${error.message}`, {
    cause: error,
    brokerCode: error.brokerCode,
    retry: error.retry,
    detail: error.detail,
    requested: error.requested,
    available: error.available,
    batch: error.batch,
  });
}
