/**
 * Durable streams (issue 13): segment files of CRC-checked records per stream, fsync policies, group commit,
 * retention, recovery and replay from disk. The core sees them through broker/core/stream-storage.ts.
 */
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import { DurableStore, streamKey } from './durable-store.js';
import type { Retention } from './durable-stream.js';

export { DurableStore } from './durable-store.js';
export { StorageStats } from './storage-stats.js';

/** The broker's durable store as its configuration asks, or null when no stream can be durable. */
export function openDurableStore(config: BrokerConfig, logger: Logger): DurableStore | null {
  const declared = new Map<string, Partial<Retention>>();
  for (const t of config.tenants) {
    for (const ns of t.namespaces) {
      for (const [stream, own] of Object.entries(ns.durable ?? {}))
        declared.set(streamKey(t.id, ns.name, stream), own);
    }
  }
  const dir = config.durableStorageDir;
  if (dir === null) return null;
  if (config.ackOnCommit && config.durableFsync === 'periodic') {
    // Legal, and safe, but the likeliest slow surprise: acks are released by the timer, not by the writes.
    logger.warn(
      { fsyncIntervalMs: config.durableFsyncIntervalMs },
      'FELIX_ACK_ON_COMMIT with FELIX_DURABLE_FSYNC=periodic: each ack waits for the next periodic fsync, so ' +
        'a publisher waiting on its acks gets about one round per interval; FELIX_DURABLE_FSYNC=on_commit ' +
        'gives the same guarantee with acks as soon as each group commit is synced',
    );
  }
  return new DurableStore(
    {
      dir,
      durableDefault: config.durableDefault,
      declared,
      fsync: config.durableFsync,
      fsyncIntervalMs: config.durableFsyncIntervalMs,
      acksOnCommit: config.ackOnCommit,
      retention: { bytes: config.durableRetentionBytes, ms: config.durableRetentionMs },
      segmentBytes: config.durableSegmentBytes,
      // A record holds one event-batch frame, which can never be larger than a frame the broker accepts.
      maxRecordBytes: Math.min(config.maxFrameBytes + 64 * 1024, 2 ** 31),
      dedupWindowMs: config.dedupWindowMs,
      dedupMaxProducers: config.dedupMaxProducers,
      maxOpenStreams: config.durableMaxOpenStreams,
    },
    logger,
  );
}
