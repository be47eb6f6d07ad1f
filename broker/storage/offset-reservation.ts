/**
 * How far a durable stream may have given out offsets, kept on disk ahead of their use
 * (`reservation.json` beside the segments).
 *
 * Without FELIX_ACK_ON_COMMIT an event reaches subscribers — and its publisher's ack goes out — before its
 * record is in the file, so a kill -9 can lose events whose offsets were already seen. Were the stream to
 * continue at the log's end after the restart, those offsets would go to new events in the same epoch, and
 * a subscriber resuming from an offset it had seen would take a different event for one it already had.
 * So offsets are given out only below a mark written ahead of them, RESERVATION_BLOCK at a time; a clean
 * stop writes the mark back to the log's end; a start that finds the mark beyond the log's end (an unclean
 * stop) continues at the mark: the offsets lost with the crash are a gap, never given to another event.
 * (Kafka's producer epochs and NATS's stream sequence state serve the same end: a sequence once observed
 * never names another message.)
 *
 * The mark is rewritten in the background when half the block is used, so the publish path normally
 * only compares two numbers; only a stream that uses half a block faster than one fsync blocks once.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, replaceFileSync, syncDirectoryAsync, writeAndSync } from './atomic-file.js';
import { MAX_STREAM_END } from '../core/stream-log.js';
import { STORAGE_RETRY_MS } from '../core/stream-storage.js';
import { DamagedFileError } from './damaged-file.js';

export const RESERVATION_FILE = 'reservation.json';
const RESERVATION_VERSION = 1;
/**
 * Offsets reserved at a time: the most an unclean stop can skip. Large enough that a stream at a million
 * events a second rewrites the mark some 30 times a second, in the background.
 */
export const RESERVATION_BLOCK = 65_536;

/**
 * The mark in `dir` (offsets at and above it were never given out), or undefined when there is none (a
 * stream not yet published to, or written by a broker before reservations). Throws a DamagedFileError
 * naming the file when it cannot be read or is not a reservation: the stream is then refused rather than
 * risk giving an offset out twice. Any safe integer is a mark (up to MAX_STREAM_END, the most it is
 * written with): a stream continued at a mark that high refuses publishes for want of offsets instead.
 */
export function readReservation(dir: string): Reservation | undefined {
  const parsed = readJsonFile(dir, RESERVATION_FILE) as
    { version?: unknown; reserved_to?: unknown; clean?: unknown } | undefined;
  if (parsed === undefined) return undefined;
  const mark = parsed.reserved_to;
  if (parsed.version !== RESERVATION_VERSION || !Number.isSafeInteger(mark) || (mark as number) < 0) {
    throw new DamagedFileError(
      join(dir, RESERVATION_FILE),
      `not a version ${RESERVATION_VERSION} offset reservation`,
    );
  }
  return { mark: mark as number, clean: parsed.clean === true };
}

/** What reservation.json says. */
export interface Reservation {
  /** Offsets at and above it were never given out. */
  readonly mark: number;
  /**
   * Written by a clean stop: every offset below the mark was in the log then, so a log that ends short of
   * it at the next start lost records since (a segment removed or cut short) — it did not crash. (A
   * broker older than this field never writes it: its marks read as from an unclean stop.)
   */
  readonly clean: boolean;
}

/**
 * The mark a block ahead of `end`, but never past the highest next offset (MAX_STREAM_END, which no offset
 * given out passes): readReservation takes any safe integer, so every mark written is one it reads.
 */
function markAhead(end: number): number {
  return Math.min(end + RESERVATION_BLOCK, MAX_STREAM_END);
}

function reservationText(mark: number, clean = false): string {
  return `${JSON.stringify({ version: RESERVATION_VERSION, reserved_to: mark, ...(clean ? { clean } : {}) })}\n`;
}

/** Told when the mark could not be written (the stream goes on; the next use tries again). */
export type ReservationFailure = (err: unknown) => void;

export class OffsetReservation {
  /** Offsets below this are covered by the mark on disk. */
  private durable: number;
  /** A background rewrite is in flight. */
  private extending = false;
  /** Bumped by every write: a background one that finds it moved on does not rename over a newer mark. */
  private generation = 0;
  /** A blocking write failed: none is tried again before this (Date.now()), so a full disk costs one try a second. */
  private retryAt = 0;

  constructor(
    private readonly dir: string,
    /** The mark found at start (or the log's end when there was none). */
    mark: number,
    private readonly failed: ReservationFailure,
    /**
     * Whether the file on disk already says what a clean stop at `mark` would (or there is none): a clean
     * stop with nothing new then writes nothing.
     */
    private cleanOnDisk = true,
  ) {
    this.durable = mark;
  }

  /**
   * Offsets below `end` are about to be used: makes sure the mark on disk covers them (writing it now if
   * it does not, and in the background when they use up half of what it covers).
   */
  cover(end: number): void {
    if (end > this.durable) {
      if (Date.now() < this.retryAt) return;
      this.writeNow(markAhead(end));
    } else if (
      !this.extending &&
      end > this.durable - RESERVATION_BLOCK / 2 &&
      this.durable < MAX_STREAM_END
    ) {
      this.extendInBackground(markAhead(end));
    }
  }

  /**
   * Clean stop: nothing at or above `end` was given out (every event is in the log), so the next start
   * continues there with no gap.
   */
  settle(end: number): void {
    if (end !== this.durable || !this.cleanOnDisk) this.writeNow(end, true);
  }

  private writeNow(mark: number, clean = false): void {
    this.generation++;
    try {
      replaceFileSync(this.dir, RESERVATION_FILE, reservationText(mark, clean));
      this.durable = mark;
      this.cleanOnDisk = clean;
      this.retryAt = 0;
    } catch (err) {
      this.retryAt = Date.now() + STORAGE_RETRY_MS;
      this.failed(err);
    }
  }

  private extendInBackground(mark: number): void {
    this.extending = true;
    const generation = ++this.generation;
    const dir = this.dir;
    // Its own temporary name: a blocking write meanwhile uses another, and neither renames the other's.
    const tmp = join(dir, `${RESERVATION_FILE}.${generation}.tmp`);
    writeAndSync(tmp, reservationText(mark))
      .then(() => {
        // Renamed on the event loop: a blocking write (a newer mark) cannot land between check and rename.
        if (generation !== this.generation) {
          fs.rm(tmp, { force: true }, () => undefined);
          return;
        }
        fs.renameSync(tmp, join(dir, RESERVATION_FILE));
        this.cleanOnDisk = false;
        // Counted on once the rename is as durable as the file: until then the old mark, still ahead of
        // every offset given out, is what a power cut would leave.
        return syncDirectoryAsync(dir).then(() => {
          this.durable = Math.max(this.durable, mark);
        });
      })
      .then(
        () => {
          this.extending = false;
        },
        (err: unknown) => {
          this.extending = false;
          fs.rm(tmp, { force: true }, () => undefined);
          this.failed(err);
        },
      );
  }
}
