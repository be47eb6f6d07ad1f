import type { EventFrame } from './event-frame.js';
import type { EventOutput } from './ports.js';
import type { BrokerStats } from './stats.js';
import { SubscriberQueue, type QueuePolicy } from './subscriber-queue.js';
import type { Topic } from './topic.js';

export interface SubscriptionLimits {
  readonly queueCapacity: number;
  readonly policy: QueuePolicy;
  /** Disconnect after this many drops without catching up (0: never). */
  readonly maxDrops: number;
  /** Disconnect after being at the bound this long without catching up, in ms (0: never). */
  readonly maxFullMs: number;
  /**
   * Bytes handed to the transport for this subscriber before waiting for it to drain (FELIX_EVENT_SEND_WINDOW);
   * with a byte bound, at most a quarter of it (see transportShare).
   */
  readonly writeAheadBytes: number;
}

/** Which limit a slow consumer was disconnected at (the label of its disconnect counter). */
export type SlowConsumerLimit = 'max_drops' | 'max_full_ms';

/** The `detail.reason` of the eviction notice, and what the SDK reports. */
export const SLOW_CONSUMER_REASON = 'slow_consumer';

/**
 * How much of a subscriber's byte bound (FELIX_SUB_QUEUE_MAX_BYTES) may be handed to the transport ahead:
 * a quarter, and never more than the event send window. The rest waits in the subscriber's queue, where
 * drop_old can still choose what to drop; what the transport holds is past dropping.
 */
export function transportShare(writeAheadBytes: number, maxBytes: number): number {
  return Math.min(writeAheadBytes, Math.floor(maxBytes / 4));
}

/**
 * How many of a subscriber's events (FELIX_SUB_QUEUE_CAPACITY) may be in the transport at once. Under
 * drop_old a quarter, as for bytes: the rest waits in the queue, where the oldest can still be dropped for
 * the newest. drop_old queues every new frame (it drops older queued ones instead), so without this the
 * queue kept moving into the transport: a stalled drop_old subscriber held its write-ahead's worth — ~41k
 * events where the bound was 500 — and got its oldest events first when it read again. block and drop_new
 * queue a frame only when it fits the bound (transport included), so moving it on cannot outgrow the bound:
 * for them the share is the whole bound, and the queue moves on by bytes alone.
 */
export function transportEventShare(capacity: number, policy: QueuePolicy): number {
  return policy === 'drop_old' ? Math.max(1, Math.floor(capacity / 4)) : capacity;
}

// Frames in the transport's backlog are tracked in a ring of this initial size (grown by doubling).
const INITIAL_IN_TRANSPORT = 64;
/**
 * A subscriber whose transport passed on none of its backlog for this long (its client stopped reading,
 * was stopped, or vanished) is stalled: it hands the transport at most STALLED_WRITE_AHEAD more until the
 * backlog moves again. Each frame waiting in the transport costs per-subscriber objects (a few hundred
 * bytes beside the shared frame), one waiting in the queue a pointer: 200 subscriptions of a vanished
 * client held ~1.3 GB in their 8 MiB write-aheads until its connections timed out.
 */
export const STALLED_AFTER_MS = 1000;
export const STALLED_WRITE_AHEAD = 64 * 1024;

/**
 * One subscriber: its bounded queue of shared frames and the output they are written to (its event
 * stream). Its bound (FELIX_SUB_QUEUE_CAPACITY events, FELIX_SUB_QUEUE_MAX_BYTES bytes) counts what is
 * queued and what sits in the transport's send buffer for its stream, so the queue policy and the
 * slow-consumer disconnect engage at that bound whatever the QUIC windows are. Frames move from the queue to
 * the output only while what the network refused of its backlog is under the write-ahead (see
 * transportShare; STALLED_WRITE_AHEAD once the backlog stopped moving), so a stalled subscriber fills its
 * own bound and nothing else — and, once it holds any backlog, only while its connection is within the
 * connection's send window (FELIX_BROKER_SEND_WINDOW), so many stalled subscriptions on one connection
 * hold that window between them, not one write-ahead each.
 */
export class Subscription {
  readonly queue: SubscriberQueue;
  /** @internal counted by the topic while a `block` queue is full */
  blocking = false;
  /**
   * Told when work done for this subscriber outside its own connection's handlers threw (see failed): a
   * defect, never a peer's input. Its connection's session sets it (it closes that connection alone).
   */
  onFailure: ((err: unknown) => void) | null = null;
  private closed = false;
  /** Frames below this offset are replayed history: sent plain, their queueing is not a hop. */
  private liveFrom: number;
  /** Bytes the output may hold before frames wait in the queue. */
  private writeAhead: number;
  /** Events the output may hold before a frame not queued goes there directly (transportEventShare). */
  private readonly eventShare: number;
  /** Events the output may hold before queued frames wait: drop_old's share, else unbounded. */
  private readonly pumpEventBound: number;
  /** The queue waits for the transport to pass events on: the output's mark is narrowed to say when. */
  private heldByEvents = false;
  /** The output's mark while heldByEvents. */
  private holdMark = 0;
  private lookAgainQueued = false;
  private readonly lookAgainBound = (): void => this.lookAgain();
  // Events still in the transport's backlog, found without any per-frame object: every byte our writes
  // added to the backlog is counted in `backlogIn`; a frame is gone from the backlog (which is FIFO) once
  // `backlogIn - backlogBytes` (the bytes it drained) reaches where the frame ended. The ring holds, oldest
  // first, each such frame's end and event count.
  private backlogIn = 0;
  private inTransportEnds = new Float64Array(INITIAL_IN_TRANSPORT);
  private inTransportCounts = new Uint32Array(INITIAL_IN_TRANSPORT);
  private inTransportHead = 0;
  private inTransportTail = 0;
  private inTransportEvents = 0;
  // Progress of the backlog, looked at by checkStall: what it had passed on at the last look, since when it
  // has passed on nothing, and whether that made the subscriber stalled.
  private drainedAtLook = 0;
  /** -1 until the first look: a new subscription has not been seen stalling yet. */
  private progressAt = -1;
  private stalled = false;
  /**
   * drop_new's drops that no frame written since reveals (a frame above them would, by its offsets): the
   * last offset dropped (-1: none) and how many. Told with output.notifyDropped once nothing more is
   * queued or in the transport for this subscriber (see notifyDrops).
   */
  private unrevealedThrough = -1;
  private unrevealedEvents = 0;
  /**
   * The number of the connection it belongs to, as the broker's logs and dashboard number connections
   * (0: none given). Subscription ids are counted per connection, so an id alone names no subscription.
   */
  connection = 0;

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
    this.writeAhead = limits.writeAheadBytes;
    this.eventShare = transportEventShare(limits.queueCapacity, limits.policy);
    this.pumpEventBound = limits.policy === 'drop_old' ? this.eventShare : Number.POSITIVE_INFINITY;
    output.onDrain = () => this.pump();
  }

  /**
   * Bounds the bytes held for this subscriber (FELIX_SUB_QUEUE_MAX_BYTES), queued and in the transport; the
   * output's write-ahead must be transportShare(limits.writeAheadBytes, maxBytes). Called once, before the
   * first frame.
   */
  limitBytes(maxBytes: number): void {
    this.queue.maxBytes = maxBytes;
    this.writeAhead = transportShare(this.limits.writeAheadBytes, maxBytes);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether the queue and the transport hold nothing more for this subscriber. */
  get idle(): boolean {
    return this.queue.isEmpty && this.output.backlogBytes === 0;
  }

  /**
   * Whether a frame handed to it now would go straight to the output (nothing queued, the output under its
   * write-ahead and its connection under its window). When not, the output's onDrain follows once it is.
   */
  get hasRoom(): boolean {
    return this.queue.isEmpty && this.mayWrite(this.output.backlogBytes);
  }

  /** Bytes written to the output that the transport still holds (queued before QUIC took them). */
  get bytesInTransport(): number {
    return this.output.backlogBytes;
  }

  /** Events written to the output that the transport still holds (queued before QUIC took them). */
  get eventsInTransport(): number {
    return this.inTransportHead === this.inTransportTail
      ? 0
      : this.eventsInTransportNow(this.output.backlogBytes);
  }

  /** A new frame from the topic (or from replay). */
  offer(frame: EventFrame, now: number): void {
    if (this.closed) return;
    const q = this.queue;
    const backlog = this.output.backlogBytes;
    const inTransport =
      this.inTransportHead === this.inTransportTail ? 0 : this.eventsInTransportNow(backlog);
    if (
      q.isEmpty &&
      this.mayWrite(backlog) &&
      inTransport + frame.count <= this.eventShare &&
      backlog + frame.bytes.length <= q.maxBytes
    ) {
      this.send(frame);
      return;
    }
    const outcome = q.enqueue(frame, now, inTransport, backlog);
    if (outcome.dropped > 0) {
      this.stats.drops[this.limits.policy] += outcome.dropped;
      // drop_new dropped this frame, the newest: only a later frame's offsets would show it. (drop_old
      // drops older frames for this one, which shows them.)
      if (this.limits.policy === 'drop_new') {
        this.unrevealedThrough = frame.firstOffset + frame.count - 1;
        this.unrevealedEvents += outcome.dropped;
      }
      if (this.limits.maxDrops > 0 && q.dropsSinceProgress >= this.limits.maxDrops) {
        this.evictSlow(
          'max_drops',
          `${q.dropsSinceProgress} events dropped without catching up (FELIX_SLOW_SUB_MAX_DROPS ${this.limits.maxDrops})`,
        );
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

  /** Checked periodically: a subscriber at its bound for too long is disconnected as a slow consumer. */
  checkStall(now: number): void {
    if (this.closed) return;
    const q = this.queue;
    const backlog = this.output.backlogBytes;
    this.checkProgress(backlog, now);
    if (this.closed) return;
    // drop_old's queue held back at the transport's event share whose wake-up could not be arranged (see
    // holdForEvents) moves on here, as a drain would move it (a catch-up from disk reads on too).
    if (this.heldByEvents && !q.isEmpty) {
      if (this.output.onDrain !== null) this.output.onDrain();
      else this.pump();
      if (this.closed) return;
    }
    const held = this.output.backlogBytes;
    q.settle(this.eventsInTransportNow(held), held);
    if (this.unrevealedThrough >= 0) this.notifyDrops();
    const since = q.fullSince;
    if (this.limits.maxFullMs === 0 || since < 0) return;
    if (now - since >= this.limits.maxFullMs) {
      this.evictSlow(
        'max_full_ms',
        `at its bound for ${Math.round(now - since)} ms (FELIX_SLOW_SUB_MAX_FULL_MS ${this.limits.maxFullMs})`,
      );
    }
  }

  /**
   * Stalled once the backlog passed on nothing for STALLED_AFTER_MS; no longer once it moves (or empties),
   * and then what waited in the queue goes on at once.
   */
  private checkProgress(backlog: number, now: number): void {
    const drained = this.backlogIn - backlog;
    if (backlog === 0 || drained !== this.drainedAtLook || this.progressAt < 0) {
      this.drainedAtLook = drained;
      this.progressAt = now;
      if (this.stalled) {
        this.stalled = false;
        this.output.narrowWriteAhead?.(null);
        // As a drain would: the queue goes on, and whatever else waits on this output's drain (a catch-up
        // from disk) reads on.
        if (this.output.onDrain !== null) this.output.onDrain();
        else this.pump();
      }
    } else if (!this.stalled && now - this.progressAt >= STALLED_AFTER_MS) {
      this.stalled = true;
      // The output wakes this subscription once its backlog is under the small write-ahead: when the peer
      // reads again the queue goes on at once, not at the next sweep.
      this.output.narrowWriteAhead?.(
        this.heldByEvents ? Math.min(this.holdMark, STALLED_WRITE_AHEAD) : STALLED_WRITE_AHEAD,
      );
    }
  }

  /**
   * Serving this subscriber threw where its own connection's handlers are not on the stack — a fan-out run
   * by a publisher's turn, a timer (the sweep, a held batch), a disk read or commit: a defect, never a
   * peer's input. Its connection pays (onFailure), not the publisher whose turn it was, nor the process.
   */
  failed(err: unknown): void {
    if (this.onFailure !== null) {
      this.onFailure(err);
      return;
    }
    this.stats.internalErrors++;
    this.abort(0);
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

  /** The end of the turn that wrote frames for this subscriber: they go on the wire now (EventOutput.push). */
  push(): void {
    if (!this.closed) this.output.push?.();
  }

  /** Moves queued frames to the transport while it has room for this stream. */
  pump(): void {
    const q = this.queue;
    const output = this.output;
    if (this.heldByEvents) this.releaseEventHold();
    const bounded = this.pumpEventBound !== Number.POSITIVE_INFINITY;
    let frame = q.peek();
    let inTransport = frame === undefined || !bounded ? 0 : this.eventsInTransportNow(output.backlogBytes);
    while (frame !== undefined && !this.closed && this.mayWrite(output.backlogBytes)) {
      // drop_old: within the transport's share of the events (a frame larger than it goes alone).
      if (inTransport !== 0 && inTransport + frame.count > this.pumpEventBound) {
        this.holdForEvents(output.backlogBytes);
        break;
      }
      q.shift();
      this.send(frame);
      if (bounded) inTransport = this.eventsInTransportNow(output.backlogBytes);
      frame = q.peek();
    }
    if (this.closed) return;
    const backlog = output.backlogBytes;
    inTransport = this.eventsInTransportNow(backlog);
    q.settle(inTransport, backlog);
    if (this.blocking && !q.isFullWith(inTransport, backlog)) this.topic.unblock(this);
    if (this.unrevealedThrough >= 0) this.notifyDrops();
  }

  /**
   * Tells the subscriber of drops no later frame revealed, once the queue and the transport hold nothing
   * more for it: after every event before them, and once per episode however long it stayed behind (the
   * sweep's checkStall looks again when the transport empties without a drain to say so).
   */
  private notifyDrops(): void {
    const output = this.output;
    if (output.notifyDropped === undefined || !this.queue.isEmpty || output.backlogBytes !== 0) return;
    output.notifyDropped(this.unrevealedThrough, this.unrevealedEvents);
    // The notice's bytes, if the transport kept them, precede any frame's in its FIFO backlog.
    this.backlogIn += output.backlogBytes;
    this.unrevealedThrough = -1;
    this.unrevealedEvents = 0;
  }

  /**
   * The queue waits at the transport's event share: the output is told to call onDrain (which pumps) once
   * the oldest frame it holds has left — its bytes are the first of what waits there. When they are not
   * refused yet (gathered for this turn's send, which no drain follows) it looks again after this turn.
   */
  private holdForEvents(backlog: number): void {
    const mask = this.inTransportEnds.length - 1;
    const oldestLeft = this.inTransportEnds[this.inTransportHead & mask]! - (this.backlogIn - backlog);
    const waiting = this.output.waitingBytes ?? backlog;
    this.heldByEvents = true;
    this.holdMark = Math.max(0, waiting - oldestLeft);
    this.output.narrowWriteAhead?.(this.holdMark);
    if (waiting < oldestLeft && !this.lookAgainQueued) {
      this.lookAgainQueued = true;
      setImmediate(this.lookAgainBound);
    }
  }

  /** After the turn whose send took what held the transport's event share: as a drain would. */
  private lookAgain(): void {
    this.lookAgainQueued = false;
    if (this.closed || !this.heldByEvents) return;
    if (this.output.onDrain !== null) this.output.onDrain();
    else this.pump();
  }

  private releaseEventHold(): void {
    this.heldByEvents = false;
    this.output.narrowWriteAhead?.(this.stalled ? STALLED_WRITE_AHEAD : null);
  }

  /**
   * Whether a frame may go to the output now: under the write-ahead (a small one while stalled), and with a
   * backlog only while the connection has room (the output calls onDrain when it gets some back).
   */
  private mayWrite(backlog: number): boolean {
    if (backlog === 0) return true;
    // The write-ahead counts what the network refused, as the output's high-water mark does: past it the
    // output's drain wakes this subscription. Small writes gathered for this turn's send are not refused yet
    // (counting them, a write-ahead under the gather buffer stopped with nothing left to wake it).
    const waiting = this.output.waitingBytes ?? backlog;
    if (waiting > (this.stalled ? STALLED_WRITE_AHEAD : this.writeAhead)) return false;
    return this.output.connectionHasRoom?.() !== false;
  }

  private send(frame: EventFrame): void {
    const output = this.output;
    // Its offsets show the subscriber the drops below it: nothing left to tell.
    if (frame.firstOffset > this.unrevealedThrough && this.unrevealedThrough >= 0) {
      this.unrevealedThrough = -1;
      this.unrevealedEvents = 0;
    }
    const before = output.backlogBytes;
    output.write(frame, frame.firstOffset >= this.liveFrom);
    // What of this frame the transport could not pass on at once (a write may also drain older bytes,
    // which only makes the frame look gone a little early).
    const added = output.backlogBytes - before;
    if (added > 0) {
      this.backlogIn += added;
      this.noteInTransport(this.backlogIn, frame.count);
    }
    this.stats.deliveredEvents += frame.count;
    this.stats.deliveredBytes += frame.bytes.length;
    this.stats.deliveredFrames++;
  }

  /** Forgets frames the transport has passed on, given its backlog now; returns the events still in it. */
  private eventsInTransportNow(backlog: number): number {
    const drained = this.backlogIn - backlog;
    const ends = this.inTransportEnds;
    const mask = ends.length - 1;
    let head = this.inTransportHead;
    const tail = this.inTransportTail;
    while (head !== tail && ends[head & mask]! <= drained) {
      this.inTransportEvents -= this.inTransportCounts[head & mask]!;
      head++;
    }
    this.inTransportHead = head;
    return this.inTransportEvents;
  }

  private noteInTransport(end: number, count: number): void {
    if (this.inTransportTail - this.inTransportHead === this.inTransportEnds.length) this.growInTransport();
    const mask = this.inTransportEnds.length - 1;
    this.inTransportEnds[this.inTransportTail & mask] = end;
    this.inTransportCounts[this.inTransportTail & mask] = count;
    this.inTransportTail++;
    this.inTransportEvents += count;
  }

  private growInTransport(): void {
    const size = this.inTransportEnds.length;
    const ends = new Float64Array(size * 2);
    const counts = new Uint32Array(size * 2);
    for (let i = 0; i < size; i++) {
      const from = (this.inTransportHead + i) & (size - 1);
      ends[i] = this.inTransportEnds[from]!;
      counts[i] = this.inTransportCounts[from]!;
    }
    this.inTransportEnds = ends;
    this.inTransportCounts = counts;
    this.inTransportHead = 0;
    this.inTransportTail = size;
  }

  /** Disconnects this subscriber as a slow consumer, counted by the limit it reached. */
  private evictSlow(limit: SlowConsumerLimit, why: string): void {
    this.stats.slowConsumerDisconnects[limit]++;
    this.evict(this, `slow subscriber (${SLOW_CONSUMER_REASON}): ${why}`);
  }

  private release(): void {
    this.queue.clear();
    this.topic.removeSubscriber(this);
  }
}
