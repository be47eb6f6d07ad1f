/**
 * Plain counters of the durable storage, bumped with `++` where things happen; broker/metrics.ts reads them
 * when Prometheus scrapes.
 */
export class StorageStats {
  writes = 0;
  /** Writes made from the event loop (small ones), and those slower than 1 ms (see SegmentLog). */
  loopWrites = 0;
  slowLoopWrites = 0;
  recordsWritten = 0;
  bytesWritten = 0;
  fsyncs = 0;
  fsyncSeconds = 0;
  /** Longest fsync since the last scrape read it (reset by takeFsyncMax). */
  fsyncMaxSeconds = 0;
  writeErrors = 0;
  fsyncErrors = 0;
  /** Replay reads that found no file descriptor and waited. */
  readShortages = 0;
  /** Records found damaged when read: never served. */
  corruptRecords = 0;
  /** Torn tails cut at recovery, and their bytes. */
  tornTails = 0;
  truncatedBytes = 0;
  /** Offsets skipped at start after an unclean stop (offset-reservation.ts), and marks that failed to write. */
  offsetsSkipped = 0;
  reservationErrors = 0;
  /** Offsets found missing at start between two segments, an unclean stop's skips aside (segment-gaps.ts). */
  offsetsMissing = 0;
  /** Sealed segments found at start not ending with a whole record (segment-gaps.ts). */
  damagedSegments = 0;
  /** Segments replays found gone or cut short and crossed (log-reader.ts): their offsets a gap. */
  unreadableSegments = 0;
  /** Segments (and their bytes) removed by retention. */
  segmentsRemoved = 0;
  bytesRemoved = 0;

  noteFsync(seconds: number): void {
    this.fsyncs++;
    this.fsyncSeconds += seconds;
    if (seconds > this.fsyncMaxSeconds) this.fsyncMaxSeconds = seconds;
  }

  takeFsyncMax(): number {
    const max = this.fsyncMaxSeconds;
    this.fsyncMaxSeconds = 0;
    return max;
  }
}
