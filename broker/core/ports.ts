/**
 * What the broker's core needs from the outside, as interfaces: the protocol port (broker/quic/) implements
 * them over QUIC streams, tests implement them in memory. Nothing here knows of sockets or the transport.
 */
import type { ErrorCode, ErrorDetail, Message, MessageOf, RetryClass } from '../../wire/index.js';
import type { VerifyResult } from '../auth/index.js';
import type { EventFrame } from './event-frame.js';

export type CacheRequest = MessageOf<'cache_put'> | MessageOf<'cache_get'> | MessageOf<'cache_delete'>;

/**
 * What the refusing site knows beyond its code: a retry class other than the code's default
 * (wire/retry-classes.ts), and `detail`. Sent only to a client that offered ERROR_CODES.
 */
export interface ErrorSite {
  readonly retry?: RetryClass;
  readonly detail?: ErrorDetail;
}

/** Where a request's answer goes: the stream it came on, which encodes it as its client negotiated. */
export interface ReplyTarget {
  send(message: Message): void;
  /** An `error` answering the request `requestId` (when it had one); see ErrorSite. */
  sendError(message: string, code: ErrorCode, requestId?: number, site?: ErrorSite): void;
  /** cache_value for `request` (its address and request_id) holding `value`, null for none. */
  sendCacheValue(request: CacheRequest, value: Uint8Array | null): void;
  /** The answer to a stored put: cache_ok, or Felix's plain ok to a put without request_id. */
  sendCacheOk(requestId: number | undefined): void;
}

/** Checks client tokens (FELIX_AUTH jwt): from its cache at once when it can, otherwise asynchronously. */
export interface TokenAuthority {
  lookup(token: string): VerifyResult | undefined;
  verify(token: string): Promise<VerifyResult>;
}

/** Serves cache requests; answers through `target`, each as it completes, matched by request_id. */
export interface CacheService {
  handle(request: CacheRequest, tenant: string, target: ReplyTarget): void;
}

/**
 * Where one subscriber's events go. The core decides which frames a subscriber gets and when (queue,
 * policy, write-ahead); the output decides how they look on the wire (the encodings its client negotiated).
 */
export interface EventOutput {
  /** Bytes handed to write() that the transport has not yet taken. */
  readonly backlogBytes: number;
  /**
   * Of the backlog, the bytes the network refused for now (the rest leaves with this turn's send): past the
   * write-ahead in these, the output calls onDrain once it is back under it. Absent: all of backlogBytes.
   */
  readonly waitingBytes?: number;
  /** Set by the subscription: called when the backlog fell back under the write-ahead after a write. */
  onDrain: (() => void) | null;
  /**
   * Whether the output may take more while it holds a backlog: false while its connection holds more than
   * the connection's send window (FELIX_BROKER_SEND_WINDOW), shared by all the subscriptions on it; it calls
   * onDrain once it may (optional: an output without a connection of its own leaves it out).
   */
  connectionHasRoom?(): boolean;
  /**
   * Narrows the write-ahead to `bytes` (null: back to the output's own): already past it, the output calls
   * onDrain once it is back within it, so a writer held at the narrower bound is woken as at the usual one
   * (optional: an output that never refuses bytes leaves it out).
   */
  narrowWriteAhead?(bytes: number | null): void;
  /** Sends one shared frame. `live`: a frame published after the subscription started (not replay). */
  write(frame: EventFrame, live: boolean): void;
  /**
   * Tells the subscriber that events up to `throughOffset` (`events` of them) were dropped and no event
   * after them has been written (absent when its client did not offer DROP_NOTICE).
   */
  readonly notifyDropped?: (throughOffset: number, events: number) => void;
  /**
   * Puts what was written in this turn on the wire now instead of at the transport's next flush, a loop turn
   * later (optional: an output without a flush of its own leaves it out).
   */
  push?(): void;
  /** Ends the event stream after what was written (FIN). */
  finish(): void;
  /** Ends the event stream at once with an application code. */
  abort(code: number): void;
}
