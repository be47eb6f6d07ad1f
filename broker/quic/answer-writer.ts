/**
 * The answers of one client stream, gathered while a read of its requests is handled and handed to the
 * transport together: one stream write per packet's worth instead of one per answer.
 *
 * Pacing: after ANSWERS_PER_PACKET answers the batch is written and the packet sent at once, before the
 * rest of the read is handled. A client keeping 32 cache requests in flight then gets its first answers
 * while the broker still works on the others, and both processes stay busy; answering a whole burst in
 * one packet made them take turns (measured in docs/benchmarks.md, "Cache": 75k → 142k get/s at 256 B
 * for 8 answers per packet; 16 gave 115k, 4 gave 130k).
 */
import type { ByteStream } from './stream-port.js';

export const ANSWERS_PER_PACKET = 8;
const INITIAL_BYTES = 16 * 1024;
// Larger answers are written as they are rather than copied into the batch.
const COPY_LIMIT = 4 * 1024;
const NO_BATCH = Buffer.alloc(0);
// A writer holds a batch buffer only while answers wait in it, and returns it here once they are written
// (the transport copies what it cannot send at once). Kept for the stream's life, each short-lived stream
// left 16 KiB for the GC, and connection churn grew the broker's malloc heap with them (issue 12).
const spareBatches: Buffer[] = [];
const SPARE_BATCHES_MAX = 16;

export class AnswerWriter {
  private buf: Buffer = NO_BATCH;
  private length = 0;
  private count = 0;
  private reading = false;
  /** This read delivered events that leave at the end of the turn: its answers go after them. */
  private behindDeliveries = false;

  constructor(
    private readonly stream: ByteStream,
    /** The stream's send queue is over its mark: stop reading requests until it drains. */
    private readonly onBackedUp: () => void,
  ) {}

  /** A read of requests begins: answers wait for its end (or for a packet's worth). */
  beginRead(): void {
    this.reading = true;
    this.count = 0;
  }

  /** The read is handled: what it answered goes to the transport, which sends it before reading on. */
  endRead(): void {
    this.reading = false;
    this.flush();
    if (this.behindDeliveries) {
      this.behindDeliveries = false;
      if (this.stream.writable) this.stream.sendAtTurnEnd();
    }
  }

  /**
   * The read handled a publish whose events subscribers are waiting for: its answers (the acks) leave
   * with the end of the turn, after those events, instead of before them. A subscriber then hears of
   * an event before its publisher hears of the ack, and the publisher's next message, sent on the ack,
   * does not compete with the delivery of the last one.
   */
  answerAfterDeliveries(): void {
    if (this.reading) this.behindDeliveries = true;
  }

  /**
   * Offset in the batch buffer where an answer of `bytes` bytes may be written; the caller writes it and
   * then calls commit() with the end offset.
   */
  reserve(bytes: number): number {
    if (this.length + bytes > this.buf.length) {
      this.flush();
      if (bytes > this.buf.length) {
        this.buf =
          bytes <= INITIAL_BYTES && spareBatches.length > 0
            ? spareBatches.pop()!
            : Buffer.allocUnsafe(Math.max(bytes, INITIAL_BYTES));
      }
    }
    return this.length;
  }

  /** Buffer to write reserved answers into (valid until the next reserve). */
  get buffer(): Buffer {
    return this.buf;
  }

  commit(end: number): void {
    this.length = end;
    this.answered();
  }

  /** An answer already encoded as a frame. */
  append(frame: Buffer): void {
    if (frame.length > COPY_LIMIT) {
      this.flush();
      this.write(frame);
      this.answered();
      return;
    }
    const at = this.reserve(frame.length);
    this.buf.set(frame, at);
    this.commit(at + frame.length);
  }

  /** Writes the batch to the stream now. */
  flush(): void {
    if (this.length === 0) return;
    const batch = this.buf.subarray(0, this.length);
    this.length = 0;
    // The batch buffer is free again at once: the transport copies whatever it cannot hand to quiche now.
    const backedUp = this.stream.writable && !this.stream.writeTransient(batch);
    if (this.buf.length === INITIAL_BYTES && spareBatches.length < SPARE_BATCHES_MAX)
      spareBatches.push(this.buf);
    this.buf = NO_BATCH;
    if (backedUp) this.onBackedUp();
  }

  private answered(): void {
    if (!this.reading) {
      this.flush();
      return;
    }
    if (++this.count >= ANSWERS_PER_PACKET) {
      this.count = 0;
      this.flush();
      this.stream.sendNow();
    }
  }

  private write(bytes: Buffer): void {
    if (!this.stream.writable) return;
    if (!this.stream.write(bytes)) this.onBackedUp();
  }
}
