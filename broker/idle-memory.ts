/**
 * FELIX_IDLE_MEMORY_RETURN_MS: the broker process gives memory back to the operating system once it has
 * fallen quiet after a burst, as a Go server's scavenger or Redis's allocator purge do. Applied by the broker
 * process to itself (never by a BrokerNode embedded in another program, whose heap is not the broker's).
 *
 * Why: a burst (a load test, a flood of datagrams, a slow consumer's queue) leaves the process tens or
 * hundreds of MiB larger, and an idle broker never gets it back (docs/benchmarks.md, "Idle memory
 * return"). V8 frees a dead Buffer's memory only at a collection, and an idle broker allocates too little
 * to trigger one; and glibc keeps the freed pages of its heap whatever happens, because they sit below live
 * allocations (only `malloc_trim` hands them back). So when the event loop has been nearly idle for the
 * whole quiet period and the resident set is `RETURN_AFTER_GROWTH_BYTES` above the least it has held, the
 * broker runs a full collection (a pause of tens of milliseconds, taken while it has nothing to do) and, at
 * the next quiet sample, glibc's malloc_trim(0) on a libuv worker thread, so the event loop keeps running
 * while the pages are handed back. A broker busy all the time never does either; one holding more than its
 * floor because the memory is in use (a full cache) backs off, doubling its wait up to five minutes.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { loadLibc } from '../transport/libc.js';

/** How often the event loop's utilization and the resident set are read. */
const SAMPLE_MS = 1_000;
/**
 * Busier than this over a sample and the broker is not quiet. An idle broker reads under 1%, scraped by
 * Prometheus once a second ~1% (a scrape costs it a few milliseconds), ten times a second 5-13%.
 */
const QUIET_UTILIZATION = 0.05;
/** Memory held above the process's floor that is worth a return, and growth that is a new burst. */
export const RETURN_AFTER_GROWTH_BYTES = 8 * 1024 * 1024;
/** The longest a return that gave little makes the next wait (unless the setting itself is longer). */
export const MAX_BACKOFF_MS = 300_000;

export interface MemoryReturn {
  readonly rssBefore: number;
  readonly rssAfter: number;
  /** The collection's pause of the event loop. */
  readonly collectMs: number;
  /** How long the trim took on its worker thread (the event loop ran meanwhile); 0 without one. */
  readonly trimMs: number;
  /** The quiet period the next return waits for. */
  readonly nextQuietMs: number;
}

export interface IdleMemoryStats {
  readonly returns: number;
  /** Resident bytes the returns gave back, summed (what the process read before minus after each). */
  readonly returnedBytes: number;
  readonly last: MemoryReturn | null;
}

/** The collection and trim one return runs; injectable so the policy can be tested without real memory. */
export interface MemoryReleasers {
  /** A full garbage collection of V8's heap. */
  readonly collect: () => void;
  /** glibc's malloc_trim(0) off the event loop, calling `done` on it; null where it cannot be called. */
  readonly trim: ((done: () => void) => void) | null;
  /** The resident set in bytes; throws (or answers NaN) when it cannot be read now. */
  readonly rss: () => number;
}

interface Collected {
  readonly rssBefore: number;
  readonly collectMs: number;
}

export class IdleMemoryReturner {
  private timer: NodeJS.Timeout | null = null;
  private lastLoop: EventLoopUtilization = performance.eventLoopUtilization();
  private quietSince = 0;
  /** When the last sample was taken (decide's clock). */
  private sampledAt = 0;
  /** The least the process has been seen to hold: at start, after a return, or lower on its own. */
  private floor: number;
  /** What the last return left (growth past it by RETURN_AFTER_GROWTH_BYTES is a new burst). */
  private lastAfter: number;
  /** The quiet period the next return waits for: quietMs, doubled after each return that gave little. */
  private wait: number;
  /** A return whose collection ran and whose trim waits for the next quiet sample. */
  private collected: Collected | null = null;
  private trimming = false;
  private returns = 0;
  private returnedBytes = 0;
  private last: MemoryReturn | null = null;

  /**
   * `onFailure` hears every error a sample meets (the resident set unreadable, a releaser throwing): the
   * sampler goes on without it, so this is how an operator learns that the return is not working.
   */
  constructor(
    private readonly quietMs: number,
    private readonly releasers: MemoryReleasers,
    private readonly onReturn: (r: MemoryReturn) => void = () => {},
    private readonly onFailure: (err: unknown) => void = () => {},
  ) {
    this.floor = this.lastAfter = known(this.rss());
    this.wait = quietMs;
  }

  /** Starts sampling once a second; what the process holds now (the broker listening) is the floor. */
  start(): void {
    if (this.timer !== null) return;
    this.floor = this.lastAfter = known(this.rss());
    this.lastLoop = performance.eventLoopUtilization();
    this.quietSince = this.sampledAt = performance.now();
    this.timer = setInterval(() => this.sampleSafely(), SAMPLE_MS).unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  stats(): IdleMemoryStats {
    return { returns: this.returns, returnedBytes: this.returnedBytes, last: this.last };
  }

  /**
   * A sample from the timer: best effort, never the process's end. (Reading the resident set opens
   * /proc/self/stat, which fails while the process is out of file descriptors: test/durability/
   * open-files.test.ts found the broker dying of it; the reading is NaN then, and anything else thrown
   * skips the sample.) Either is passed to onFailure.
   */
  private sampleSafely(): void {
    try {
      this.sample();
    } catch (err) {
      this.collected = null;
      this.onFailure(err);
    }
  }

  /** The resident set, or NaN (the failure passed to onFailure) when it cannot be read now. */
  private rss(): number {
    try {
      return this.releasers.rss();
    } catch (err) {
      this.onFailure(err);
      return Number.NaN;
    }
  }

  /** One sample of the event loop's utilization since the last. */
  sample(): void {
    const loop = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(loop, this.lastLoop).utilization;
    this.lastLoop = loop;
    this.decide(performance.now(), busy);
  }

  /**
   * What one sample leads to, at `now` (ms) with the loop busy `busy` of the time since the previous one.
   * A busy sample restarts the quiet period (and drops a trim still to come: the allocator will reuse those
   * pages). After a quiet period of `wait`, while the process holds RETURN_AFTER_GROWTH_BYTES more than its
   * floor, it collects; the next quiet sample trims. Memory still live at a return may be garbage later
   * (connections a flood left open until their idle timeout), so a return that gave little does not end
   * the watch: the wait doubles (up to MAX_BACKOFF_MS), and a new burst (growth past what the last return
   * left) brings it back to quietMs.
   */
  decide(now: number, busy: number): void {
    this.sampledAt = now;
    if (this.trimming) return;
    if (busy > QUIET_UTILIZATION) {
      this.quietSince = now;
      this.collected = null;
      return;
    }
    if (this.collected !== null) {
      this.trim(this.collected);
      return;
    }
    const rss = this.rss();
    // Not readable now (no file descriptor to read it with): this sample decides nothing.
    if (Number.isNaN(rss)) return;
    this.floor = Math.min(this.floor, rss);
    if (rss - this.lastAfter >= RETURN_AFTER_GROWTH_BYTES) this.wait = this.quietMs;
    if (now - this.quietSince < this.wait || rss - this.floor < RETURN_AFTER_GROWTH_BYTES) return;
    const started = performance.now();
    this.releasers.collect();
    this.collected = { rssBefore: rss, collectMs: performance.now() - started };
    if (this.releasers.trim === null) this.finish(this.collected, 0);
    // The collection's own pause is not traffic: the next sample measures from here.
    else this.lastLoop = performance.eventLoopUtilization();
  }

  private trim(collected: Collected): void {
    const started = performance.now();
    this.trimming = true;
    this.releasers.trim!(() => {
      this.trimming = false;
      try {
        this.finish(collected, performance.now() - started);
      } catch (err) {
        // As sampleSafely: a return that cannot be accounted for is forgotten, never thrown.
        this.onFailure(err);
      }
    });
  }

  private finish(collected: Collected, trimMs: number): void {
    const { rssBefore, collectMs } = collected;
    // Unreadable afterwards: counted as giving nothing back.
    const read = this.rss();
    const rssAfter = Number.isNaN(read) ? rssBefore : read;
    const returned = Math.max(0, rssBefore - rssAfter);
    this.collected = null;
    this.floor = Math.min(this.floor, rssAfter);
    this.lastAfter = rssAfter;
    this.wait =
      returned >= RETURN_AFTER_GROWTH_BYTES
        ? this.quietMs
        : Math.min(this.wait * 2, Math.max(this.quietMs, MAX_BACKOFF_MS));
    this.returns++;
    this.returnedBytes += returned;
    this.last = { rssBefore, rssAfter, collectMs, trimMs, nextQuietMs: this.wait };
    this.lastLoop = performance.eventLoopUtilization();
    this.quietSince = this.sampledAt;
    this.onReturn(this.last);
  }
}

/**
 * This process's releasers: V8's `gc` (exposed for this process with --expose-gc, read from a fresh
 * context) and glibc's malloc_trim on libuv's thread pool (transport/libc.ts, the transport's koffi
 * binding). Returns what the start log says about the trim when it is unavailable.
 */
export function processReleasers(): { releasers: MemoryReleasers; trimUnavailable: string | null } {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (options?: object) => void;
  // A full collection, not V8's last-resort one: that also shrinks the young generation, which traffic
  // grows back at once, and paused the broker 4-7 times longer for ~8 MiB more (docs/benchmarks.md).
  const collect = (): void => gc({ type: 'major', execution: 'sync' });
  // Throws EMFILE while /proc/self/stat cannot be opened; the returner passes that on to its onFailure.
  const rss = (): number => process.memoryUsage.rss();
  const libc = loadLibc();
  if (typeof libc === 'string') return { releasers: { collect, trim: null, rss }, trimUnavailable: libc };
  return { releasers: { collect, trim: libc.mallocTrimAsync, rss }, trimUnavailable: null };
}

/** A first reading, or infinity while the resident set cannot be read: the floor is set by the next. */
function known(rss: number): number {
  return Number.isNaN(rss) ? Number.POSITIVE_INFINITY : rss;
}
