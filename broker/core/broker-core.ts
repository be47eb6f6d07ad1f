import type { Logger } from 'pino';
import type { FrameBufferPool } from '../../wire/index.js';
import type { BrokerConfig } from '../config.js';
import type { HopTimings } from './hop-timings.js';
import type { ProducerDedup } from './producer-dedup.js';
import type { CacheService, TokenAuthority } from './ports.js';
import type { PublishBudget } from './publish-budget.js';
import type { TopicRegistry } from './registry.js';
import type { TenantShares } from './tenant-shares.js';
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
  /** A publish or subscribe was refused as `draining` (shutdown waits for such late requests to stop). */
  noteDrainRefusal(): void;
  /** Bytes of frames still being received, over all connections (bounded by FELIX_PARTIAL_FRAME_BYTES). */
  partialFrameBytes: number;
  /** What each tenant holds of the publish and partial-frame bounds. */
  readonly tenantShares: TenantShares;
  /** One tenant's bound of partial-frame bytes (FELIX_TENANT_PARTIAL_FRAME_BYTES, resolved). */
  readonly tenantPartialFrameLimit: number;
  /** Where the streams' decoders assemble frames larger than their own buffer (taken and given back). */
  readonly frameBuffers: FrameBufferPool;
  /** Verifies stream tokens; null when the broker authenticates nobody (FELIX_AUTH none, protected mode). */
  readonly tokens: TokenAuthority | null;
  /** Retried acked publishes already accepted; null when FELIX_DEDUP_WINDOW_MS=0 (no IDEMPOTENT_PUBLISH). */
  readonly dedup: ProducerDedup | null;
  /** Calls `listener` once when the broker starts draining; returns what stops it. */
  onDraining(listener: () => void): () => void;
  subscriptionOpened(sub: Subscription): void;
  subscriptionClosed(sub: Subscription): void;
}
