/**
 * The retry class an error code carries unless the site that refused knows better (Felix's
 * `ErrorCode::default_retry`, with felix-ts's own codes and single-broker readings). The class travels
 * beside the code so that a client that does not know a code still knows whether sending the request
 * again is safe. The table in docs/protocol.md ("Retry classes") is this one.
 */
import type { ErrorCode, RetryClass } from './messages.js';

const DEFAULT_RETRY: Readonly<Record<string, RetryClass>> = {
  // The request itself is refused: sending it again fails the same way.
  unauthenticated: 'fatal',
  forbidden: 'fatal',
  invalid_request: 'fatal',
  limit_exceeded: 'fatal',
  payload_too_large: 'fatal',
  // A single broker learns streams and caches only from its configuration: a name it does not serve
  // stays unserved until an operator changes that (Felix, a cluster, says retry_after here).
  not_found: 'fatal',
  // Nothing was applied; the broker takes it again later.
  overloaded: 'retry_after',
  storage_full: 'retry_after',
  storage_error: 'retry_after',
  // Nothing was applied; this broker is going away, its successor (or another broker) takes it.
  shard_unavailable: 'retry',
  draining: 'retry',
  not_leader: 'redirect',
  // It may have been applied: only an idempotent request is safe to send again.
  quorum_timeout: 'outcome_unknown',
  leadership_lost: 'outcome_unknown',
  unacknowledged: 'outcome_unknown',
  internal: 'outcome_unknown',
  storage: 'outcome_unknown',
};

/** The class sent with `code` by default; an unknown code reads as 'fatal' (it can never duplicate a write). */
export function defaultRetryClass(code: ErrorCode): RetryClass {
  return Object.hasOwn(DEFAULT_RETRY, code) ? DEFAULT_RETRY[code]! : 'fatal';
}
