// Retention's background pass shares its budget (16 segments a pass) among the streams, and one stream may
// use all of it: a single busy stream keeps up with the rate docs/durability.md gives (64 segments a
// second), not one segment a pass. Driven through DurableStore.maintain, the pass the store's timer runs.
import * as fs from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableStore } from '../../broker/storage/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('retention', () => {
  it('removes up to the whole pass budget from one stream in one pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'felix-retention-'));
    dirs.push(dir);
    const store = new DurableStore(
      {
        dir,
        durableDefault: true,
        declared: new Map(),
        fsync: 'none',
        fsyncIntervalMs: 1000,
        acksOnCommit: false,
        // One 3,000-byte record per 4 KiB segment; keep about four segments.
        retention: { bytes: 16 * 1024, ms: 0 },
        segmentBytes: 4096,
        maxRecordBytes: 1 << 20,
      },
      pino({ level: 'silent' }),
    );
    try {
      const stream = store.open('t', 'n', 's')!;
      stream.bind({ visible: () => undefined, drained: () => undefined });
      for (let i = 0; i < 30; i++) {
        stream.append({ firstOffset: i, count: 1, bytes: Buffer.alloc(3000), timing: null, messages: null });
        for (let k = 0; k < 1000 && !store.idle; k++) await new Promise((r) => setTimeout(r, 1));
      }
      expect(store.stats.segmentsRemoved).toBe(0);
      store.maintain(Date.now());
      // 30 segments, ~88 KiB over the limit: one pass removes its whole budget of 16, not one.
      expect(store.stats.segmentsRemoved).toBe(16);
      store.maintain(Date.now());
      // The next pass brings the log within its limit and stops there.
      expect(store.stats.segmentsRemoved).toBe(30 - 5);
      store.maintain(Date.now());
      expect(store.stats.segmentsRemoved).toBe(30 - 5);
    } finally {
      store.stop();
    }
  });
});
