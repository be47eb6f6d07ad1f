/**
 * Every durable stream of the broker: finds and recovers them at start (FELIX_DURABLE_STORAGE_DIR/<tenant>/
 * <namespace>/<stream>/), opens new ones as streams are created, and runs the background work — periodic
 * fsync, retention (a bounded number of segments per tick) and retries of failed writes.
 */
import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import type { Logger } from 'pino';
import { isValidName } from '../../config/tenants.js';
import { newStreamEpoch } from '../core/stream-epoch.js';
import { fileFailure } from '../startup-error.js';
import {
  STORAGE_RETRY_MS,
  StorageOpenError,
  type StorageProvider,
  type StreamStorage,
} from '../core/stream-storage.js';
import { damagedFile } from './damaged-file.js';
import {
  DurableStream,
  outOfDescriptors,
  refusalCode,
  type DurablePolicy,
  type FsyncPolicy,
  type Retention,
} from './durable-stream.js';
import { defaultOpenStreams, readSoftFileLimit } from './file-limit.js';
import { OpenFileBudget } from './open-file-budget.js';
import { JOURNAL_FILE, ProducerJournal, type ProducerClaim } from './producer-journal.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { SegmentLog } from './segment-log.js';
import { parseSegmentFileName } from './segment.js';
import { OffsetReservation, readReservation } from './offset-reservation.js';
import { inspectSealedSegments } from './segment-gaps.js';
import { readSkipped, recordSkipped, type SkippedRange } from './skipped-offsets.js';
import { META_FILE, readStreamMeta, writeStreamMeta, type StreamMeta } from './stream-meta.js';
import { StorageStats } from './storage-stats.js';
import { makeDirectory, removeStaleTemporaries } from './atomic-file.js';

export interface DurableStoreOptions {
  readonly dir: string;
  /** Auto-created streams are durable (FELIX_DURABLE_DEFAULT). */
  readonly durableDefault: boolean;
  /** Streams the YAML declares durable, by `tenant/namespace/stream`, with their own retention if any. */
  readonly declared: ReadonlyMap<string, Partial<Retention>>;
  readonly fsync: FsyncPolicy;
  readonly fsyncIntervalMs: number;
  readonly acksOnCommit: boolean;
  readonly retention: Retention;
  readonly segmentBytes: number;
  readonly maxRecordBytes: number;
  readonly backlogBytes?: number;
  readonly readChunkBytes?: number;
  /**
   * FELIX_DEDUP_WINDOW_MS: each stream journals which producers' publishes its log holds, for that long
   * (producer-journal.ts). 0 or absent: no journal (the broker keeps no producer state).
   */
  readonly dedupWindowMs?: number;
  /** FELIX_DEDUP_MAX_PRODUCERS: most producers a stream's journal remembers (absent: no bound). */
  readonly dedupMaxProducers?: number;
  /**
   * FELIX_DURABLE_MAX_OPEN_STREAMS: most streams with their write files open at once; the least recently
   * written idle ones close theirs past it. 0 or absent: derived from the soft open-file limit.
   */
  readonly maxOpenStreams?: number;
}

/** Background passes per second of retention and write retries; each removes at most a few segments. */
const MAINTENANCE_TICK_MS = 250;
/**
 * 64 segments a second over all streams: a bounded number of unlinks per pass, enough for retention to keep
 * up with a stream filling 64 segments a second (4 MB/s at the smallest 64 KiB segments, 4 GiB/s at the
 * default 64 MiB). At 4 per pass a 3 MB/s stream on 64 KiB segments outgrew its 1 MiB limit 15-fold.
 */
const SEGMENTS_REMOVED_PER_TICK = 16;

export function streamKey(tenant: string, namespace: string, stream: string): string {
  return `${tenant}/${namespace}/${stream}`;
}

export class DurableStore implements StorageProvider {
  readonly stats = new StorageStats();
  private readonly streams = new Map<string, DurableStream>();
  /**
   * Streams found damaged at start (by key, or `tenant/` and `tenant/namespace/` for a directory that could
   * not be listed), with what their clients are told: refused, never served from memory or created afresh.
   */
  private readonly damaged = new Map<string, string>();
  /** Streams whose files could not be created (a full disk): logged and counted once until they open. */
  private readonly openFailures = new Set<string>();
  private readonly policy: DurablePolicy;
  private fsyncTimer: NodeJS.Timeout | null = null;
  private maintenanceTimer: NodeJS.Timeout | null = null;
  private nextRetryAt = 0;
  /** Round-robin start of the retention pass, so that no stream is always served last. */
  private retentionCursor = 0;
  /** What the journals of the streams recovered at start say their logs hold (takeRecoveredProducers). */
  private recoveredProducers: ProducerClaim[] = [];
  /** Streams with open write files, bounded (open-file-budget.ts). */
  readonly openFiles: OpenFileBudget;
  /** Failures of many streams at once (out of descriptors, a full disk) logged at a bounded rate. */
  private readonly errors: RateLimitedLog;

  constructor(
    private readonly options: DurableStoreOptions,
    private readonly logger: Logger,
  ) {
    this.policy = {
      fsync: options.fsync,
      acksOnCommit: options.acksOnCommit,
      backlogBytes: options.backlogBytes ?? 64 * 1024 * 1024,
      readChunkBytes: options.readChunkBytes ?? 256 * 1024,
      maxRecordBytes: options.maxRecordBytes,
    };
    const max = options.maxOpenStreams ?? 0;
    this.openFiles = new OpenFileBudget(max > 0 ? max : defaultOpenStreams(readSoftFileLimit()));
    this.errors = new RateLimitedLog(logger);
    this.recoverAll();
  }

  /** Durable streams, open. */
  get all(): IterableIterator<DurableStream> {
    return this.streams.values();
  }

  /** Bytes on disk, summed over streams, and segments. */
  totals(): { bytes: number; segments: number; streams: number; refusing: number } {
    let bytes = 0;
    let segments = 0;
    let refusing = 0;
    for (const s of this.streams.values()) {
      bytes += s.log.bytes;
      segments += s.log.segmentCount;
      if (s.refusal !== null) refusing++;
    }
    // Streams found damaged at start refuse everything: the alert on refusing streams must see them.
    refusing += this.damaged.size;
    return { bytes, segments, streams: this.streams.size, refusing };
  }

  /** Whether nothing waits to be written or committed in any stream. */
  get idle(): boolean {
    for (const s of this.streams.values()) if (!s.idle) return false;
    return true;
  }

  open(tenant: string, namespace: string, stream: string): StreamStorage | null {
    const key = streamKey(tenant, namespace, stream);
    const existing = this.streams.get(key);
    if (existing !== undefined) return existing;
    const damage = this.damageOf(tenant, namespace, key);
    if (damage !== undefined) throw new StorageOpenError('storage_error', damage);
    if (!this.options.durableDefault && !this.options.declared.has(key)) return null;
    const dir = join(this.options.dir, tenant, namespace, stream);
    try {
      const meta =
        readStreamMeta(dir) ??
        writeStreamMeta(dir, {
          tenant,
          namespace,
          stream,
          epoch: newStreamEpoch(),
          createdAt: new Date().toISOString(),
        });
      const opened = this.openStream(key, dir, meta.epoch);
      this.openFailures.delete(key);
      return opened;
    } catch (err) {
      // A new stream's files on a full disk: its publishes are refused as any full stream's are
      // (storage_full), and the failure is counted and logged like a failed write — once until it opens.
      if (!this.openFailures.has(key)) {
        this.openFailures.add(key);
        this.stats.writeErrors++;
        this.errors.error(key, err, 'durable stream storage failed');
      }
      if (outOfDescriptors(err) && this.openFiles.shed()) {
        this.logger.warn(
          { maxOpenStreams: this.openFiles.limit },
          'out of file descriptors: fewer durable streams keep their files open from now on',
        );
      }
      // The client hears the kind of failure, not this host's paths (the log line has the whole error).
      const errno = (err as NodeJS.ErrnoException).code ?? 'unexpected error';
      throw new StorageOpenError(refusalCode(err), `the stream's files could not be opened (${errno})`);
    }
  }

  /**
   * The producers' publishes the recovered logs hold, by range, for the broker's duplicate window; handed
   * over once (the list is then let go).
   */
  takeRecoveredProducers(): ProducerClaim[] {
    const claims = this.recoveredProducers;
    this.recoveredProducers = [];
    return claims;
  }

  start(): void {
    if (this.options.fsync === 'periodic') {
      this.fsyncTimer = setInterval(() => {
        for (const s of this.streams.values()) s.requestSync();
      }, this.options.fsyncIntervalMs);
      this.fsyncTimer.unref();
    }
    this.maintenanceTimer = setInterval(() => this.maintain(), MAINTENANCE_TICK_MS);
    this.maintenanceTimer.unref();
  }

  /** Clean shutdown: every stream writes what it holds, syncs and closes. */
  /**
   * No periodic fsync, retention or retry starts from now on (shutdown: what is in flight is waited for,
   * see ioInFlight, then stop() writes and syncs the rest).
   */
  stopTimers(): void {
    if (this.fsyncTimer !== null) clearInterval(this.fsyncTimer);
    if (this.maintenanceTimer !== null) clearInterval(this.maintenanceTimer);
    this.fsyncTimer = null;
    this.maintenanceTimer = null;
  }

  /** Some stream has a write or fsync in flight: stop() now would abandon it. */
  get ioInFlight(): boolean {
    for (const s of this.streams.values()) if (s.ioInFlight) return true;
    return false;
  }

  stop(): void {
    this.stopTimers();
    for (const s of this.streams.values()) s.close();
    this.errors.flush();
  }

  /**
   * One background pass: retention (bounded), once a second retries of failed writes, and the open-file
   * bound rising back after a shortage.
   */
  maintain(now = Date.now()): void {
    const streams = [...this.streams.values()];
    let removed = 0;
    // The pass's budget is shared by all streams, from a cursor that moves on each pass so that none is
    // starved; one stream may take all of it (a single busy stream keeps up to the documented rate).
    for (let i = 0; i < streams.length && removed < SEGMENTS_REMOVED_PER_TICK; i++) {
      const s = streams[(this.retentionCursor + i) % streams.length]!;
      while (removed < SEGMENTS_REMOVED_PER_TICK && s.enforceRetention(now)) removed++;
    }
    this.retentionCursor = streams.length === 0 ? 0 : (this.retentionCursor + 1) % streams.length;
    if (now >= this.nextRetryAt) {
      this.nextRetryAt = now + STORAGE_RETRY_MS;
      for (const s of streams) s.retry();
    }
    if (this.openFiles.rise(now) && this.openFiles.atConfigured) {
      this.logger.info(
        { maxOpenStreams: this.openFiles.limit },
        'file descriptors available again: durable streams keep their files open up to the configured bound',
      );
    }
  }

  private readonly countLoopWrite = (slow: boolean): void => {
    this.stats.loopWrites++;
    if (slow) this.stats.slowLoopWrites++;
  };

  /**
   * Opens a stream's log and the files beside it. `readOnly` (the errno that says its files cannot be
   * written): nothing is written, not even at recovery, and the stream serves its events and refuses
   * publishes.
   */
  private openStream(key: string, dir: string, epoch: number, readOnly?: string): DurableStream {
    if (readOnly === undefined) removeStaleTemporaries(dir);
    const reservation = readReservation(dir);
    const reservedTo = reservation?.mark;
    const log = SegmentLog.open(dir, {
      segmentBytes: this.options.segmentBytes,
      maxRecordBytes: this.options.maxRecordBytes,
      writeFromLoop: this.options.fsync !== 'on_commit',
      onLoopWrite: this.countLoopWrite,
      reservedTo,
      readOnly: readOnly !== undefined,
    });
    const r = log.recovery;
    if (r.setAside !== null) {
      this.logger.warn(
        { stream: key, path: r.setAside, nextOffset: r.nextOffset },
        'durable stream: a last segment holding no record where the log ended set aside',
      );
    }
    if (r.truncatedBytes > 0) {
      this.stats.tornTails++;
      this.stats.truncatedBytes += r.truncatedBytes;
      this.logger.warn(
        {
          stream: key,
          truncatedBytes: r.truncatedBytes,
          because: r.truncatedBecause,
          nextOffset: r.nextOffset,
        },
        readOnly === undefined
          ? 'durable stream: torn tail truncated'
          : 'durable stream: torn tail found; left in its file (read-only), the log ends before it',
      );
    }
    if (r.holes > 0) {
      this.stats.corruptRecords += r.holes;
      this.logger.error(
        { stream: key, holes: r.holes, holeBytes: r.holeBytes, nextOffset: r.nextOffset },
        'durable stream: damaged records in the last segment skipped; the whole records after them kept',
      );
    }
    const skipped = this.readSkipped(key, dir);
    const sealed = inspectSealedSegments(log.segmentList, this.options.maxRecordBytes, skipped);
    for (const path of sealed.unended) {
      this.stats.damagedSegments++;
      this.logger.error(
        { stream: key, path },
        'durable stream: a sealed segment does not end with a whole record (cut short or damaged): ' +
          'readers skip the damage, a gap to subscribers',
      );
    }
    for (const gap of sealed.missing) {
      this.stats.offsetsMissing += gap.to - gap.from;
      this.logger.error(
        { stream: key, from: gap.from, to: gap.to, next: gap.next },
        'durable stream: offsets missing between its segments (a segment file lost): a gap to subscribers',
      );
    }
    if (reservation !== undefined && reservation.mark > log.nextOffset) {
      const gap = { stream: key, logEnd: log.nextOffset, nextOffset: reservation.mark };
      if (reservation.clean) {
        // Stopped cleanly with every offset below the mark in the log: records were lost since (the last
        // segment removed, emptied or cut short between runs). The same gap, but damage, reported so.
        this.stats.offsetsMissing += reservation.mark - log.nextOffset;
        this.logger.error(
          gap,
          'durable stream: offsets missing at the end of its log, which held them when it was stopped ' +
            'cleanly (its last segment lost or cut short since): a gap to subscribers, never reused',
        );
      } else {
        // Not stopped cleanly: offsets up to the mark may have reached subscribers (and acks) with events
        // the crash took before they were written. They stay a gap; new events never take them.
        this.stats.offsetsSkipped += reservation.mark - log.nextOffset;
        this.logger.warn(
          gap,
          'durable stream: not stopped cleanly; offsets from the log end to nextOffset may have been given ' +
            'out and lost (FELIX_ACK_ON_COMMIT off): they are skipped, a gap to subscribers, never reused',
        );
      }
      // Read-only, no offset is given out: the skip is left for the next start on writable storage to make.
      if (readOnly === undefined) {
        this.recordSkip(key, dir, skipped, { from: log.nextOffset, to: reservation.mark }, log.oldestOffset);
        log.skipTo(reservation.mark);
      }
    }
    const declared = this.options.declared.get(key) ?? {};
    const retention: Retention = {
      bytes: declared.bytes ?? this.options.retention.bytes,
      ms: declared.ms ?? this.options.retention.ms,
    };
    const stream = new DurableStream(key, log, epoch, this.policy, retention, this.stats, this.logger);
    stream.files = this.openFiles;
    stream.errors = this.errors;
    if (readOnly !== undefined) {
      stream.serveReadOnly({
        code: 'storage_error',
        message:
          `the stream's files cannot be written (${readOnly}): its events are served, its publishes ` +
          'refused until the broker restarts with writable storage',
      });
      this.streams.set(key, stream);
      return stream;
    }
    stream.journal = this.openJournal(key, dir, r.intactTo);
    stream.reservation = new OffsetReservation(
      dir,
      log.nextOffset,
      (err) => {
        this.stats.reservationErrors++;
        this.errors.error(key, err, 'durable stream: could not write its offset reservation');
      },
      reservation === undefined || (reservation.clean && reservation.mark === log.nextOffset),
    );
    this.streams.set(key, stream);
    return stream;
  }

  /**
   * The offsets the stream skipped after unclean stops (skipped-offsets.ts). A file that cannot be read is
   * logged and taken as empty: it serves only to tell those gaps from a lost segment's.
   */
  private readSkipped(key: string, dir: string): SkippedRange[] {
    try {
      return readSkipped(dir);
    } catch (err) {
      this.logger.warn(
        { stream: key, ...damagedFile(err, dir) },
        'durable stream: skipped.json unreadable; the gaps that unclean stops left may be reported as missing offsets',
      );
      return [];
    }
  }

  /**
   * Notes a skip before the log continues past it. Not written (a full disk), the skip still happens —
   * offsets must never be given out twice — and a later start reports its gap as missing offsets.
   */
  private recordSkip(
    key: string,
    dir: string,
    known: readonly SkippedRange[],
    skip: SkippedRange,
    oldest: number,
  ): void {
    try {
      recordSkipped(dir, known, skip, oldest);
    } catch (err) {
      this.logger.warn(
        { stream: key, err, from: skip.from, to: skip.to },
        'durable stream: could not record the offsets skipped; a later start will report them as missing',
      );
    }
  }

  /**
   * The stream's producer journal, its claims on a log whole below `intactTo` added to those recovered.
   * One that cannot be read or written is logged and done without: publishes are never refused for it.
   */
  private openJournal(key: string, dir: string, intactTo: number): ProducerJournal | null {
    const windowMs = this.options.dedupWindowMs ?? 0;
    if (windowMs === 0) return null;
    try {
      const { journal, claims, dropped, unreadable } = ProducerJournal.open(
        dir,
        windowMs,
        intactTo,
        this.options.dedupMaxProducers,
      );
      for (const c of claims) this.recoveredProducers.push(c);
      if (dropped > 0 || unreadable) {
        this.logger.warn(
          { stream: key, dropped, unreadable },
          'producer journal: claims on events the log no longer holds (or past the dedup window) dropped',
        );
      }
      return journal;
    } catch (err) {
      // Its claims were not checked against the log (or not rewritten without those that fail): left on
      // disk, a later start could trust a claim on offsets the log has since given to other events.
      let removed = true;
      try {
        fs.rmSync(join(dir, JOURNAL_FILE), { force: true });
      } catch {
        removed = false;
      }
      this.logger.warn(
        { stream: key, err, removed },
        'producer journal could not be opened: publishes resent across a restart may be appended again',
      );
      return null;
    }
  }

  /**
   * A stream directory without stream.json: nothing (undefined) unless segments are there. Those are a
   * durable stream's log whose metadata was lost, and its data is never dropped or served as a new stream
   * from offset 0: it is recovered under a new epoch (the old one went with the file, and an epoch is what
   * tells clients holding offsets whether they still count the same history: a new one makes them treat
   * the stream as new rather than trust offsets nobody can vouch for), written to a new stream.json.
   */
  private adoptOrphanLog(
    key: string,
    dir: string,
    tenant: string,
    namespace: string,
    stream: string,
  ): StreamMeta | undefined {
    if (!hasSegments(dir)) return undefined;
    const meta = writeStreamMeta(dir, {
      tenant,
      namespace,
      stream,
      epoch: newStreamEpoch(),
      createdAt: new Date().toISOString(),
    });
    this.logger.warn(
      { stream: key, path: join(dir, META_FILE), epoch: meta.epoch },
      'durable stream: stream.json missing; its segments recovered under a new epoch (the old epoch is lost)',
    );
    return meta;
  }

  /**
   * Opens every stream found on disk, so that offsets and epochs continue where they were. A stream whose
   * files cannot be used (or a tenant's or namespace's directory that cannot be listed) is logged with the
   * file and the problem, and refused from then on: the broker serves every other stream. Only a storage
   * directory that cannot be used at all stops the start (a StartupError: one line, exit status 2).
   */
  private recoverAll(): void {
    const root = this.options.dir;
    let tenants: string[];
    try {
      makeDirectory(root);
      tenants = subdirectories(root);
    } catch (err) {
      throw fileFailure('FELIX_DURABLE_STORAGE_DIR', root, damagedFile(err, root).problem);
    }
    const readOnly = new Map<string, number>();
    for (const tenant of tenants) {
      for (const namespace of this.listed(join(root, tenant), `${tenant}/`)) {
        for (const stream of this.listed(join(root, tenant, namespace), `${tenant}/${namespace}/`)) {
          const code = this.recover(tenant, namespace, stream);
          if (code !== undefined) readOnly.set(code, (readOnly.get(code) ?? 0) + 1);
        }
      }
    }
    for (const [code, streams] of readOnly) {
      this.logger.warn(
        { streams, problem: code, dir: root },
        `durable storage: ${streams === 1 ? "a stream's files" : `${streams} streams' files`} cannot be ` +
          'written: served read-only (their events are read, their publishes refused with storage_error) ' +
          'until the broker restarts with writable storage',
      );
    }
  }

  /** The subdirectories of `dir`; none when it cannot be listed, the streams under it then refused. */
  private listed(dir: string, prefix: string): string[] {
    try {
      return subdirectories(dir);
    } catch (err) {
      this.refuseDamaged(prefix, damagedFile(err, dir));
      return [];
    }
  }

  /** Opens a stream found on disk; returns the errno when it could be opened read-only only. */
  private recover(tenant: string, namespace: string, stream: string): string | undefined {
    const dir = join(this.options.dir, tenant, namespace, stream);
    const key = streamKey(tenant, namespace, stream);
    try {
      const meta = readStreamMeta(dir) ?? this.adoptOrphanLog(key, dir, tenant, namespace, stream);
      if (meta === undefined) return undefined;
      const readOnly = unwritable(dir);
      const opened = this.openStream(key, dir, meta.epoch, readOnly);
      this.logger.info(
        {
          stream: key,
          epoch: meta.epoch,
          segments: opened.log.segmentCount,
          bytes: opened.log.bytes,
          oldestOffset: opened.oldestOffset,
          nextOffset: opened.nextOffset,
          ...(readOnly !== undefined && { readOnly }),
        },
        'durable stream recovered',
      );
      return readOnly;
    } catch (err) {
      this.refuseDamaged(key, damagedFile(err, dir));
      return undefined;
    }
  }

  /**
   * `scope` (a stream's key, or a `tenant/` or `tenant/namespace/` prefix) has files that cannot be used:
   * its streams are refused with storage_error — never served from memory, never created afresh over the
   * old files, which are left as they are for the operator to repair.
   */
  private refuseDamaged(scope: string, damage: { path: string; problem: string }): void {
    const file = relative(this.options.dir, damage.path) || '.';
    this.damaged.set(
      scope,
      `${file}: ${damage.problem}; the stream is unavailable until an operator repairs its files`,
    );
    this.logger.error(
      { stream: scope, path: damage.path, problem: damage.problem },
      'durable stream: damaged files; the stream is refused until they are repaired (the other streams are served)',
    );
  }

  /** Why the stream is refused (its files, or its tenant's or namespace's directory, are damaged). */
  private damageOf(tenant: string, namespace: string, key: string): string | undefined {
    if (this.damaged.size === 0) return undefined;
    return (
      this.damaged.get(key) ?? this.damaged.get(`${tenant}/${namespace}/`) ?? this.damaged.get(`${tenant}/`)
    );
  }
}

/**
 * Why a stream's files cannot be written — its directory (where retention removes segments and new ones are
 * made) or its last segment (where records are appended): EROFS on a read-only file system, EACCES or EPERM
 * for files the broker may not write — or undefined when they can be.
 */
function unwritable(dir: string): string | undefined {
  const last = fs
    .readdirSync(dir)
    .filter((name) => parseSegmentFileName(name) !== undefined)
    .sort((a, b) => parseSegmentFileName(b)! - parseSegmentFileName(a)!)[0];
  for (const path of last === undefined ? [dir] : [dir, join(dir, last)]) {
    try {
      fs.accessSync(path, fs.constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return code;
      throw err;
    }
  }
  return undefined;
}

function hasSegments(dir: string): boolean {
  return fs.readdirSync(dir).some((name) => parseSegmentFileName(name) !== undefined);
}

/**
 * The directories in `dir` named as a tenant, namespace or stream can be: nothing else (lost+found at the
 * root of a file system, say) is a stream's, and an unreadable one must not look like a damaged stream.
 */
function subdirectories(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isValidName(e.name))
    .map((e) => e.name)
    .sort();
}
