/**
 * Whether one payload size's entries fit the broker's cache (FELIX_CACHE_MAX_BYTES), known before anything
 * is put when the demo started the broker itself. get_hit reads the keys prepopulated before the put
 * benchmark writes keys of its own (Felix's order), so all of them are held at once; when they cannot be,
 * the LRU evicts hit keys and every get_hit that follows misses: an INVALID RUN, certain before the first
 * put, which the demo says up front instead of spending minutes (at 1 MiB values) to find out.
 */
import { CACHE_ENTRY_OVERHEAD_BYTES } from '../config/broker-settings.js';
import { DEMO_CACHE, DEMO_NAMESPACE } from './backend.js';
import type { BenchSettings } from './settings.js';

type FitSettings = Pick<BenchSettings, 'keys' | 'warmup' | 'samples' | 'durationMs' | 'ops'>;

// The broker stores a key under its tenant/namespace/cache path; the tenant name is at most this long in
// the demo's setups (t1), and a few bytes more only make the estimate safer.
const PATH_BYTES = `tenant-name/${DEMO_NAMESPACE}/${DEMO_CACHE}/`.length;

/** Entries get_hit needs held at once with `keys` keys: the hit keys, plus the put benchmark's own. */
export function entriesHeld(s: FitSettings, keys: number): number {
  if (!s.ops.includes('put')) return keys;
  const measuredPuts = s.durationMs === null ? Math.min(s.samples, keys) : keys;
  return keys + Math.min(s.warmup, keys) + measuredPuts;
}

/** What the cache counts for one entry of `size` bytes (cache-store.ts: key, value, bookkeeping). */
export function entryBytes(size: number, keys: number): number {
  const longestKey = `put-warm-${size}-${keys - 1}`.length;
  return size + longestKey + PATH_BYTES + CACHE_ENTRY_OVERHEAD_BYTES;
}

/**
 * Why `size`-byte values cannot give a valid get_hit in a cache of `cacheMaxBytes`, naming how many keys
 * would fit; undefined when they fit, or when get_hit is not run (then nothing depends on the entries).
 */
export function cacheShortfall(size: number, s: FitSettings, cacheMaxBytes: number): string | undefined {
  if (!s.ops.includes('get_hit')) return undefined;
  const needed = (keys: number) => entriesHeld(s, keys) * entryBytes(size, keys);
  if (needed(s.keys) <= cacheMaxBytes) return undefined;
  let fits = 0;
  for (let low = 1, high = s.keys - 1; low <= high;) {
    const mid = Math.floor((low + high) / 2);
    if (needed(mid) <= cacheMaxBytes) {
      fits = mid;
      low = mid + 1;
    } else high = mid - 1;
  }
  const fitting = fits === 0 ? 'no key count fits' : `--keys ${fits} or fewer fit`;
  return (
    `${size} B values: get_hit needs ${entriesHeld(s, s.keys)} entries held at once (${s.keys} keys read, ` +
    `the rest written by put), about ${formatBytes(needed(s.keys))}, more than the broker's ` +
    `FELIX_CACHE_MAX_BYTES ${formatBytes(cacheMaxBytes)}; not run (${fitting}, or raise FELIX_CACHE_MAX_BYTES)`
  );
}

function formatBytes(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes >= 1024 * MiB) return `${(bytes / 1024 / MiB).toFixed(1)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
