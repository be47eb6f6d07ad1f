/**
 * What the benchmark drives: a key-value cache with put (optional TTL) and get. The felix-ts client is
 * one; scripts/perf drives Redis through the same interface, so both run the identical workload.
 */
import type { FelixClient } from '../client/index.js';

export interface CacheBackend {
  /** Names the system in output ("felix", "redis"). */
  readonly name: string;
  put(key: string, value: Uint8Array, ttlMs: number | null): Promise<unknown>;
  /** The value, or undefined/null on a miss. */
  get(key: string): Promise<Uint8Array | null | undefined>;
}

/** Felix's demo cache: tenant t1, namespace default, cache primary. */
export const DEMO_NAMESPACE = 'default';
export const DEMO_CACHE = 'primary';

export class FelixBackend implements CacheBackend {
  readonly name = 'felix';

  constructor(private readonly client: FelixClient) {}

  put(key: string, value: Uint8Array, ttlMs: number | null): Promise<void> {
    return this.client.cache.put(DEMO_NAMESPACE, DEMO_CACHE, key, value, { ttlMs });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.client.cache.get(DEMO_NAMESPACE, DEMO_CACHE, key);
  }
}
