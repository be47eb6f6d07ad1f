// What a subscription is made from: the options an application passes to subscribe(), and what the
// Subscriber resolves them into.
import type { Connection } from '../transport/index.js';
import type { StartPosition } from '../wire/index.js';
import type { QueuePolicy } from './async-queue.js';
import type { FelixError } from './errors.js';
import type { HopStats } from './hop-stats.js';
import type { Subscription } from './subscription.js';
import type { FelixEvent, GapInfo } from './subscription-event.js';

export interface SubscribeOptions {
  /** Defaults to the client's `namespace`. */
  namespace?: string;
  /** 'latest' (default): from now on; 'earliest': the oldest retained event; {offset}: from that offset. */
  start?: StartPosition;
  /**
   * Fast mode: called synchronously for every event, in order; no local queue and no promise per event.
   * The subscription is then not iterable. A slow callback slows the event loop, which is the
   * backpressure. An exception it throws is reported to `onWarning` and the next event still comes.
   */
  onEvent?: (event: FelixEvent) => void;
  /** Called when offsets show the broker dropped events (before the event that follows the gap). */
  onGap?: (gap: GapInfo) => void;
  /** Iterator mode: local queue bound; default FELIX_CLIENT_SUB_QUEUE_CAPACITY. */
  queueCapacity?: number;
  /** Iterator mode: what a full local queue does; default FELIX_CLIENT_SUB_QUEUE_POLICY. */
  queuePolicy?: QueuePolicy;
}

/** @internal what the subscriber hands a new subscription */
export interface SubscriptionParams {
  /** The event pool slot (connection index) it lives on, across reconnects. */
  readonly slot: number;
  readonly tenant: string;
  readonly namespace: string;
  readonly stream: string;
  readonly start: StartPosition;
  readonly onEvent: ((event: FelixEvent) => void) | undefined;
  readonly onGap: ((gap: GapInfo) => void) | undefined;
  readonly queueCapacity: number;
  readonly queuePolicy: QueuePolicy;
  readonly closeTimeoutMs: number;
  readonly onWarning: (message: string) => void;
  /** Called once when the subscription has ended. */
  readonly onEnded: (subscription: Subscription) => void;
  /** Hop statistics from the TIMINGS stamps, or null when timings are off. */
  readonly hops: HopStats | null;
  /** The broker announced `draining` on the control stream (its connection gets no new work). */
  readonly onDraining?: (connection: Connection) => void;
  /**
   * Called once, synchronously, when the broker first confirms (`subscribed`): subscribe() resolves from
   * here rather than through its set-up's promise chain.
   */
  readonly onSubscribed?: (subscription: Subscription) => void;
  /** The subscription was confirmed once, then could not be resumed on a new connection: it ends with `error`. */
  readonly onResumeFailed?: (subscription: Subscription, error: FelixError) => void;
}
