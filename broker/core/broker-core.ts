import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import type { HopTimings } from './hop-timings.js';
import type { CacheService } from './ports.js';
import type { PublishBudget } from './publish-budget.js';
import type { TopicRegistry } from './registry.js';
import type { BrokerStats } from './stats.js';
import type { Subscription, SubscriptionLimits } from './subscription.js';

/** What the protocol port's per-connection and per-stream sessions need from the broker node. */
export interface BrokerCore {
  readonly config: BrokerConfig;
  readonly registry: TopicRegistry;
  readonly stats: BrokerStats;
  readonly budget: PublishBudget;
  readonly log: Logger;
  readonly cache: CacheService;
  readonly subscriptionLimits: SubscriptionLimits;
  /** Per-hop histograms; null with FELIX_DISABLE_TIMINGS=1. */
  readonly timings: HopTimings | null;
  readonly draining: boolean;
  nextSubscriptionId(): number;
  subscriptionOpened(sub: Subscription): void;
  subscriptionClosed(sub: Subscription): void;
}
