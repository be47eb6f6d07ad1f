// Measures what one cache entry really costs beyond its key and value bytes, to keep
// ENTRY_OVERHEAD_BYTES honest. Run: npm run build && node --expose-gc dist/bench/broker/cache-entry-overhead.js
import { CacheStore, ENTRY_OVERHEAD_BYTES } from '../../broker/core/cache-store.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const N = 200_000;
const VALUE = Buffer.alloc(64, 1);
for (const ttl of [null, 60_000]) {
  const store = new CacheStore(
    {
      cacheMaxBytes: 1e12,
      cacheMaxKeyBytes: 1024,
      cacheMaxValueBytes: 1 << 20,
      cacheExpiryKeysPerTick: 1,
      cacheExpiryTickMs: 1000,
    },
    { cacheAllowed: () => ({ ok: true, value: true }) },
  );
  gc();
  gc();
  const before = process.memoryUsage();
  let keyBytes = 0;
  for (let i = 0; i < N; i++) {
    const key = `t1\u0000ns\u0000c\u0000key-${String(i).padStart(8, '0')}`;
    keyBytes += Buffer.byteLength(key);
    store.put(key, VALUE, ttl);
  }
  gc();
  gc();
  const after = process.memoryUsage();
  const perEntry = (after.heapUsed - before.heapUsed + (after.external - before.external)) / N;
  const overhead = perEntry - keyBytes / N - VALUE.length;
  // Read the store after measuring, so it is still reachable when the heap is measured.
  console.log(
    `${store.size} entries, ttl=${ttl === null ? 'none' : ttl}: ${perEntry.toFixed(0)} B per entry measured, ` +
      `${overhead.toFixed(0)} B beyond key and value; ENTRY_OVERHEAD_BYTES=${ENTRY_OVERHEAD_BYTES}`,
  );
}
