/**
 * A bound on how many durable streams keep their write files (active segment, producer journal) open at
 * once. A stream about to write asks here; at the bound the least recently used idle stream is asked to
 * close its files (after an fsync, when its writes are unsynced), and the asking stream waits until one has
 * — its publishes are held, never refused — then reopens its files. NATS's filestore closes idle blocks'
 * files the same way: a broker with thousands of durable streams must not need a descriptor for each (at
 * `ulimit -n 256` ~170 streams took every descriptor, and new streams, the HTTP port and the metrics with
 * it, failed with EMFILE).
 */
/** A stream whose files the budget may ask to close. */
export interface FileHolder {
  /**
   * 'closed': the holder closed its files. 'closing': it fsyncs its unsynced writes first and tells the
   * budget `released` once closed (or, written meanwhile, asks `acquire` again). 'busy': a write or fsync
   * is in flight.
   */
  releaseFiles(): 'closed' | 'closing' | 'busy';
  /** Waited in `acquire` and may now open its files. */
  filesGranted(): void;
}

/** Holders looked at per eviction: a run of busy streams is moved behind, never scanned in full. */
const MAX_SCAN = 32;
/**
 * Shortages met this soon after a shed are the same one: the writes and opens begun before the idle holders
 * closed their files fail too, within milliseconds. Each shedding again cut a bound of 60 to 1 in 7 ms.
 */
export const SHED_HOLD_MS = 1000;
/** The bound starts rising back once the process went this long without running out of descriptors. */
export const QUIET_BEFORE_RISE_MS = 5000;
/** And then rises one step (an eighth, at least one) at most this often, up to the configured bound. */
export const RISE_EVERY_MS = 1000;

export class OpenFileBudget {
  /** Holders with open files, least recently used first (a Set keeps insertion order). */
  private readonly open = new Set<FileHolder>();
  /** The most recently used holder: a stream written continuously costs one comparison per write. */
  private newest: FileHolder | null = null;
  /** Holders waiting for another to close its files, first come first served. */
  private readonly waiting = new Set<FileHolder>();
  /** Holders asked to close, fsyncing first: counted as gone, so that one wait asks one holder to close. */
  private readonly closing = new Set<FileHolder>();

  /** The bound now: `configured`, or lower after the process ran out of descriptors. */
  private bound: number;
  /** When the process last ran out of descriptors (Date.now()), and when the bound last rose. */
  private lastShortage = -Infinity;
  private lastShed = -Infinity;
  private lastRise = -Infinity;

  constructor(private readonly configured: number) {
    this.bound = configured;
  }

  /** The bound now: the configured one, or lower since the process ran out of descriptors below it. */
  get limit(): number {
    return this.bound;
  }

  /** Holders with files open now. */
  get size(): number {
    return this.open.size;
  }

  /** Holders waiting for files. */
  get waiters(): number {
    return this.waiting.size;
  }

  /**
   * `holder` is about to use its files (opening them if closed): true when it may; false when the bound is
   * reached and no idle holder could close its files at once — `holder.filesGranted()` is called later.
   * Holders already waiting go first.
   */
  acquire(holder: FileHolder): boolean {
    if (this.newest === holder) return true;
    if (this.open.delete(holder)) {
      this.open.add(holder);
      this.newest = holder;
      this.closing.delete(holder);
      return true;
    }
    this.waiting.add(holder);
    this.makeRoom();
    return this.open.has(holder);
  }

  /** `holder` closed its files (asked earlier, or at shutdown): the first waiting holder gets its place. */
  released(holder: FileHolder): void {
    this.open.delete(holder);
    this.waiting.delete(holder);
    this.closing.delete(holder);
    if (this.newest === holder) this.newest = null;
    this.makeRoom();
  }

  /** `holder`, asked to close its files, was written meanwhile and keeps them. */
  keptOpen(holder: FileHolder): void {
    this.closing.delete(holder);
  }

  /**
   * The process ran out of descriptors with this many holders open: the bound was too high for the
   * process's limit (set by hand, or others took descriptors). It drops to three quarters of that, and idle
   * holders close their files down to it, so that sockets — the HTTP port's /ready and /metrics among
   * them — get descriptors again. Once per shortage: the failures met within SHED_HOLD_MS of a shed are
   * the same one. Returns whether the bound dropped.
   */
  shed(now = Date.now()): boolean {
    // Every shortage puts the rise back, the ones not shed for too.
    this.lastShortage = now;
    if (now - this.lastShed < SHED_HOLD_MS) return false;
    const lower = Math.max(1, Math.floor(((this.open.size - this.closing.size) * 3) / 4));
    if (lower >= this.bound) return false;
    this.lastShed = now;
    this.bound = lower;
    this.evict(lower);
    this.grant();
    return true;
  }

  /**
   * Called periodically: a bound lowered by shed() rises back towards the configured one, a step (an
   * eighth, at least one) per RISE_EVERY_MS once QUIET_BEFORE_RISE_MS passed without a shortage — the
   * descriptors it lacked (taken by connections, say) may be free again. A bound still too high meets a
   * shortage again and is shed again. Returns whether the bound rose.
   */
  rise(now = Date.now()): boolean {
    if (this.bound >= this.configured) return false;
    if (now - this.lastShortage < QUIET_BEFORE_RISE_MS || now - this.lastRise < RISE_EVERY_MS) return false;
    this.lastRise = now;
    this.bound = Math.min(this.configured, this.bound + Math.max(1, Math.floor(this.bound / 8)));
    this.grant();
    return true;
  }

  /** Whether the bound is the configured one (never lowered, or risen back). */
  get atConfigured(): boolean {
    return this.bound >= this.configured;
  }

  private evict(target: number): void {
    const scan = Math.min(MAX_SCAN, this.open.size);
    for (let scanned = 0; this.open.size - this.closing.size > target && scanned < scan; scanned++) {
      const oldest = this.open.values().next().value!;
      this.open.delete(oldest);
      if (this.newest === oldest) this.newest = null;
      if (this.closing.has(oldest)) {
        this.open.add(oldest);
        continue;
      }
      const answer = oldest.releaseFiles();
      if (answer === 'closed') continue;
      // Busy, or closing after its fsync: behind the others.
      this.open.add(oldest);
      if (answer === 'closing') this.closing.add(oldest);
    }
  }

  /**
   * As many holders asked to close as wait (those fsyncing first count), then the places handed out.
   * Called by a holder that became idle while others wait, as well as on every acquire and release.
   */
  makeRoom(): void {
    if (this.waiting.size > 0) this.evict(Math.max(0, this.bound - this.waiting.size));
    this.grant();
  }

  private grant(): void {
    while (this.waiting.size > 0 && this.open.size < this.limit) {
      const next = this.waiting.values().next().value!;
      this.waiting.delete(next);
      this.open.add(next);
      next.filesGranted();
    }
  }
}
