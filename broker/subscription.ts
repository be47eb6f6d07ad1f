import type { Stream } from '../transport/index.js';
import {
  EVENT_STAMP_BYTES,
  EVENT_STAMP_PREFIX_BYTES,
  HEADER_BYTES,
  monotonicNs,
  writeEventStampPrefix,
} from '../wire/index.js';
import { HOP, type HopTimings } from './hop-timings.js';
import type { EventFrame, FrameTiming } from './event-frame.js';
import type { BrokerStats } from './stats.js';
import { SubscriberQueue, type QueuePolicy } from './subscriber-queue.js';
import type { Topic } from './topic.js';

// A frame's plain header while its TIMINGS form is being written over it.
const plainHeader = new Uint8Array(HEADER_BYTES);

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
 * One subscriber: its bounded queue of shared frames and the broker-opened stream they are written to.
 * Frames move from the queue to the transport only while the transport holds less than the write-ahead
 * for this stream, so a stalled subscriber fills its own queue (where the policy applies) and nothing else.
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
    private readonly stream: Stream,
    private readonly limits: SubscriptionLimits,
    private readonly stats: BrokerStats,
    /** Ends the subscription from the broker's side with a reason (slow subscriber). */
    private readonly evict: (sub: Subscription, reason: string) => void,
    /** Set when this subscriber negotiated TIMINGS and the broker records hops. */
    private readonly timings: HopTimings | null,
  ) {
    this.liveFrom = topic.log.next;
    this.queue = new SubscriberQueue(limits.queueCapacity, limits.policy);
    stream.highWaterMark = limits.writeAheadBytes;
    stream.onDrain = () => this.pump();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether the queue and the transport hold nothing more for this subscriber. */
  get idle(): boolean {
    return this.queue.isEmpty && this.stream.writableLength === 0;
  }

  /** A new frame from the topic (or from replay). */
  offer(frame: EventFrame, now: number): void {
    if (this.closed) return;
    const q = this.queue;
    if (q.isEmpty && this.stream.writableLength <= this.limits.writeAheadBytes) {
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

  /** Writes a first frame that is not from the fanout (the stream hello). */
  writeRaw(bytes: Uint8Array): void {
    this.stream.write(bytes);
  }

  /** Ends the event stream after what is queued (FIN), e.g. on unsubscribe or shutdown. */
  finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    if (this.stream.writable) this.stream.end();
  }

  /** Ends the event stream at once with an application code (eviction). */
  abort(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    if (this.stream.writable) this.stream.reset(code);
  }

  /** Moves queued frames to the transport while it has room for this stream. */
  pump(): void {
    const q = this.queue;
    const stream = this.stream;
    let frame = q.peek();
    while (frame !== undefined && !this.closed && stream.writableLength <= this.limits.writeAheadBytes) {
      q.shift();
      this.send(frame);
      frame = q.peek();
    }
    if (this.blocking && !q.isFull) this.topic.unblock(this);
  }

  private send(frame: EventFrame): void {
    if (!this.stream.writable) return;
    const timing = frame.timing;
    if (this.timings !== null && timing !== null && frame.firstOffset >= this.liveFrom) {
      this.sendStamped(timing, this.timings);
    } else {
      this.stream.write(frame.bytes);
    }
    this.stats.deliveredEvents += frame.count;
    this.stats.deliveredBytes += frame.bytes.length;
    this.stats.deliveredFrames++;
  }

  /** A live frame in its TIMINGS form, with this subscriber's write stamp (apart from send's plain path). */
  private sendStamped(timing: FrameTiming, timings: HopTimings): void {
    // The frame in its TIMINGS form, as one buffer: this subscriber's header and stamps written in the
    // room in front of the shared frame (over its plain header), then the shared body. The transport
    // copies whatever of the prefix it does not send at once, so the plain header can be put back at once
    // for other subscribers and the replay log.
    const stamped = timing.stamped;
    const header = EVENT_STAMP_BYTES;
    for (let i = 0; i < HEADER_BYTES; i++) plainHeader[i] = stamped[header + i]!;
    const writeNs = monotonicNs();
    writeEventStampPrefix(stamped, plainHeader, timing.sendNs, timing.decodeNs, timing.enqueueNs, writeNs);
    this.stream.writeTransient(stamped, EVENT_STAMP_PREFIX_BYTES);
    for (let i = 0; i < HEADER_BYTES; i++) stamped[header + i] = plainHeader[i]!;
    timings.record(HOP.queue, writeNs - timing.enqueueNs);
  }

  private release(): void {
    this.queue.clear();
    this.topic.removeSubscriber(this);
  }
}
