import type { EventFrame } from './event-frame.js';

export type QueuePolicy = 'block' | 'drop_new' | 'drop_old';
export const QUEUE_POLICIES: readonly QueuePolicy[] = ['block', 'drop_new', 'drop_old'];

export interface EnqueueOutcome {
  /** Events dropped by this enqueue (the new frame's under drop_new, old frames' under drop_old). */
  readonly dropped: number;
  /** Under `block`: the queue is at or over capacity and the producer should hold back. */
  readonly full: boolean;
}

/**
 * The bounded queue between a stream's fanout and one subscriber's QUIC stream, counted in events.
 * Holds shared frames only (no copies). Drops are counted here and become visible to the subscriber
 * as a gap in offsets, since every frame carries its offsets.
 */
export class SubscriberQueue {
  private frames: EventFrame[] = [];
  private head = 0;
  /** Events currently queued. */
  depth = 0;
  /** Events dropped over the queue's life. */
  droppedTotal = 0;
  /** Drops since the subscriber last made progress: the slow-subscriber disconnect counts these. */
  dropsSinceProgress = 0;
  /** When the queue last became full (performance.now() ms), or -1 while it has room. */
  fullSince = -1;

  constructor(
    readonly capacity: number,
    readonly policy: QueuePolicy,
  ) {}

  get isEmpty(): boolean {
    return this.head === this.frames.length;
  }

  get isFull(): boolean {
    return this.depth >= this.capacity;
  }

  enqueue(frame: EventFrame, now: number): EnqueueOutcome {
    let dropped = 0;
    if (this.depth + frame.count > this.capacity && !this.isEmpty) {
      if (this.policy === 'drop_new') {
        dropped = frame.count;
        this.noteDrop(dropped, now);
        return { dropped, full: true };
      }
      if (this.policy === 'drop_old') {
        while (!this.isEmpty && this.depth + frame.count > this.capacity) {
          const old = this.frames[this.head]!;
          this.frames[this.head++] = undefined as unknown as EventFrame;
          this.depth -= old.count;
          dropped += old.count;
        }
        this.noteDrop(dropped, now);
      }
      // block: keep the frame (nothing accepted is ever lost); the caller pauses the producers.
    }
    this.frames.push(frame);
    this.depth += frame.count;
    const full = this.depth >= this.capacity;
    if (full && this.fullSince < 0) this.fullSince = now;
    return { dropped, full };
  }

  /** Queues a frame past the capacity: for replayed history, which the subscriber asked for in full. */
  enqueueUnbounded(frame: EventFrame): void {
    this.frames.push(frame);
    this.depth += frame.count;
  }

  /** The next frame to write, without removing it. */
  peek(): EventFrame | undefined {
    return this.head < this.frames.length ? this.frames[this.head] : undefined;
  }

  /** Removes the frame peek() returned, once it was handed to the transport. */
  shift(): void {
    const f = this.frames[this.head]!;
    this.frames[this.head++] = undefined as unknown as EventFrame;
    this.depth -= f.count;
    this.dropsSinceProgress = 0;
    if (this.depth < this.capacity) this.fullSince = -1;
    if (this.head === this.frames.length) {
      this.frames.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.frames = [];
    this.head = 0;
    this.depth = 0;
  }

  private noteDrop(events: number, now: number): void {
    if (events === 0) return;
    this.droppedTotal += events;
    this.dropsSinceProgress += events;
    if (this.fullSince < 0) this.fullSince = now;
  }
}
