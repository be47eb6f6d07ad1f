// The idle memory return's policy (broker/idle-memory.ts) driven sample by sample, with the process's
// memory and its releasers played by a model: when it collects and trims, and how it backs off.
import { describe, expect, it } from 'vitest';
import {
  IdleMemoryReturner,
  MAX_BACKOFF_MS,
  RETURN_AFTER_GROWTH_BYTES,
  type MemoryReturn,
} from '../../broker/idle-memory.js';

const MiB = 1024 * 1024;
const QUIET_MS = 10_000;
const BUSY = 0.5;
const IDLE = 0.001;

/** A process holding `live` bytes in use and `garbage` bytes a collection frees and a trim gives back. */
class ModelProcess {
  live = 100 * MiB;
  garbage = 0;
  collections = 0;
  trims = 0;
  /** The resident set cannot be read (out of file descriptors: /proc/self/stat does not open). */
  unreadable = false;
  /** What the returner passed on to its onFailure. */
  readonly failures: unknown[] = [];
  /** Freed by a collection, still resident until a trim. */
  private freed = 0;
  readonly returns: MemoryReturn[] = [];
  readonly returner = new IdleMemoryReturner(
    QUIET_MS,
    {
      collect: () => {
        this.collections++;
        this.freed += this.garbage;
        this.garbage = 0;
      },
      trim: (done) => {
        this.trims++;
        this.freed = 0;
        done();
      },
      rss: () => {
        // As process.memoryUsage.rss() then.
        if (this.unreadable)
          throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
        return this.live + this.garbage + this.freed;
      },
    },
    (r) => this.returns.push(r),
    (err) => this.failures.push(err),
  );
  private now = 0;

  /** `seconds` samples a second apart, the loop busy `busy` of each. */
  run(seconds: number, busy: number): void {
    for (let i = 0; i < seconds; i++) this.returner.decide((this.now += 1000), busy);
  }
}

describe('idle memory return policy', () => {
  it('waits out a busy period, then collects on the quiet period and trims at the next sample', () => {
    const p = new ModelProcess();
    p.garbage = 50 * MiB;
    p.run(60, BUSY);
    expect(p.collections).toBe(0);
    p.run(QUIET_MS / 1000 - 1, IDLE);
    expect(p.collections).toBe(0);
    p.run(1, IDLE);
    expect([p.collections, p.trims]).toEqual([1, 0]);
    p.run(1, IDLE);
    expect([p.collections, p.trims]).toEqual([1, 1]);
    expect(p.returns).toHaveLength(1);
    expect(p.returns[0]!.rssBefore - p.returns[0]!.rssAfter).toBe(50 * MiB);
    expect(p.returns[0]!.nextQuietMs).toBe(QUIET_MS);
  });

  it('drops the trim when traffic resumes between the collection and it', () => {
    const p = new ModelProcess();
    p.garbage = 50 * MiB;
    p.run(QUIET_MS / 1000, IDLE);
    expect(p.collections).toBe(1);
    p.run(1, BUSY);
    expect(p.trims).toBe(0);
    expect(p.returns).toHaveLength(0);
  });

  it('does nothing while the process holds no more than its floor and a little', () => {
    const p = new ModelProcess();
    p.garbage = RETURN_AFTER_GROWTH_BYTES - 1;
    p.run(600, IDLE);
    expect(p.collections).toBe(0);
  });

  it('backs off while what it holds is in use, and catches what becomes garbage later', () => {
    const p = new ModelProcess();
    // A flood: connections hold 200 MiB until their idle timeout, after the first return.
    p.live += 200 * MiB;
    p.garbage = 50 * MiB;
    p.run(QUIET_MS / 1000 + 1, IDLE);
    expect(p.returns).toHaveLength(1);
    expect(p.returns[0]!.nextQuietMs).toBe(QUIET_MS);
    // Nothing more to give: each return gives little and the wait doubles, up to the cap.
    p.run(3_600, IDLE);
    const waits = p.returns.slice(1).map((r) => r.nextQuietMs);
    expect(waits.slice(0, 3)).toEqual([2 * QUIET_MS, 4 * QUIET_MS, 8 * QUIET_MS]);
    expect(Math.max(...waits)).toBe(MAX_BACKOFF_MS);
    expect(p.returns.length).toBeLessThan(3_600 / (MAX_BACKOFF_MS / 1000) + 8);
    // The connections close: their 200 MiB are garbage, which the next return gives back.
    p.garbage += 200 * MiB;
    p.live -= 200 * MiB;
    const before = p.returns.length;
    p.run(MAX_BACKOFF_MS / 1000 + 2, IDLE);
    expect(p.returns.length).toBe(before + 1);
    expect(p.returns.at(-1)!.rssAfter).toBe(100 * MiB);
    expect(p.returns.at(-1)!.nextQuietMs).toBe(QUIET_MS);
  });

  it('comes back to the short wait when a new burst grows the process again', () => {
    const p = new ModelProcess();
    p.live += 100 * MiB;
    p.garbage = 20 * MiB;
    p.run(QUIET_MS / 1000 + 1, IDLE);
    p.run(200, IDLE);
    expect(p.returns.at(-1)!.nextQuietMs).toBeGreaterThan(QUIET_MS);
    const before = p.returns.length;
    p.run(30, BUSY);
    p.garbage += 40 * MiB;
    p.run(QUIET_MS / 1000 + 1, IDLE);
    expect(p.returns.length).toBe(before + 1);
    expect(p.returns.at(-1)!.rssBefore - p.returns.at(-1)!.rssAfter).toBe(40 * MiB);
  });

  it('decides nothing while the resident set cannot be read, passing each failure on, and goes on once it can', () => {
    const p = new ModelProcess();
    p.garbage = 50 * MiB;
    p.unreadable = true;
    expect(() => p.run(QUIET_MS / 1000 + 5, IDLE)).not.toThrow();
    expect(p.collections).toBe(0);
    expect(p.failures).toHaveLength(QUIET_MS / 1000 + 5);
    expect(p.failures[0]).toMatchObject({ code: 'EMFILE' });
    p.unreadable = false;
    p.run(2, IDLE);
    expect([p.collections, p.trims, p.returns.length]).toEqual([1, 1, 1]);
  });
});
