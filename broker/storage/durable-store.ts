/**
 * Every durable stream of the broker: finds and recovers them at start (FELIX_DURABLE_STORAGE_DIR/<tenant>/
 * <namespace>/<stream>/), opens new ones as streams are created, and runs the background work — periodic
 * fsync, retention (a bounded number of segments per tick) and retries of failed writes.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { newStreamEpoch } from '../core/stream-epoch.js';
import { StorageOpenError, type StorageProvider, type StreamStorage } from '../core/stream-storage.js';
import {
  DurableStream,
  refusalCode,
  type DurablePolicy,
  type FsyncPolicy,
  type Retention,
} from './durable-stream.js';
import { JOURNAL_FILE, ProducerJournal, type ProducerClaim } from './producer-journal.js';
import { SegmentLog } from './segment-log.js';
import { parseSegmentFileName } from './segment.js';
import { META_FILE, readStreamMeta, writeStreamMeta, type StreamMeta } from './stream-meta.js';
import { StorageStats } from './storage-stats.js';

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
}

/** Background passes per second of retention and write retries; each removes at most a few segments. */
const MAINTENANCE_TICK_MS = 250;
/**
 * 64 segments a second over all streams: a bounded number of unlinks per pass, enough for retention to keep
 * up with a stream filling 64 segments a second (4 MB/s at the smallest 64 KiB segments, 4 GiB/s at the
 * default 64 MiB). At 4 per pass a 3 MB/s stream on 64 KiB segments outgrew its 1 MiB limit 15-fold.
 */
const SEGMENTS_REMOVED_PER_TICK = 16;
const RETRY_EVERY_MS = 1000;

export function streamKey(tenant: string, namespace: string, stream: string): string {
  return `${tenant}/${namespace}/${stream}`;
}

export class DurableStore implements StorageProvider {
  readonly stats = new StorageStats();
  private readonly streams = new Map<string, DurableStream>();
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
    fs.mkdirSync(options.dir, { recursive: true });
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
        this.logger.error({ stream: key, err }, 'durable stream storage failed');
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
  stop(): void {
    if (this.fsyncTimer !== null) clearInterval(this.fsyncTimer);
    if (this.maintenanceTimer !== null) clearInterval(this.maintenanceTimer);
    this.fsyncTimer = null;
    this.maintenanceTimer = null;
    for (const s of this.streams.values()) s.close();
  }

  /** One background pass: retention (bounded) and, once a second, retries of failed writes. */
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
      this.nextRetryAt = now + RETRY_EVERY_MS;
      for (const s of streams) s.retry();
    }
  }

  private readonly countLoopWrite = (slow: boolean): void => {
    this.stats.loopWrites++;
    if (slow) this.stats.slowLoopWrites++;
  };

  private openStream(key: string, dir: string, epoch: number): DurableStream {
    const log = SegmentLog.open(dir, {
      segmentBytes: this.options.segmentBytes,
      maxRecordBytes: this.options.maxRecordBytes,
      writeFromLoop: this.options.fsync !== 'on_commit',
      onLoopWrite: this.countLoopWrite,
    });
    const r = log.recovery;
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
        'durable stream: torn tail truncated',
      );
    }
    if (r.holes > 0) {
      this.stats.corruptRecords += r.holes;
      this.logger.error(
        { stream: key, holes: r.holes, holeBytes: r.holeBytes, nextOffset: r.nextOffset },
        'durable stream: damaged records in the last segment skipped; the whole records after them kept',
      );
    }
    const declared = this.options.declared.get(key) ?? {};
    const retention: Retention = {
      bytes: declared.bytes ?? this.options.retention.bytes,
      ms: declared.ms ?? this.options.retention.ms,
    };
    const stream = new DurableStream(key, log, epoch, this.policy, retention, this.stats, this.logger);
    stream.journal = this.openJournal(key, dir, r.intactTo);
    this.streams.set(key, stream);
    return stream;
  }

  /**
   * The stream's producer journal, its claims on a log whole below `intactTo` added to those recovered.
   * One that cannot be read or written is logged and done without: publishes are never refused for it.
   */
  private openJournal(key: string, dir: string, intactTo: number): ProducerJournal | null {
    const windowMs = this.options.dedupWindowMs ?? 0;
    if (windowMs === 0) return null;
    try {
      const { journal, claims, dropped, unreadable } = ProducerJournal.open(dir, windowMs, intactTo);
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

  /** Opens every stream found on disk, so that offsets and epochs continue where they were. */
  private recoverAll(): void {
    const root = this.options.dir;
    for (const tenant of subdirectories(root)) {
      for (const namespace of subdirectories(join(root, tenant))) {
        for (const stream of subdirectories(join(root, tenant, namespace))) {
          const dir = join(root, tenant, namespace, stream);
          const key = streamKey(tenant, namespace, stream);
          const meta = readStreamMeta(dir) ?? this.adoptOrphanLog(key, dir, tenant, namespace, stream);
          if (meta === undefined) continue;
          const opened = this.openStream(key, dir, meta.epoch);
          this.logger.info(
            {
              stream: key,
              epoch: meta.epoch,
              segments: opened.log.segmentCount,
              bytes: opened.log.bytes,
              oldestOffset: opened.oldestOffset,
              nextOffset: opened.nextOffset,
            },
            'durable stream recovered',
          );
        }
      }
    }
  }
}

function hasSegments(dir: string): boolean {
  return fs.readdirSync(dir).some((name) => parseSegmentFileName(name) !== undefined);
}

function subdirectories(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}
