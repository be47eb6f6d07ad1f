import type { EventFrame } from './event-frame.js';

export type QueuePolicy = 'block' | 'drop_new' | 'drop_old';
export const QUEUE_POLICIES: readonly QueuePolicy[] = ['block', 'drop_new', 'drop_old'];

export interface EnqueueOutcome {
  /** Events dropped by this enqueue (the new frame's under drop_new, old frames' under drop_old). */
  readonly dropped: number;
  /** The subscriber is at its bound: under `block` the producer should hold back. */
  readonly full: boolean;
}

const NOTHING_DROPPED: EnqueueOutcome = { dropped: 0, full: false };

/**
 * The bounded queue between a stream's fanout and one subscriber's QUIC stream. Holds shared frames only
 * (no copies). Its bound — `capacity` events and `maxBytes` bytes — covers what is queued here plus what
 * the caller says is already held for the same subscriber further on (`heldEvents`/`heldBytes`: written to
 * its stream, not yet taken by QUIC), so the policy applies at one bound whatever the transport windows are.
 * Drops are counted here and become visible to the subscriber as a gap in offsets, since every frame
 * carries its offsets.
 *
 * A "slow episode" starts when the bound is first met and ends only when the subscriber is back under half
 * of it (see settle): a consumer hovering at its bound stays slow, one that caught up is forgiven.
 */
export class SubscriberQueue {
  private frames: EventFrame[] = [];
  private head = 0;
  /** Events currently queued. */
  depth = 0;
  /** Bytes of the frames currently queued. */
  bytes = 0;
  /** Events dropped over the queue's life. */
  droppedTotal = 0;
  /** Drops in the current slow episode: the slow-consumer disconnect counts these. */
  dropsSinceProgress = 0;
  /** When the current slow episode began (performance.now() ms), or -1 while there is none. */
  fullSince = -1;

  constructor(
    readonly capacity: number,
    readonly policy: QueuePolicy,
    /** Set once, before the first frame (the subscription's FELIX_SUB_QUEUE_MAX_BYTES). */
    public maxBytes: number = Number.POSITIVE_INFINITY,
  ) {}

  get isEmpty(): boolean {
    return this.head === this.frames.length;
  }

  /** At the bound, counting only what is queued here. */
  get isFull(): boolean {
    return this.isFullWith(0, 0);
  }

  /** At the bound, counting what is queued here and what is held further on. */
  isFullWith(heldEvents: number, heldBytes: number): boolean {
    return this.depth + heldEvents >= this.capacity || this.bytes + heldBytes >= this.maxBytes;
  }

  /**
   * Queues `frame` unless the policy drops it. `heldEvents`/`heldBytes`: what is held for this subscriber
   * beyond the queue (counted against the same bound, but no longer droppable).
   */
  enqueue(frame: EventFrame, now: number, heldEvents = 0, heldBytes = 0): EnqueueOutcome {
    let dropped = 0;
    const size = frame.bytes.length;
    if (!this.fits(frame.count, size, heldEvents, heldBytes)) {
      if (this.policy === 'drop_new') {
        this.noteDrop(frame.count, now);
        return { dropped: frame.count, full: true };
      }
      if (this.policy === 'drop_old') {
        while (!this.isEmpty && !this.fits(frame.count, size, heldEvents, heldBytes)) {
          const old = this.frames[this.head]!;
          this.frames[this.head++] = undefined as unknown as EventFrame;
          this.depth -= old.count;
          this.bytes -= old.bytes.length;
          dropped += old.count;
        }
        // Queued now whether or not it fits (the queue may be empty and what fills the bound already in the
        // transport, past dropping): drop_old keeps the newest events.
        this.noteDrop(dropped, now);
      }
      // block: keep the frame (nothing accepted is ever lost); the caller pauses the producers.
    }
    this.frames.push(frame);
    this.depth += frame.count;
    this.bytes += size;
    const full = this.isFullWith(heldEvents, heldBytes);
    if (full && this.fullSince < 0) this.fullSince = now;
    return dropped === 0 && !full ? NOTHING_DROPPED : { dropped, full };
  }

  /** Queues a frame past the bound: for replayed history, which the subscriber asked for in full. */
  enqueueUnbounded(frame: EventFrame): void {
    this.frames.push(frame);
    this.depth += frame.count;
    this.bytes += frame.bytes.length;
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
    this.bytes -= f.bytes.length;
    if (this.head === this.frames.length) {
      this.frames.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Ends the slow episode once the subscriber is back under half its bound, counting `heldEvents` and
   * `heldBytes` held beyond the queue. Half, not the bound itself: a consumer that only ever frees one
   * frame's room before the next arrives has not caught up.
   */
  settle(heldEvents: number, heldBytes: number): void {
    if (this.fullSince < 0 && this.dropsSinceProgress === 0) return;
    if ((this.depth + heldEvents) * 2 < this.capacity && (this.bytes + heldBytes) * 2 < this.maxBytes) {
      this.fullSince = -1;
      this.dropsSinceProgress = 0;
    }
  }

  clear(): void {
    this.frames = [];
    this.head = 0;
    this.depth = 0;
    this.bytes = 0;
  }

  /**
   * Whether a frame of `count` events and `size` bytes may be queued. Into an empty subscriber anything
   * fits, so a frame larger than the bound is delivered rather than dropped forever.
   */
  private fits(count: number, size: number, heldEvents: number, heldBytes: number): boolean {
    const events = this.depth + heldEvents;
    const bytes = this.bytes + heldBytes;
    if (events === 0 && bytes === 0) return true;
    return events + count <= this.capacity && bytes + size <= this.maxBytes;
  }

  private noteDrop(events: number, now: number): void {
    if (events === 0) return;
    this.droppedTotal += events;
    this.dropsSinceProgress += events;
    if (this.fullSince < 0) this.fullSince = now;
  }
}
