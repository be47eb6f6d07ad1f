/**
 * What a durable stream needs from its storage (implemented by broker/storage/), as interfaces: the core
 * hands it every frame it cuts, asks it to hold acks until they are durable, and reads history from it.
 */
import type { EventFrame } from './event-frame.js';

/** Why a durable stream refuses publishes: the disk is full, or another I/O error. */
export type StorageErrorCode = 'storage_full' | 'storage_error';

export interface StorageRefusal {
  readonly code: StorageErrorCode;
  readonly message: string;
  /** When the write is tried again (refusals that a retry can end): `detail.retry_after_ms` of the refusal. */
  readonly retryAfterMs?: number;
}

/** A durable stream refusing publishes after a failed write tries it again this often. */
export const STORAGE_RETRY_MS = 1000;

/** Told when publishes it waits for are durable (or can no longer become so). */
export interface CommitWaiter {
  committed(requestId: number, tag: number): void;
  failed(requestId: number, tag: number, code: StorageErrorCode, message: string): void;
}

/** What the storage calls back on its topic. */
export interface StorageListener {
  /** A frame became visible (committed, when delivery waits for commits): log it in the ring and fan it out. */
  visible(frame: EventFrame): void;
  /** The write backlog fell back under its bound: held publishers may go on. */
  drained(): void;
}

/** Records read from storage for a subscriber catching up; `atEnd`: nothing more below the limit now. */
export interface StorageRead {
  readonly frames: EventFrame[];
  readonly atEnd: boolean;
  /** Where the next read starts (past what was read, and past any damaged record skipped). */
  readonly next: number;
  /** Nothing could be read for now (no descriptor to open a segment with): read again after this long. */
  readonly waitMs?: number;
}

/** How long a replay that found no file descriptor waits before it reads again. */
export const READ_SHORTAGE_WAIT_MS = 100;

export interface StorageCursor {
  read(from: number, done: (err: Error | null, result: StorageRead) => void): void;
  close(): void;
}

export interface StreamStorage {
  /** The stream's epoch, kept across restarts. */
  readonly epoch: number;
  /** The offset the stream's next event gets (recovered at start). */
  readonly nextOffset: number;
  /** The oldest offset still on disk. */
  readonly oldestOffset: number;
  /** Non-null while publishes must be refused (disk full, I/O error). */
  readonly refusal: StorageRefusal | null;
  /** Acks wait for commits, and so does delivery (subscribers never see what a crash could take back). */
  readonly acksOnCommit: boolean;
  /** More is waiting to be written than the bound allows: publishers should hold back. */
  readonly backlogged: boolean;
  /** Nothing waits to be written or committed. */
  readonly idle: boolean;
  /** Readers may read from disk up to here; frames at or after it are in memory (see framesInMemory). */
  readonly readableEnd: number;
  bind(listener: StorageListener): void;
  /** Takes a frame just cut (offsets continue from the last one). */
  append(frame: EventFrame): void;
  /**
   * An acked publish of an idempotent producer was accepted, its events ending below `end`: once they are
   * written the storage records that the log holds it, so that its retry is recognised after a restart.
   */
  noteProducer(tenant: string, producerId: number, sequence: number, end: number): void;
  /** Calls `waiter` once every event below `end` is committed (group commit: one fsync releases many). */
  whenCommitted(end: number, waiter: CommitWaiter, requestId: number, tag: number): void;
  /** Visible frames not yet readable from disk holding `from` and after; [] when none. */
  framesInMemory(from: number): EventFrame[];
  openCursor(): StorageCursor;
}

/** A stream's storage could not be opened; `code` is what its publishes are answered with. */
export class StorageOpenError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Decides which streams are durable and opens their storage. */
export interface StorageProvider {
  /**
   * The storage of a stream, or null when the stream is not durable. Throws when it cannot be opened (a
   * StorageOpenError when the cause is known, e.g. a full disk).
   */
  open(tenant: string, namespace: string, stream: string): StreamStorage | null;
}
