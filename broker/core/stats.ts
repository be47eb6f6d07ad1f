import type { SlowConsumerLimit } from './subscription.js';
import type { QueuePolicy } from './subscriber-queue.js';

/**
 * Plain counters the hot path bumps with `++`: no label lookup, no call. The metrics module reads them
 * when Prometheus scrapes, so observing costs nothing between scrapes.
 */
export class BrokerStats {
  connectionsOpened = 0;
  connectionsClosed = 0;
  publishedMessages = 0;
  publishedBytes = 0;
  publishErrors = 0;
  publishRejectedBudget = 0;
  /** Acked publishes a producer retried after they were accepted: acked again, not appended. */
  duplicatePublishes = 0;
  deliveredEvents = 0;
  deliveredBytes = 0;
  deliveredFrames = 0;
  subscriptionsOpened = 0;
  subscriptionsClosed = 0;
  readonly drops: Record<QueuePolicy, number> = { block: 0, drop_new: 0, drop_old: 0 };
  /** Events not sent to a subscriber whose encoding (JSON's base64) made them larger than a frame may be. */
  eventsTooLargeForEncoding = 0;
  readonly disconnects: Record<string, number> = {};
  /** Subscribers disconnected as slow consumers (reason slow_consumer), by the limit they reached. */
  readonly slowConsumerDisconnects: Record<SlowConsumerLimit, number> = { max_drops: 0, max_full_ms: 0 };
  protocolErrors = 0;
  /** Exceptions no handler expected, caught by the per-connection guard (each closed its connection). */
  internalErrors = 0;
  /** Connections closed with 0x6: streams the client reset while unread stranded their receive credit. */
  creditStrandedCloses = 0;
  /** Auto-created streams removed after FELIX_STREAM_IDLE_TIMEOUT_MS without use. */
  streamsRemovedIdle = 0;
  /** Stream auths refused (bad, expired or foreign tokens). */
  authFailures = 0;
  /** Connections closed because no stream authenticated within FELIX_AUTH_TIMEOUT_MS. */
  authTimeouts = 0;
  /** Client streams ended by FELIX_STREAM_STALL_TIMEOUT_MS: quiet while holding an unfinished frame or chunked publish. */
  stalledStreams = 0;

  /** Connections refused after their handshake, by reason (protected_mode), counted in /metrics. */
  readonly refusedConnections: Record<string, number> = {};

  noteRefused(reason: string): void {
    this.refusedConnections[reason] = (this.refusedConnections[reason] ?? 0) + 1;
  }

  /** `subscribers` subscribers the broker ended, for `reason`. */
  noteDisconnect(reason: string, subscribers = 1): void {
    this.disconnects[reason] = (this.disconnects[reason] ?? 0) + subscribers;
  }
}
