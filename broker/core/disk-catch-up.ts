/**
 * A subscriber of a durable stream that starts below what the replay ring holds: its history is read from
 * the stream's log a chunk at a time — the next chunk only once the subscriber can take more
 * (Subscription.hasRoom), so it is paced by the subscriber like live events and the log is never loaded
 * whole. Once the cursor reaches what is in memory (the ring, or the frames not yet readable from
 * disk) the subscriber joins the live stream in the same synchronous step, so no frame is missed or doubled.
 * While catching up it is not among the topic's subscribers: it holds back no publisher.
 */
import type { EventFrame } from './event-frame.js';
import type { StorageCursor, StorageRead } from './stream-storage.js';
import type { Subscription } from './subscription.js';
import type { Topic } from './topic.js';

export class DiskCatchUp {
  private readonly cursor: StorageCursor;
  private reading = false;
  private finished = false;

  constructor(
    private readonly topic: Topic,
    private readonly sub: Subscription,
    /** Offset of the next event the subscriber needs. */
    private next: number,
    /** Reading the log failed: the subscription cannot go on. */
    private readonly onError: (err: Error) => void,
  ) {
    this.cursor = topic.storage!.openCursor();
  }

  get done(): boolean {
    return this.finished;
  }

  /** Reads on while the subscriber has room (call at start and whenever its output drained). */
  step(): void {
    // Called from a disk read's completion and a timer too, outside every connection's handlers: a defect
    // here ends this catch-up and costs the subscriber's connection (Subscription.failed), not the process.
    try {
      this.readOn();
    } catch (err) {
      this.close();
      this.sub.failed(err);
    }
  }

  private readOn(): void {
    const sub = this.sub;
    if (this.finished || this.reading) return;
    if (sub.isClosed) {
      this.close();
      return;
    }
    // When it has no room, its output's drain calls step() again.
    if (!sub.hasRoom) return;
    const topic = this.topic;
    const storage = topic.storage!;
    if (this.next >= topic.log.oldest) {
      const r = topic.log.replayFrom(this.next);
      if (r.ok) {
        this.join(r.frames);
        return;
      }
    }
    if (this.next >= storage.readableEnd) {
      this.join(storage.framesInMemory(this.next));
      return;
    }
    this.reading = true;
    this.cursor.read(this.next, (err, result) => {
      this.reading = false;
      if (err !== null) {
        this.close();
        this.onError(err);
        return;
      }
      try {
        this.took(result);
      } catch (failure) {
        this.close();
        sub.failed(failure);
      }
    });
  }

  /** What a read of the log brought: replayed, and the next read started. */
  private took(result: StorageRead): void {
    const sub = this.sub;
    if (this.finished || sub.isClosed) {
      this.close();
      return;
    }
    const before = this.next;
    this.next = Math.max(before, result.next);
    if (result.frames.length > 0) sub.replay(result.frames);
    // Nothing read and no progress (the log changed under the read, or the process is out of descriptors
    // for now): look again shortly, never spin.
    if (result.frames.length === 0 && this.next === before)
      setTimeout(() => this.step(), result.waitMs ?? 10);
    else this.readOn();
  }

  close(): void {
    if (this.finished) return;
    this.finished = true;
    this.cursor.close();
  }

  private join(frames: readonly EventFrame[]): void {
    this.close();
    if (frames.length > 0) this.sub.replay(frames);
    this.topic.addSubscriber(this.sub);
  }
}
