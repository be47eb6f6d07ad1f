import type { EventFrame } from './event-frame.js';
import type { EventOutput } from './ports.js';
import type { BrokerStats } from './stats.js';
import { SubscriberQueue, type QueuePolicy } from './subscriber-queue.js';
import type { Topic } from './topic.js';

export interface SubscriptionLimits {
  readonly queueCapacity: number;
  readonly policy: QueuePolicy;
  /** Disconnect after this many drops without progress (0: never). */
  readonly maxDrops: number;
  /** Disconnect after being full this long, in ms (0: never). */
  readonly maxFullMs: number;
  /** Bytes handed to the transport for this subscriber before waiting for it to drain. */
  readonly writeAheadBytes: number;
}

/**
 * One subscriber: its bounded queue of shared frames and the output they are written to (its event
 * stream). Frames move from the queue to the output only while the output holds less than the write-ahead,
 * so a stalled subscriber fills its own queue (where the policy applies) and nothing else.
 */
export class Subscription {
  readonly queue: SubscriberQueue;
  /** @internal counted by the topic while a `block` queue is full */
  blocking = false;
  private closed = false;
  /** Frames below this offset are replayed history: sent plain, their queueing is not a hop. */
  private liveFrom: number;

  constructor(
    readonly id: number,
    readonly topic: Topic,
    private readonly output: EventOutput,
    private readonly limits: SubscriptionLimits,
    private readonly stats: BrokerStats,
    /** Ends the subscription from the broker's side with a reason (slow subscriber). */
    private readonly evict: (sub: Subscription, reason: string) => void,
  ) {
    this.liveFrom = topic.log.next;
    this.queue = new SubscriberQueue(limits.queueCapacity, limits.policy);
    output.onDrain = () => this.pump();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether the queue and the transport hold nothing more for this subscriber. */
  get idle(): boolean {
    return this.queue.isEmpty && this.output.backlogBytes === 0;
  }

  /** A new frame from the topic (or from replay). */
  offer(frame: EventFrame, now: number): void {
    if (this.closed) return;
    const q = this.queue;
    if (q.isEmpty && this.output.backlogBytes <= this.limits.writeAheadBytes) {
      this.send(frame);
      return;
    }
    const outcome = q.enqueue(frame, now);
    if (outcome.dropped > 0) {
      this.stats.drops[this.limits.policy] += outcome.dropped;
      if (this.limits.maxDrops > 0 && q.dropsSinceProgress >= this.limits.maxDrops) {
        this.evict(this, `slow subscriber: ${q.dropsSinceProgress} events dropped without progress`);
        return;
      }
    }
    if (outcome.full && this.limits.policy === 'block') this.topic.block(this);
    this.pump();
  }

  /**
   * History the subscriber asked for: queued whatever the capacity (the frames are shared with the log, so
   * this costs no memory) and written as the transport takes them, before any live frame.
   */
  replay(frames: readonly EventFrame[]): void {
    for (const f of frames) this.queue.enqueueUnbounded(f);
    this.pump();
  }

  /** Checked periodically: a queue full for too long is evicted. */
  checkStall(now: number): void {
    const since = this.queue.fullSince;
    if (this.closed || this.limits.maxFullMs === 0 || since < 0) return;
    if (now - since >= this.limits.maxFullMs) {
      this.evict(this, `slow subscriber: queue full for ${Math.round(now - since)} ms`);
    }
  }

  /** Ends the event stream after what is queued (FIN), e.g. on unsubscribe or shutdown. */
  finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    this.output.finish();
  }

  /** Ends the event stream at once with an application code (eviction). */
  abort(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    this.output.abort(code);
  }

  /** Moves queued frames to the transport while it has room for this stream. */
  pump(): void {
    const q = this.queue;
    const output = this.output;
    let frame = q.peek();
    while (frame !== undefined && !this.closed && output.backlogBytes <= this.limits.writeAheadBytes) {
      q.shift();
      this.send(frame);
      frame = q.peek();
    }
    if (this.blocking && !q.isFull) this.topic.unblock(this);
  }

  private send(frame: EventFrame): void {
    this.output.write(frame, frame.firstOffset >= this.liveFrom);
    this.stats.deliveredEvents += frame.count;
    this.stats.deliveredBytes += frame.bytes.length;
    this.stats.deliveredFrames++;
  }

  private release(): void {
    this.queue.clear();
    this.topic.removeSubscriber(this);
  }
}
