// The producer journal on its own: what it writes once the log is written, what it trusts at recovery (only
// claims on a log whole below their end offset, within the dedup window, before the first damaged entry),
// and that it stays bounded.
import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WINDOW_SEQUENCES } from '../../broker/core/producer-dedup.js';
import {
  JOURNAL_FILE,
  ProducerJournal,
  encodeClaim,
  parseJournal,
  type ProducerClaim,
} from '../../broker/storage/producer-journal.js';

const WINDOW = 120_000;
const fresh = (): string => mkdtempSync(join(tmpdir(), 'felix-journal-'));
const ranges = (claims: ProducerClaim[]): string[] =>
  claims.map((c) => `${c.tenant}/${c.producerId}:${c.first}-${c.last}`).sort();

describe('producer journal', () => {
  it('writes what a completed write holds, merges runs, and gives it back at the next open', () => {
    const dir = fresh();
    const { journal, claims } = ProducerJournal.open(dir, WINDOW, 0);
    expect(claims).toEqual([]);
    // Producer 7 publishes 1..3 (events ending at 1, 2, 3), producer 9 its 1 (end 4), then 7 its 4 (end 5).
    journal.note('t1', 7, 1, 1);
    journal.note('t1', 7, 2, 2);
    journal.note('t1', 7, 3, 3);
    journal.note('t2', 9, 1, 4);
    journal.note('t1', 7, 4, 5);
    journal.written(4, 1_000); // the write held offsets below 4: producer 7's 4 is not in it yet
    // As written: one entry per run of a producer's consecutive sequences.
    expect(ranges(parseJournal(readFileSync(join(dir, JOURNAL_FILE))).claims)).toEqual([
      't1/7:1-3',
      't2/9:1-1',
    ]);
    journal.written(5, 1_001);
    journal.close();
    expect(ranges(ProducerJournal.open(dir, WINDOW, 100).claims)).toEqual(['t1/7:1-4', 't2/9:1-1']);
  });

  it('drops claims on events past the whole log, and producers idle past the window', () => {
    const dir = fresh();
    const { journal } = ProducerJournal.open(dir, WINDOW, 0);
    journal.note('t1', 1, 1, 10);
    journal.written(10, 1_000);
    journal.note('t1', 2, 1, 20);
    journal.written(20, 1_000 + WINDOW + 1);
    journal.close();
    // Whole below 15: producer 2's claim (end 20) goes; producer 1's is older than the window of the newest.
    const reopened = ProducerJournal.open(dir, WINDOW, 15);
    expect(reopened.claims).toEqual([]);
    expect(reopened.dropped).toBe(2);
    // The file was rewritten without them.
    expect(ProducerJournal.open(dir, WINDOW, 1_000).claims).toEqual([]);
  });

  it('stops trusting at the first torn or damaged entry', () => {
    const dir = fresh();
    const { journal } = ProducerJournal.open(dir, WINDOW, 0);
    for (let s = 1; s <= 3; s++) {
      journal.note('t1', 100 + s, 1, s);
      journal.written(s, 1_000);
    }
    journal.close();
    const path = join(dir, JOURNAL_FILE);
    truncateSync(path, statSync(path).size - 5);
    const torn = ProducerJournal.open(dir, WINDOW, 10);
    expect(torn.unreadable).toBe(true);
    expect(ranges(torn.claims)).toEqual(['t1/101:1-1', 't1/102:1-1']);
    torn.journal.close();
    // A flipped byte in the first entry: nothing after it is trusted either.
    const bytes = readFileSync(path);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(path, bytes);
    expect(ProducerJournal.open(dir, WINDOW, 10).claims).toEqual([]);
  });

  it('stays bounded: rewritten from memory, keeping each producer its last sequences', () => {
    const dir = fresh();
    const { journal } = ProducerJournal.open(dir, WINDOW, 0);
    // Two producers alternating, one publish per write: one entry each time, nothing to merge in a write.
    let end = 0;
    for (let s = 1; s <= 12_000; s++) {
      journal.note('t1', 1, s, ++end);
      journal.note('t1', 2, s, ++end);
      journal.written(end, 5_000);
    }
    expect(statSync(join(dir, JOURNAL_FILE)).size).toBeLessThan(1.1 * 1024 * 1024);
    journal.close();
    const { claims } = ProducerJournal.open(dir, WINDOW, end);
    expect(ranges(claims)).toEqual([
      `t1/1:${12_000 - WINDOW_SEQUENCES + 1}-12000`,
      `t1/2:${12_000 - WINDOW_SEQUENCES + 1}-12000`,
    ]);
  });

  it('stays bounded in producers too: the most recently written FELIX_DEDUP_MAX_PRODUCERS, rewritten as it doubles', () => {
    // 30,000 distinct producers, one publish each, one write each, under a bound of 1,000: found by an
    // outside review with 300,000, where the journal kept every producer (15 MB), and once past 1 MiB
    // rewrote all of it on every write.
    const dir = fresh();
    const file = join(dir, JOURNAL_FILE);
    const maxProducers = 1_000;
    const { journal } = ProducerJournal.open(dir, WINDOW, 0, maxProducers);
    const producers = 30_000;
    let rewrites = 0;
    let inode = -1;
    for (let id = 1; id <= producers; id++) {
      journal.note('t1', id, 1, id);
      journal.written(id, 1_000 + id);
      const now = statSync(file).ino;
      if (inode !== -1 && now !== inode) rewrites++;
      inode = now;
    }
    journal.close();
    const entry = encodeClaim({ tenant: 't1', producerId: 1, first: 1, last: 1, end: 1, at: 1 }).length;
    // Appends since the last rewrite on top of at most the bound's worth, never the 30,000.
    expect(statSync(file).size).toBeLessThanOrEqual(1024 * 1024 + maxProducers * entry);
    expect(rewrites).toBeGreaterThan(0);
    expect(rewrites).toBeLessThanOrEqual(Math.ceil((producers * entry) / (1024 * 1024)));
    const { claims } = ProducerJournal.open(dir, WINDOW, producers, maxProducers);
    expect(claims.map((c) => c.producerId)).toEqual(
      Array.from({ length: maxProducers }, (_, i) => producers - maxProducers + 1 + i),
    );
  });

  it('parses any bytes without throwing, and damage never yields a claim that was not written', () => {
    const written: ProducerClaim[] = [
      { tenant: 't1', producerId: 5, first: 1, last: 9, end: 9, at: 1 },
      { tenant: 'tenant-two', producerId: 2 ** 52, first: 3, last: 3, end: 12, at: 2 },
      { tenant: 't1', producerId: 6, first: 40, last: 4_000, end: 5_000, at: 3 },
    ];
    const valid = Buffer.concat(written.map(encodeClaim));
    const same = (a: ProducerClaim, b: ProducerClaim): boolean => JSON.stringify(a) === JSON.stringify(b);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const c of parseJournal(Buffer.from(bytes)).claims) {
          expect(c.first).toBeGreaterThanOrEqual(1);
          expect(c.last).toBeGreaterThanOrEqual(c.first);
        }
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(
        fc.nat(valid.length - 1),
        fc.integer({ min: 1, max: 255 }),
        fc.nat(valid.length),
        (at, flip, cut) => {
          const damaged = Buffer.from(valid);
          damaged[at] = damaged[at]! ^ flip;
          const { claims, whole } = parseJournal(damaged.subarray(0, cut));
          expect(whole && cut === valid.length).toBe(false);
          claims.forEach((c, i) => expect(same(c, written[i]!)).toBe(true));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
