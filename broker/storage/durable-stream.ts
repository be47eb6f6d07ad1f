/**
 * One durable stream's storage: takes the frames its topic cuts, writes them to the stream's segment log
 * (one write in flight; frames cut meanwhile wait and go together in the next write), makes them durable
 * under the fsync policy, and releases the acks and — with ack-on-commit — the frames themselves to
 * subscribers once committed. Group commit: every frame and ack waiting when a write or fsync starts shares it.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EventFrame } from '../core/event-frame.js';
import {
  READ_SHORTAGE_WAIT_MS,
  STORAGE_RETRY_MS,
  type CommitWaiter,
  type StorageCursor,
  type StorageErrorCode,
  type StorageListener,
  type StorageRead,
  type StorageRefusal,
  type StreamStorage,
} from '../core/stream-storage.js';
import { LogReader } from './log-reader.js';
import type { FileHolder, OpenFileBudget } from './open-file-budget.js';
import type { RateLimitedLog } from './rate-limited-log.js';
import { PendingAcks } from './pending-acks.js';
import type { OffsetReservation } from './offset-reservation.js';
import type { ProducerJournal } from './producer-journal.js';
import type { SegmentLog } from './segment-log.js';
import type { StorageStats } from './storage-stats.js';

export type FsyncPolicy = 'none' | 'periodic' | 'on_commit';
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['none', 'periodic', 'on_commit'];

export interface DurablePolicy {
  readonly fsync: FsyncPolicy;
  readonly acksOnCommit: boolean;
  /** Bytes waiting to be written (or committed) beyond which publishers are held back. */
  readonly backlogBytes: number;
  /** Bytes a subscriber catching up reads from disk at a time. */
  readonly readChunkBytes: number;
  readonly maxRecordBytes: number;
}

export interface Retention {
  /** Most bytes kept (0: no limit). */
  readonly bytes: number;
  /** Oldest data kept, in ms (0: no limit). */
  readonly ms: number;
}

/** What publishes are refused with after `err`: storage_full for a full disk or quota, storage_error else. */
export function refusalCode(err: unknown): StorageErrorCode {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? 'storage_full' : 'storage_error';
}

/** The process (EMFILE) or the system (ENFILE) has no file descriptor left. */
export function outOfDescriptors(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

export class DurableStream implements StreamStorage, FileHolder {
  refusal: StorageRefusal | null = null;
  private listener: StorageListener | null = null;
  /** Frames cut and not yet handed to a write. */
  private pending: EventFrame[] = [];
  /** The frames of the write in flight. */
  private inWrite: EventFrame[] = [];
  /** Written frames waiting for their commit (only when delivery waits for commits). */
  private awaiting: EventFrame[] = [];
  private backlog = 0;
  private wasBacklogged = false;
  private readonly acks = new PendingAcks();
  private busy = false;
  private kickQueued = false;
  private syncWanted = false;
  private syncedEnd: number;
  private committedEnd: number;
  /** An fsync failed: what was written may not be on disk, and retrying the fsync proves nothing. */
  private fatal = false;
  /** Opened read-only (serveReadOnly): nothing is ever written. */
  private readOnly = false;
  private retryDue = false;
  private closed = false;
  /**
   * Which producers' publishes the log holds, so that the duplicate window outlives a restart (null: the
   * broker keeps no producer state, or the journal failed and was given up).
   */
  journal: ProducerJournal | null = null;
  /**
   * The mark on disk below which offsets may have been given out (null: none kept). Covered before a frame
   * is handed on unless acks and delivery wait for commits (then no offset is seen before its record is
   * on disk, and none can be given out twice).
   */
  reservation: OffsetReservation | null = null;
  /** The bound on streams with open write files (null: files stay open while the stream is). */
  files: OpenFileBudget | null = null;
  /** Where failures are logged when many streams may fail at once (null: each on its own logger line). */
  errors: RateLimitedLog | null = null;
  /** The budget asked for the files while writes were unsynced: closed once the fsync begun for it ends. */
  private releaseWanted = false;
  private readonly kickBound = (): void => {
    this.kickQueued = false;
    this.kick();
  };

  constructor(
    readonly name: string,
    readonly log: SegmentLog,
    readonly epoch: number,
    private readonly policy: DurablePolicy,
    public retention: Retention,
    private readonly stats: StorageStats,
    private readonly logger: Logger,
  ) {
    this.syncedEnd = log.nextOffset;
    this.committedEnd = log.nextOffset;
  }

  get nextOffset(): number {
    return this.log.nextOffset;
  }

  get oldestOffset(): number {
    return this.log.oldestOffset;
  }

  get acksOnCommit(): boolean {
    return this.policy.acksOnCommit;
  }

  get backlogged(): boolean {
    return this.backlog > this.policy.backlogBytes;
  }

  /** A write or fsync is in flight (closing now would abandon it: see close()). */
  get ioInFlight(): boolean {
    return this.busy;
  }

  get idle(): boolean {
    return !this.busy && this.pending.length === 0 && this.awaiting.length === 0 && this.acks.size === 0;
  }

  get readableEnd(): number {
    return this.policy.acksOnCommit ? this.committedEnd : this.log.nextOffset;
  }

  bind(listener: StorageListener): void {
    this.listener = listener;
  }

  append(frame: EventFrame): void {
    if (!this.policy.acksOnCommit) this.reservation?.cover(frame.firstOffset + frame.count);
    this.pending.push(frame);
    this.backlog += frame.bytes.length;
    if (this.backlog > this.policy.backlogBytes) this.wasBacklogged = true;
    if (!this.busy && !this.kickQueued) {
      // After this I/O turn: every frame cut in it goes in the same write.
      this.kickQueued = true;
      setImmediate(this.kickBound);
    }
  }

  noteProducer(tenant: string, producerId: number, sequence: number, end: number): void {
    this.journal?.note(tenant, producerId, sequence, end);
  }

  whenCommitted(end: number, waiter: CommitWaiter, requestId: number, tag: number): void {
    if (end <= this.committedEnd) waiter.committed(requestId, tag);
    else if (this.refusal !== null) waiter.failed(requestId, tag, this.refusal.code, this.refusal.message);
    else this.acks.push(end, waiter, requestId, tag);
  }

  framesInMemory(from: number): EventFrame[] {
    // With ack-on-commit only committed frames are visible, and those are readable from disk.
    if (this.policy.acksOnCommit) return [];
    const out: EventFrame[] = [];
    for (const list of [this.inWrite, this.pending]) {
      for (const f of list) if (f.firstOffset + f.count > from) out.push(f);
    }
    return out;
  }

  openCursor(): StorageCursor {
    const reader = new LogReader(this.log, this.policy.maxRecordBytes);
    const chunk = this.policy.readChunkBytes;
    const stats = this.stats;
    return {
      read: (from, done) => {
        reader.read(from, this.readableEnd, chunk, (err, r) => {
          if (err !== null && outOfDescriptors(err)) {
            // No descriptor to open a segment with: the replay waits and reads again, as a write waits for
            // files — a shortage (connections, other streams) is never the end of a subscription.
            this.stats.readShortages++;
            this.errors?.error(
              this.name,
              err,
              'durable stream: out of file descriptors reading its log; the replay waits',
            );
            this.shedFiles(err);
            done(null, { frames: [], atEnd: false, next: from, waitMs: READ_SHORTAGE_WAIT_MS });
            return;
          }
          stats.corruptRecords += r.corrupt;
          if (r.corrupt > 0)
            // Where: the read from `from` skipped them before `next` (the skipped offsets are in between).
            this.logger.error(
              { stream: this.name, records: r.corrupt, from, next: r.next },
              'damaged record skipped',
            );
          stats.unreadableSegments += r.unreadable.length;
          if (r.unreadable.length > 0)
            this.logger.error(
              { stream: this.name, segments: r.unreadable },
              'unreadable segment skipped: its offsets are a gap to subscribers',
            );
          const frames: EventFrame[] = r.records.map((rec) => ({
            firstOffset: rec.firstOffset,
            count: rec.count,
            bytes: rec.bytes,
            timing: null,
            messages: null,
          }));
          const result: StorageRead = { frames, atEnd: r.atEnd, next: r.next };
          done(err, result);
        });
      },
      close: () => reader.close(),
    };
  }

  /** Periodic fsync: called every FELIX_DURABLE_FSYNC_INTERVAL_MS. */
  requestSync(): void {
    if (this.log.nextOffset > this.syncedEnd) {
      this.syncWanted = true;
      this.kick();
    }
  }

  /**
   * Its files cannot be written (opened read-only at start): publishes are refused for as long as the broker
   * runs, and nothing is written — no retries, no retention, no offset reservation at the stop.
   */
  serveReadOnly(refusal: StorageRefusal): void {
    this.refusal = refusal;
    this.fatal = true;
    this.readOnly = true;
    this.reservation = null;
    this.journal = null;
  }

  /** Called periodically while the stream refuses publishes: tries the failed write again. */
  retry(): void {
    if (this.refusal === null || this.fatal) return;
    this.retryDue = true;
    this.kick();
  }

  /** Retention: removes at most one segment (old or over the byte limit); returns whether it did. */
  enforceRetention(now: number): boolean {
    // Sealed segments are never written again, so they may go while a write is in flight.
    if (this.closed || this.readOnly) return false;
    const { bytes, ms } = this.retention;
    const oldest = this.log.oldestSealed();
    if (oldest === undefined) {
      // A quiet stream's only segment ages too: seal it so that the next pass may remove it.
      const active = this.log.segmentList[this.log.segmentList.length - 1]!;
      if (ms > 0 && active.size > 0 && now - active.lastWriteMs > ms) {
        try {
          this.log.sealActive();
        } catch (err) {
          // Creating the next segment failed (EMFILE, a full disk): the next pass tries again.
          this.logger.warn({ stream: this.name, err }, 'could not seal a segment for retention');
        }
      }
      return false;
    }
    const tooOld = ms > 0 && now - oldest.lastWriteMs > ms;
    const tooBig = bytes > 0 && this.log.bytes > bytes;
    if (!tooOld && !tooBig) return false;
    const size = oldest.size;
    this.log.dropOldestSegment((err) => {
      if (err !== null) this.logger.warn({ stream: this.name, err }, 'could not remove a segment');
    });
    this.stats.segmentsRemoved++;
    this.stats.bytesRemoved += size;
    return true;
  }

  /**
   * Asked by the open-file budget: closes the segment and journal files of an idle stream (the next write
   * reopens them). Unsynced writes under an fsync policy are fsynced first — and committed, as the periodic
   * fsync would have — so an fsync never claims what a closed file's write-back might have lost.
   */
  releaseFiles(): 'closed' | 'closing' | 'busy' {
    if (this.closed) return 'closed';
    // About to write (a refusing stream's frames wait for a retry, which reopens the files; granted files
    // for a retry due are about to be used).
    if (this.busy || (this.pending.length > 0 && (this.refusal === null || this.retryDue))) return 'busy';
    if (!this.log.filesOpen) return 'closed';
    // After a failed fsync nothing written since is committed again: no fsync to wait for.
    if (!this.fatal && this.policy.fsync !== 'none' && this.log.unsynced) {
      if (this.refusal !== null) return 'busy';
      this.releaseWanted = true;
      this.syncWanted = true;
      this.kick();
      return 'closing';
    }
    this.closeFiles();
    return 'closed';
  }

  filesGranted(): void {
    // Granted from inside another stream's write or close: this one writes on its own turn.
    if (!this.kickQueued) {
      this.kickQueued = true;
      setImmediate(this.kickBound);
    }
  }

  private closeFiles(): void {
    this.releaseWanted = false;
    try {
      this.log.closeFiles();
      this.journal?.close();
    } catch (err) {
      // close(2) failing leaves nothing to retry: the descriptor is gone either way.
      this.logger.warn({ stream: this.name, err }, 'could not close an idle stream file');
    }
  }

  /** Clean shutdown: writes what is left, syncs and closes the files. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.files?.released(this);
    if (this.busy) {
      this.logger.warn({ stream: this.name }, 'closing with a write in flight: its frames may be lost');
      return;
    }
    const pending = this.pending;
    try {
      if (pending.length > 0) {
        this.journalBefore(endOf(pending));
        // Tried even while the stream refuses: the disk may have room again by now.
        this.log.writeSync(pending);
        this.pending = [];
      }
      this.log.syncAndCloseSync();
      // Every offset given out is in the log: the next start continues at its end, with no gap.
      this.reservation?.settle(this.log.nextOffset);
    } catch (err) {
      let events = 0;
      for (const f of this.pending) events += f.count;
      this.logger.error(
        { stream: this.name, err, events, acked: this.policy.acksOnCommit ? 0 : events },
        'could not write the last events at shutdown: they are lost' +
          (this.policy.acksOnCommit ? ' (none was acked)' : ' (acked: FELIX_ACK_ON_COMMIT is off)'),
      );
    }
    this.journal?.close();
  }

  /**
   * The log is about to be written up to `end`: the journal notes which producers' publishes the write
   * holds, before it is made — so a process killed once the write is in the file has the claims too (a
   * claim whose write never made it is dropped at the next start: the log does not reach its end). A
   * journal that fails is given up (logged once): publishes go on, only their retries across a restart are
   * no longer recognised — never a reason to refuse a publish or hold an ack.
   */
  private journalBefore(end: number): void {
    const journal = this.journal;
    if (journal === null) return;
    try {
      journal.written(end, Date.now());
    } catch (err) {
      this.journal = null;
      try {
        journal.close();
      } catch {
        // Already failing: the first error is the one logged.
      }
      this.logger.warn(
        { stream: this.name, err },
        'producer journal failed: publishes resent across a restart may be appended again',
      );
    }
  }

  private kick(): void {
    if (this.busy || this.closed || this.fatal) return;
    if (this.refusal !== null && !this.retryDue) return;
    this.retryDue = false;
    // Reached from timers and I/O completions too, outside every connection's handlers: see defect.
    try {
      if (this.pending.length > 0) this.write();
      else if (this.syncWanted) this.sync();
      // Idle now, with streams waiting for files: this one (or an older idle one) may close its files.
      else if (this.files !== null && this.files.waiters > 0) this.files.makeRoom();
    } catch (err) {
      this.defect(err, 'write');
    }
  }

  /**
   * Storing or committing threw (a defect, not an I/O error, which arrives as a callback's error): this
   * stream stops writing and refuses publishes with storage_error, waiting acks are failed, and the broker
   * serves its reads and every other stream on — as after a failed write — instead of ending the process.
   */
  private defect(err: unknown, during: 'write' | 'fsync'): void {
    this.busy = false;
    this.fatal = true;
    this.logger.error({ stream: this.name, err, during }, 'internal error in durable stream storage');
    this.fail(err instanceof Error ? err : new Error(String(err)), during);
  }

  private write(): void {
    // At the bound on open files: the frames wait in `pending` until another stream closes its files.
    if (this.files !== null && !this.files.acquire(this)) {
      // A retry waiting for files goes on when they are granted: dropped here, a refusing stream's kick
      // would ignore the grant, give the place up idle, and wait again at each retry — refusing for good.
      if (this.refusal !== null) this.retryDue = true;
      return;
    }
    this.releaseWanted = false;
    const batch = this.pending;
    this.pending = [];
    this.inWrite = batch;
    this.journalBefore(endOf(batch));
    this.busy = true;
    this.log.write(batch, (err) => {
      this.busy = false;
      if (err !== null) {
        this.pending = batch.concat(this.pending);
        this.inWrite = [];
        this.fail(err, 'write');
        return;
      }
      try {
        this.written(batch);
      } catch (failure) {
        this.defect(failure, 'write');
      }
    });
  }

  /** A write completed: account it, and commit or sync under the policy. */
  private written(batch: EventFrame[]): void {
    let bytes = 0;
    for (const f of batch) bytes += f.bytes.length;
    const stats = this.stats;
    stats.writes++;
    stats.recordsWritten += batch.length;
    stats.bytesWritten += bytes;
    if (this.refusal !== null) {
      this.logger.info({ stream: this.name }, 'storage writable again: accepting publishes');
      this.refusal = null;
    }
    this.inWrite = [];
    if (this.policy.acksOnCommit) for (const f of batch) this.awaiting.push(f);
    else this.backlog -= bytes;
    this.noteBacklog();
    switch (this.policy.fsync) {
      case 'on_commit':
        this.sync();
        return;
      case 'none':
        this.log.closeSealed();
        this.commit(this.log.nextOffset);
        break;
      case 'periodic':
        // Committed by the next periodic fsync.
        break;
    }
    this.kick();
  }

  private sync(): void {
    this.syncWanted = false;
    this.busy = true;
    const target = this.log.nextOffset;
    const started = performance.now();
    this.log.sync((err) => {
      this.busy = false;
      this.stats.noteFsync((performance.now() - started) / 1000);
      if (err !== null) {
        this.fatal = true;
        this.fail(err, 'fsync');
        // Not closed for the budget now: asked again, a failed stream closes its files without an fsync.
        if (this.releaseWanted) this.finishRelease();
        return;
      }
      try {
        this.syncedEnd = target;
        this.commit(target);
        this.kick();
        if (this.releaseWanted) this.finishRelease();
      } catch (failure) {
        this.defect(failure, 'fsync');
      }
    });
  }

  /** The fsync begun for releaseFiles ended: closes the files unless the stream was written meanwhile. */
  private finishRelease(): void {
    // Another fsync began (the periodic one asked meanwhile): the release waits for it to end.
    if (this.busy) return;
    this.releaseWanted = false;
    if (this.pending.length > 0 || this.log.unsynced || this.closed) {
      // Written meanwhile: the files stay open.
      this.files?.keptOpen(this);
      return;
    }
    this.closeFiles();
    this.files?.released(this);
  }

  private commit(end: number): void {
    if (end <= this.committedEnd) return;
    this.committedEnd = end;
    if (this.policy.acksOnCommit) {
      const awaiting = this.awaiting;
      let i = 0;
      for (; i < awaiting.length && awaiting[i]!.firstOffset < end; i++) {
        const f = awaiting[i]!;
        this.backlog -= f.bytes.length;
        this.listener?.visible(f);
      }
      this.awaiting = i === awaiting.length ? [] : awaiting.slice(i);
    }
    this.acks.release(end);
    this.noteBacklog();
  }

  private noteBacklog(): void {
    const over = this.backlogged;
    if (this.wasBacklogged && !over) this.listener?.drained();
    this.wasBacklogged = over;
  }

  /** Out of descriptors: the open-file bound drops (once per shortage), so idle streams close files. */
  private shedFiles(err: unknown): void {
    if (outOfDescriptors(err) && this.files?.shed() === true) {
      this.logger.warn(
        { maxOpenStreams: this.files.limit },
        'out of file descriptors: fewer durable streams keep their files open from now on',
      );
    }
  }

  private fail(err: NodeJS.ErrnoException, during: 'write' | 'fsync'): void {
    const code = refusalCode(err);
    const full = code === 'storage_full';
    const message = full
      ? `stream storage is full (${err.code}): publishes are refused until space is freed`
      : `stream storage failed (${during}: ${err.code ?? err.message})`;
    if (during === 'write') this.stats.writeErrors++;
    else this.stats.fsyncErrors++;
    if (this.refusal === null) {
      if (this.errors !== null)
        this.errors.error(this.name, err, 'durable stream storage failed', { during });
      else this.logger.error({ stream: this.name, err, during }, 'durable stream storage failed');
    }
    this.shedFiles(err);
    // A failed fsync is sticky (until a restart): no retry to wait for.
    this.refusal = this.fatal ? { code, message } : { code, message, retryAfterMs: STORAGE_RETRY_MS };
    this.acks.failAll(code, message);
  }
}

/** The offset after the last event of `frames` (offsets ascend). */
function endOf(frames: readonly EventFrame[]): number {
  const last = frames[frames.length - 1]!;
  return last.firstOffset + last.count;
}
