// The durable store's counters as /metrics shows them (broker/metrics.ts reads plain counters at scrape).
import * as fs from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { registerStorageMetrics } from '../../broker/metrics.js';
import { StorageOpenError } from '../../broker/core/stream-storage.js';
import { DurableStore } from '../../broker/storage/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function value(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} not in the scrape`);
  return Number(line.split(' ')[1]);
}

/** Every stream durable, in `dir`. */
function openStore(dir: string, fsync: 'on_commit' | 'periodic'): DurableStore {
  return new DurableStore(
    {
      dir,
      durableDefault: true,
      declared: new Map(),
      fsync,
      fsyncIntervalMs: 1000,
      acksOnCommit: false,
      retention: { bytes: 0, ms: 0 },
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 20,
    },
    pino({ level: 'silent' }),
  );
}

describe('storage metrics', () => {
  it('show log bytes, segments, writes, fsyncs and their time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'felix-storage-metrics-'));
    dirs.push(dir);
    const store = openStore(dir, 'on_commit');
    const stream = store.open('t', 'n', 's')!;
    stream.bind({ visible: () => undefined, drained: () => undefined });
    stream.append({ firstOffset: 0, count: 3, bytes: Buffer.alloc(100), timing: null, messages: null });
    for (let i = 0; i < 1000 && !store.idle; i++) await new Promise((r) => setTimeout(r, 1));
    const registry = new Registry();
    registerStorageMetrics(registry, store);
    const text = await registry.metrics();
    expect(value(text, 'felix_storage_log_bytes')).toBe(120);
    expect(value(text, 'felix_storage_segments')).toBe(1);
    expect(value(text, 'felix_storage_streams')).toBe(1);
    expect(value(text, 'felix_storage_writes_total')).toBe(1);
    expect(value(text, 'felix_storage_fsyncs_total')).toBe(1);
    expect(value(text, 'felix_storage_fsync_seconds_total')).toBeGreaterThan(0);
    expect(value(text, 'felix_storage_write_errors_total')).toBe(0);
    // Under on_commit every write goes through the thread pool.
    expect(value(text, 'felix_storage_loop_writes_total')).toBe(0);
    store.stop();
  });

  it('count small writes made from the event loop (periodic fsync)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'felix-storage-loop-'));
    dirs.push(dir);
    const store = openStore(dir, 'periodic');
    const stream = store.open('t', 'n', 's')!;
    stream.bind({ visible: () => undefined, drained: () => undefined });
    for (let i = 0; i < 3; i++) {
      stream.append({ firstOffset: i, count: 1, bytes: Buffer.alloc(100), timing: null, messages: null });
      for (let k = 0; k < 1000 && !store.idle; k++) await new Promise((r) => setTimeout(r, 1));
    }
    const registry = new Registry();
    registerStorageMetrics(registry, store);
    const text = await registry.metrics();
    expect(value(text, 'felix_storage_writes_total')).toBe(3);
    // A loop write that took long sends the next writes to the thread pool for a while (a loaded machine
    // makes one slow): all three stay on the loop exactly when none was slow.
    const loopWrites = value(text, 'felix_storage_loop_writes_total');
    const slowLoopWrites = value(text, 'felix_storage_slow_loop_writes_total');
    expect(loopWrites).toBeGreaterThanOrEqual(1);
    expect(slowLoopWrites).toBeLessThanOrEqual(loopWrites);
    if (slowLoopWrites === 0) expect(loopWrites).toBe(3);
    store.stop();
  });

  it('refuse a stream whose files cannot be created with a storage error, counted once until it opens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'felix-storage-open-'));
    dirs.push(dir);
    const store = openStore(dir, 'periodic');
    // The tenant's directory is taken by a file: the stream's directory cannot be made (ENOTDIR).
    fs.writeFileSync(join(dir, 't'), 'in the way');
    for (let attempt = 0; attempt < 3; attempt++) {
      const failure = (() => {
        try {
          store.open('t', 'n', 's');
        } catch (err) {
          return err;
        }
        return null;
      })();
      expect(failure).toBeInstanceOf(StorageOpenError);
      expect(failure).toMatchObject({ code: 'storage_error' });
      // What a client is told names the failure, never a path on the broker's host.
      expect((failure as Error).message).toBe("the stream's files could not be opened (ENOTDIR)");
    }
    const registry = new Registry();
    registerStorageMetrics(registry, store);
    expect(value(await registry.metrics(), 'felix_storage_write_errors_total')).toBe(1);
    fs.rmSync(join(dir, 't'));
    expect(store.open('t', 'n', 's')).not.toBeNull();
    store.stop();
  });
});
