// The cache client against a real broker node (in-process, real QUIC on loopback): put/get/delete, TTL
// expiry on read and in the background, LRU eviction under FELIX_CACHE_MAX_BYTES, binary values, the
// broker's key/value limits, and many requests in flight on one stream.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES } from '../../broker/core/cache-store.js';
import { FelixError, connect, type ConnectOptions } from '../../client/index.js';
import { spawnBroker } from './broker-process.js';
import { client, eventually, metric, startBroker } from './sdk-harness.js';

/** Every cache request on one stream of one connection. */
const ONE_STREAM: ConnectOptions = { cacheConnPool: 1, cacheStreamsPerConn: 1 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();

async function rejection(promise: Promise<unknown>): Promise<FelixError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FelixError);
  return error as FelixError;
}

describe('cache client against the broker', () => {
  it('puts, gets, overwrites and deletes, keeping caches and namespaces apart', async () => {
    const broker = await startBroker();
    const { cache } = await client(broker);
    expect(await cache.get('default', 'primary', 'k')).toBeUndefined();
    await cache.put('default', 'primary', 'k', 'one');
    await cache.put('default', 'other', 'k', Buffer.from('elsewhere'));
    await cache.put('ns2', 'primary', 'k', 'third');
    expect(text(await cache.get('default', 'primary', 'k'))).toBe('one');
    await cache.put('default', 'primary', 'k', 'two');
    expect(text(await cache.get('default', 'primary', 'k'))).toBe('two');
    expect(text(await cache.get('default', 'other', 'k'))).toBe('elsewhere');
    expect(text(await cache.get('ns2', 'primary', 'k'))).toBe('third');

    expect(await cache.delete('default', 'primary', 'k')).toBe(true);
    expect(await cache.get('default', 'primary', 'k')).toBeUndefined();
    expect(await cache.delete('default', 'primary', 'k')).toBe(false);
    expect(await cache.delete('default', 'primary', 'never-stored')).toBe(false);
    expect(text(await cache.get('default', 'other', 'k'))).toBe('elsewhere');
    expect(await metric(broker, 'felix_cache_deletes_total')).toBe(1);
  });

  it("checks every request's cache name, also right after requests to an allowed cache", async () => {
    const broker = await startBroker();
    const c = await client(broker, ONE_STREAM);
    await c.cache.put('default', 'primary', 'k', 'one');
    await c.cache.put('default', 'primar', 'k', 'two'); // a name of other length, then back
    const refused = await rejection(c.cache.put('default', 'bad name!', 'k', 'x'));
    expect(refused.code).toBe('broker_error');
    expect(refused.brokerCode).toBe('invalid_request');
    expect(text(await c.cache.get('default', 'primary', 'k'))).toBe('one');
    expect((await rejection(c.cache.get('default', 'bad name!', 'k'))).brokerCode).toBe('invalid_request');
    expect(text(await c.cache.get('default', 'primar', 'k'))).toBe('two');
    // The same key in another namespace and another tenant's stream are apart.
    expect(await c.cache.get('other', 'primary', 'k')).toBeUndefined();
    const other = await client(broker, { ...ONE_STREAM, tenant: 't2' });
    expect(await other.cache.get('default', 'primary', 'k')).toBeUndefined();
    await other.cache.put('default', 'primary', 'k', 'theirs');
    expect(text(await c.cache.get('default', 'primary', 'k'))).toBe('one');
  });

  it('copies the value at put: the caller may reuse its buffer at once', async () => {
    const broker = await startBroker();
    const { cache } = await client(broker);
    const buffer = Buffer.from('first');
    const stored = cache.put('default', 'primary', 'reused', buffer);
    buffer.write('XXX');
    await stored;
    expect(text(await cache.get('default', 'primary', 'reused'))).toBe('first');
  });

  it('keeps values byte for byte: empty and random 4 KiB', async () => {
    const broker = await startBroker();
    const { cache } = await client(broker);
    const random = randomBytes(4096);
    await cache.put('default', 'primary', 'empty', new Uint8Array(0));
    await cache.put('default', 'primary', 'random', random);
    const empty = await cache.get('default', 'primary', 'empty');
    // An empty value is a hit, not a miss.
    expect(empty).toBeInstanceOf(Uint8Array);
    expect(empty!.byteLength).toBe(0);
    expect(Buffer.from((await cache.get('default', 'primary', 'random'))!).equals(random)).toBe(true);
    expect(await cache.delete('default', 'primary', 'empty')).toBe(true);
  });

  it('expires on read once the TTL passed (lazy expiry)', async () => {
    // A background tick far away: only a read can find the entry expired.
    const broker = await startBroker({ cacheExpiryTickMs: 60_000 });
    const { cache } = await client(broker);
    await cache.put('default', 'primary', 'short', 'v', { ttlMs: 300 });
    await cache.put('default', 'primary', 'forever', 'v');
    expect(text(await cache.get('default', 'primary', 'short'))).toBe('v');
    await sleep(400);
    expect(await metric(broker, 'felix_cache_entries')).toBe(2);
    expect(await cache.get('default', 'primary', 'short')).toBeUndefined();
    expect(text(await cache.get('default', 'primary', 'forever'))).toBe('v');
    expect(await metric(broker, 'felix_cache_entries')).toBe(1);
    expect(await metric(broker, 'felix_cache_expirations_total')).toBe(1);
  });

  it('expires in the background without any read (active expiry)', async () => {
    const broker = await startBroker({ cacheExpiryTickMs: 20 });
    const { cache } = await client(broker);
    await cache.put('default', 'primary', 'short', 'v', { ttlMs: 200 });
    await cache.put('default', 'primary', 'forever', 'v');
    expect(await metric(broker, 'felix_cache_entries')).toBe(2);
    await eventually(async () => (await metric(broker, 'felix_cache_entries')) === 1, 'the entry to expire');
    expect(await metric(broker, 'felix_cache_expirations_total')).toBe(1);
    // Nothing read it: the sweep removed it, not a lookup.
    expect(await metric(broker, 'felix_cache_hits_total')).toBe(0);
    expect(await metric(broker, 'felix_cache_misses_total')).toBe(0);
    expect(text(await cache.get('default', 'primary', 'forever'))).toBe('v');
  });

  it('a put renews the TTL: a key put again without TTL does not expire', async () => {
    const broker = await startBroker({ cacheExpiryTickMs: 20 });
    const { cache } = await client(broker);
    await cache.put('default', 'primary', 'k', 'short-lived', { ttlMs: 150 });
    await cache.put('default', 'primary', 'k', 'kept', { ttlMs: null });
    await sleep(300);
    expect(text(await cache.get('default', 'primary', 'k'))).toBe('kept');
  });

  it('evicts the least recently used entries first under FELIX_CACHE_MAX_BYTES', async () => {
    const maxBytes = 1024 * 1024;
    const valueBytes = 100_000;
    const broker = await startBroker({ cacheMaxBytes: maxBytes, cacheMaxValueBytes: 200_000 });
    const { cache } = await client(broker, ONE_STREAM);
    // The broker accounts the full key "t1\0default\0primary\0k00" (22 bytes), the value and the overhead.
    const entryBytes = 't1/default/primary/k00'.length + valueBytes + ENTRY_OVERHEAD_BYTES;
    const fits = Math.floor(maxBytes / entryBytes);
    const key = (i: number) => `k${String(i).padStart(2, '0')}`;
    for (let i = 0; i < fits; i++) await cache.put('default', 'primary', key(i), Buffer.alloc(valueBytes, i));
    expect(await metric(broker, 'felix_cache_bytes')).toBe(fits * entryBytes);
    expect(await metric(broker, 'felix_cache_evictions_total')).toBe(0);

    // Reading k00 makes k01 the least recently used: the next put evicts k01, the one after k02.
    expect(await cache.get('default', 'primary', key(0))).toBeDefined();
    await cache.put('default', 'primary', key(fits), Buffer.alloc(valueBytes, 1));
    expect(await metric(broker, 'felix_cache_evictions_total')).toBe(1);
    await cache.put('default', 'primary', key(fits + 1), Buffer.alloc(valueBytes, 2));
    expect(await metric(broker, 'felix_cache_evictions_total')).toBe(2);
    expect(await cache.get('default', 'primary', key(1))).toBeUndefined();
    expect(await cache.get('default', 'primary', key(2))).toBeUndefined();
    for (const i of [0, ...Array.from({ length: fits - 2 }, (_, j) => j + 3), fits, fits + 1]) {
      expect(await cache.get('default', 'primary', key(i)), key(i)).toBeDefined();
    }
    expect(await metric(broker, 'felix_cache_entries')).toBe(fits);
  });

  it('removes entries whose TTL passed before it evicts a live one, even when they were used more recently', async () => {
    const maxBytes = 1024 * 1024;
    const valueBytes = 100_000;
    // No background sweep during the test: only the write over the bound can find the entry expired.
    const broker = await startBroker({
      cacheMaxBytes: maxBytes,
      cacheMaxValueBytes: 200_000,
      cacheExpiryTickMs: 60_000,
    });
    const { cache } = await client(broker, ONE_STREAM);
    const entryBytes = 't1/default/primary/k00'.length + valueBytes + ENTRY_OVERHEAD_BYTES;
    const fits = Math.floor(maxBytes / entryBytes);
    const key = (i: number) => `k${String(i).padStart(2, '0')}`;
    // k00 … k(fits-2) live, then the most recently used entry, k(fits-1), with a short TTL.
    for (let i = 0; i < fits - 1; i++)
      await cache.put('default', 'primary', key(i), Buffer.alloc(valueBytes, i));
    await cache.put('default', 'primary', key(fits - 1), Buffer.alloc(valueBytes, 9), { ttlMs: 1 });
    await sleep(50);
    expect(await metric(broker, 'felix_cache_entries')).toBe(fits);

    await cache.put('default', 'primary', key(fits), Buffer.alloc(valueBytes, 1));
    expect(await metric(broker, 'felix_cache_evictions_total')).toBe(0);
    expect(await metric(broker, 'felix_cache_expirations_total')).toBe(1);
    // The least recently used live entry kept its place.
    expect(await cache.get('default', 'primary', key(0))).toBeDefined();
    // The next write over the bound, with nothing expired, evicts by LRU again: k01 now.
    await cache.put('default', 'primary', key(fits + 1), Buffer.alloc(valueBytes, 2));
    expect(await metric(broker, 'felix_cache_evictions_total')).toBe(1);
    expect(await cache.get('default', 'primary', key(1))).toBeUndefined();
  });

  it("evicts from the tenant holding the most: one tenant filling the cache never evicts another's smaller share", async () => {
    const maxBytes = 1024 * 1024;
    const valueBytes = 10_000;
    const broker = await startBroker({ cacheMaxBytes: maxBytes, cacheMaxValueBytes: 200_000 });
    const victim = await client(broker, { ...ONE_STREAM, tenant: 'victim' });
    const flooder = await client(broker, { ...ONE_STREAM, tenant: 'flooder' });
    // The victim's entries are the oldest in the cache: plain LRU would evict them first.
    for (let i = 0; i < 20; i++) await victim.cache.put('default', 'c', `v${i}`, Buffer.alloc(valueBytes, i));
    // Ten times the cache's size from the other tenant, 32 puts in flight.
    const puts = Math.ceil((10 * maxBytes) / valueBytes);
    for (let i = 0; i < puts; i += 32) {
      await Promise.all(
        Array.from({ length: Math.min(32, puts - i) }, (_, j) =>
          flooder.cache.put('default', 'c', `f${i + j}`, Buffer.alloc(valueBytes, j)),
        ),
      );
    }
    expect(await metric(broker, 'felix_cache_evictions_total')).toBeGreaterThan(puts / 2);
    expect(await metric(broker, 'felix_cache_bytes')).toBeLessThanOrEqual(maxBytes);
    for (let i = 0; i < 20; i++) {
      const value = await victim.cache.get('default', 'c', `v${i}`);
      expect(value?.[0], `v${i}`).toBe(i);
    }
    // The flooder's newest entries are there, its oldest evicted: LRU within its own share.
    expect(await flooder.cache.get('default', 'c', `f${puts - 1}`)).toBeDefined();
    expect(await flooder.cache.get('default', 'c', 'f0')).toBeUndefined();
  });

  it('refuses an oversized key and value with the broker error, and the same stream keeps working', async () => {
    const broker = await startBroker({ cacheMaxKeyBytes: 64, cacheMaxValueBytes: 1024 });
    const { cache } = await client(broker, ONE_STREAM);
    await cache.put('default', 'primary', 'before', 'ok');

    const longKey = await rejection(cache.put('default', 'primary', 'k'.repeat(65), 'v'));
    expect(longKey.code).toBe('limit_exceeded');
    expect(longKey.brokerCode).toBe('limit_exceeded');
    expect(longKey.message).toContain('cache key is 65 bytes; the limit is 64 (FELIX_CACHE_MAX_KEY_BYTES)');
    const longGet = await rejection(cache.get('default', 'primary', 'k'.repeat(65)));
    expect(longGet.code).toBe('limit_exceeded');

    const bigValue = await rejection(cache.put('default', 'primary', 'big', Buffer.alloc(1025)));
    expect(bigValue.code).toBe('limit_exceeded');
    expect(bigValue.message).toContain(
      'cache value is 1025 bytes; the limit is 1024 (FELIX_CACHE_MAX_VALUE_BYTES)',
    );

    // Refused requests interleaved with good ones on the one stream: each answer reaches its own caller.
    const mixed = await Promise.allSettled([
      cache.put('default', 'primary', 'a', 'A'),
      cache.put('default', 'primary', 'big', Buffer.alloc(2000)),
      cache.get('default', 'primary', 'before'),
      cache.get('default', 'primary', 'x'.repeat(100)),
      cache.put('default', 'primary', 'exact', Buffer.alloc(1024)),
    ]);
    expect(mixed.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(text((mixed[2] as PromiseFulfilledResult<Uint8Array>).value)).toBe('ok');
    expect(text(await cache.get('default', 'primary', 'a'))).toBe('A');
    expect(await cache.get('default', 'primary', 'big')).toBeUndefined();
    expect((await cache.get('default', 'primary', 'exact'))?.byteLength).toBe(1024);
  });

  it('pipelines many requests on one stream, each answer reaching its own caller', async () => {
    const broker = await startBroker();
    // 8 in flight at most: the other requests wait for a slot and go out as answers come back.
    const { cache } = await client(broker, { ...ONE_STREAM, cacheStreamMaxInflight: 8 });
    const n = 1000;
    const keys = Array.from({ length: n }, (_, i) => `many-${i}`);
    await Promise.all(keys.map((k, i) => cache.put('default', 'primary', k, `value-${i}`)));
    const values = await Promise.all(keys.map((k) => cache.get('default', 'primary', k)));
    expect(values.map(text)).toEqual(keys.map((_, i) => `value-${i}`));
    const misses = await Promise.all(keys.map((k) => cache.get('default', 'primary', `${k}-missing`)));
    expect(misses.every((v) => v === undefined)).toBe(true);
    const deleted = await Promise.all(
      keys.map((k, i) =>
        i % 2 === 0
          ? cache.delete('default', 'primary', k)
          : cache.get('default', 'primary', k).then(() => false),
      ),
    );
    expect(deleted.filter(Boolean).length).toBe(n / 2);
    expect(await metric(broker, 'felix_cache_entries')).toBe(n / 2);
  });

  it('keeps requests on one connection until its streams are full, then spills to the next', async () => {
    const broker = await startBroker();
    const together = await client(broker, { cacheConnPool: 2, cacheStreamsPerConn: 2 });
    await Promise.all(
      Array.from({ length: 32 }, (_, i) => together.cache.put('default', 'primary', `t${i}`, 'v')),
    );
    // The publish connection opened at connect, and one cache connection: 32 fit one stream's 64 slots.
    expect(await metric(broker, 'felix_connections')).toBe(2);

    const spread = await client(broker, {
      cacheConnPool: 2,
      cacheStreamsPerConn: 2,
      cacheStreamMaxInflight: 16,
    });
    const values = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        spread.cache
          .put('default', 'primary', `s${i}`, `v${i}`)
          .then(() => spread.cache.get('default', 'primary', `s${i}`)),
      ),
    );
    expect(values.map(text)).toEqual(Array.from({ length: 64 }, (_, i) => `v${i}`));
    // 64 at once over lanes of 16: all four streams, two on each cache connection.
    expect(await metric(broker, 'felix_connections')).toBe(2 + 1 + 2);
    const perStream = spread.cache.sentPerStream();
    expect(perStream.every((n) => n > 0)).toBe(true);
  });

  it("applies one key's requests in the order they were issued, over every stream", async () => {
    // A broker in its own process: answers then come back in their own time, and a request that waited
    // for a slot goes out on whichever stream frees first.
    const broker = await spawnBroker();
    const c = await connect({
      broker: `127.0.0.1:${broker.quicPort}`,
      env: {},
      // Four one-request streams over two connections: a burst of writes to one key spills over all.
      cacheConnPool: 2,
      cacheStreamsPerConn: 2,
      cacheStreamMaxInflight: 1,
      onWarning: () => undefined,
    });
    try {
      const trials = 80;
      const writes = 12;
      let stale = 0;
      let reordered = 0;
      for (let t = 0; t < trials; t++) {
        const key = `order-${t}`;
        const done: Promise<unknown>[] = [];
        for (let i = 0; i < writes; i++) done.push(c.cache.put('default', 'primary', key, `v${i}`));
        const read = c.cache.get('default', 'primary', key);
        done.push(c.cache.get('default', 'primary', `other-${t}`));
        await Promise.all(done);
        if (text(await read) !== `v${writes - 1}`) stale++;
        if (text(await c.cache.get('default', 'primary', key)) !== `v${writes - 1}`) reordered++;
      }
      expect({ stale, reordered }).toEqual({ stale: 0, reordered: 0 });
      // Another key's request was not held behind the key's writes: it took a stream with room.
      expect(c.cache.sentPerStream().filter((n) => n > 0).length).toBeGreaterThan(1);
    } finally {
      await c.close();
    }
  });

  it('rejects bad arguments locally and everything after close', async () => {
    const broker = await startBroker();
    const c = await client(broker);
    expect((await rejection(c.cache.put('default', 'primary', 'k', 'v', { ttlMs: 0 }))).code).toBe(
      'invalid_argument',
    );
    expect((await rejection(c.cache.get('', 'primary', 'k'))).code).toBe('invalid_argument');
    expect((await rejection(c.cache.get('default', '', 'k'))).code).toBe('invalid_argument');
    await c.close();
    expect((await rejection(c.cache.get('default', 'primary', 'k'))).code).toBe('not_connected');
  });
});

describe('cachedemo', () => {
  it('benchmarks against a broker it starts in its own process, then passes the TTL check', async () => {
    const demo = fileURLToPath(new URL('../../dist/cachedemo/main.js', import.meta.url));
    const args = ['--payloads', '0,64', '--warmup', '20', '--samples', '200', '--keys', '50', '--json'];
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      const child = spawn(process.execPath, [demo, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (exit) => resolve({ code: exit, stdout: out, stderr: err }));
    });
    expect(code, stderr).toBe(0);
    const document = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      results: { op: string; payload_bytes: number; n: number; unexpected: number; throughput_ops: number }[];
      ttl_check: string;
      invalid: string[];
    };
    expect(document.results.map((r) => `${r.op}/${r.payload_bytes}`)).toEqual([
      'put/0',
      'get_hit/0',
      'get_miss/0',
      'put/64',
      'get_hit/64',
      'get_miss/64',
    ]);
    expect(document.results.every((r) => r.n === 200 && r.unexpected === 0 && r.throughput_ops > 0)).toBe(
      true,
    );
    expect(document.ttl_check).toBe('PASS');
    expect(document.invalid).toEqual([]);
  });
});
