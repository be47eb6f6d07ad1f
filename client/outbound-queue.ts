/**
 * The send side of one long-lived stream (a publish or cache worker): writes frames straight to the
 * transport while it takes them, queues them while it pushes back, and interleaves chunked publishes with
 * everything else.
 *
 * Bounds. Frames admitted here but not yet written count against `maxQueuedBytes`; while they reach it,
 * new frames wait unadmitted, in order, and their senders get a promise that settles on admission. So the
 * client holds at most `maxQueuedBytes` (plus one frame or chunked publish that started below the bound)
 * per worker, and callers that await their publishes are slowed to the broker's pace.
 *
 * Chunks. A chunked publish (a run of `publish_chunk` frames) sends `chunkBytesPerTurn` of chunks per turn
 * of the event loop (at least one chunk); frames queued meanwhile go out between turns, so one huge publish
 * holds up small ones for at most that many bytes — the publisher's FELIX_PUBLISH_WHOLE_MAX_BYTES, what a
 * payload sent whole holds its stream for anyway. (One 16 KiB chunk per turn made a 1 MiB publish 65
 * turns: 0.55× the rate of the same payload sent whole.) The
 * `order` key (the target stream) keeps per-stream order: a frame for a stream with a chunked publish in
 * progress waits behind that publish's last chunk, because the broker appends the publish only then.
 *
 * Reconnect. detach() stops writing when the stream is lost (or its broker drains) and keeps everything
 * not yet written — frames admitted, waiting, and chunked publishes, which start over from their first
 * chunk since the broker dropped the pieces it had — for the next attach(). While detached, frames are
 * admitted up to the same bound and then wait: publishes without ack are buffered, then pushed back.
 */

/** Where frames go: the transport stream. false means "stop until drained()"; the frame was still taken. */
export interface FrameSink {
  /**
   * Writes one frame: a whole frame with the request it carries (`requestId`, -1 for none), or a chunk of
   * a chunked publish (`requestId` undefined).
   */
  write(frame: Uint8Array, requestId?: number): boolean;
  /** A frame no answer comes for (or every chunk of such a chunked publish) was written. */
  wroteUnanswered?(frame: Buffer | null, chunks: readonly Buffer[] | null): void;
}

/** Runs `turn` after pending I/O; setImmediate in production, a manual stepper in tests. */
export type TurnScheduler = (turn: () => void) => void;

export interface OutboundQueueOptions {
  readonly maxQueuedBytes: number;
  readonly scheduleTurn?: TurnScheduler;
  /** Chunk bytes written per turn (at least one chunk); 0 (the default): one chunk per turn. */
  readonly chunkBytesPerTurn?: number;
}

/** Waiting frames' senders get this; only allocated for a frame that actually has to wait. */
interface Admission {
  resolve(): void;
  reject(error: Error): void;
}

class Item {
  /** Next chunk to send (chunked items only). */
  next = 0;
  /** Frames for the same `order` queued while this chunked publish is unfinished. */
  behind: Item[] | null = null;
  admission: Admission | null = null;

  constructor(
    readonly frame: Buffer | null,
    readonly chunks: readonly Buffer[] | null,
    readonly order: object | undefined,
    readonly bytes: number,
    /** The request this frame carries (its answer is awaited), or -1. */
    readonly requestId: number,
  ) {}
}

const defaultScheduler: TurnScheduler = (turn) => setImmediate(turn);

export class OutboundQueue {
  /** Fires when the queue becomes empty (nothing admitted or waiting). */
  onIdle: (() => void) | null = null;

  private sink: FrameSink | null = null;
  private blocked = false;
  private failure: Error | null = null;
  private ready: Item[] = [];
  private readyHead = 0;
  private readonly chunkJobs: Item[] = [];
  private readonly lastJobByOrder = new Map<object, Item>();
  private waiting: Item[] = [];
  private waitingHead = 0;
  private queued = 0;
  private turnScheduled = false;
  private readonly maxQueuedBytes: number;
  private readonly scheduleTurn: TurnScheduler;
  private readonly chunkBytesPerTurn: number;
  private readonly turnBound = (): void => this.turn();

  constructor(options: OutboundQueueOptions) {
    this.maxQueuedBytes = options.maxQueuedBytes;
    this.scheduleTurn = options.scheduleTurn ?? defaultScheduler;
    this.chunkBytesPerTurn = options.chunkBytesPerTurn ?? 0;
  }

  /** Bytes admitted and not yet written. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Frames waiting for room (not admitted, not counted in queuedBytes). */
  get waitingFrames(): number {
    return this.waiting.length - this.waitingHead;
  }

  get idle(): boolean {
    return this.queued === 0 && this.waitingHead === this.waiting.length;
  }

  /** The stream is ready (authenticated): start writing. `blocked`: the sink already pushes back. */
  attach(sink: FrameSink, blocked = false): void {
    this.sink = sink;
    this.blocked = blocked;
    this.pump();
  }

  /**
   * Stops writing (the stream was lost, or its broker drains) and keeps what is not written yet for the
   * next attach(). A chunked publish cut short starts over: the broker drops the pieces of a publish
   * whose stream ended.
   */
  detach(): void {
    this.sink = null;
    this.blocked = false;
    for (const job of this.chunkJobs) {
      for (let i = 0; i < job.next; i++) this.queued += job.chunks![i]!.byteLength;
      job.next = 0;
    }
  }

  /** Request ids of the frames not (entirely) written yet: they still go out from here. */
  unwrittenRequests(): Set<number> {
    const ids = new Set<number>();
    const note = (item: Item): void => {
      if (item.requestId >= 0) ids.add(item.requestId);
      if (item.behind !== null) for (const behind of item.behind) note(behind);
    };
    for (let i = this.readyHead; i < this.ready.length; i++) note(this.ready[i]!);
    for (const job of this.chunkJobs) note(job);
    for (let i = this.waitingHead; i < this.waiting.length; i++) note(this.waiting[i]!);
    return ids;
  }

  /**
   * Takes back the frame carrying `requestId` if none of it was written yet (a request that timed out
   * unsent must never go out later: its caller was told it was not sent, and may send it again). False when
   * it is not here or is partly written (a chunked publish under way: its caller hears the outcome is unknown).
   */
  withdraw(requestId: number): boolean {
    if (requestId < 0) return false;
    const fromReady = this.removeFrom(this.ready, this.readyHead, requestId);
    if (fromReady !== null) {
      this.queued -= fromReady.bytes;
      return this.withdrawn();
    }
    const fromWaiting = this.removeFrom(this.waiting, this.waitingHead, requestId);
    if (fromWaiting !== null) {
      // Not admitted, so not counted; a sender waiting for admission goes on (its request has failed).
      fromWaiting.admission?.resolve();
      return this.withdrawn();
    }
    for (let j = 0; j < this.chunkJobs.length; j++) {
      const job = this.chunkJobs[j]!;
      const behind = job.behind === null ? null : this.removeFrom(job.behind, 0, requestId);
      if (behind !== null) {
        this.queued -= behind.bytes;
        return this.withdrawn();
      }
      if (job.requestId !== requestId) continue;
      if (job.next > 0) return false;
      this.chunkJobs.splice(j, 1);
      this.queued -= job.bytes;
      if (job.order !== undefined && this.lastJobByOrder.get(job.order) === job) {
        this.lastJobByOrder.delete(job.order);
      }
      // What waited behind it keeps its order among its own stream's frames.
      if (job.behind !== null) for (const item of job.behind) this.ready.push(item);
      this.pump();
      return true;
    }
    return false;
  }

  /** After a withdrawal: a queue it emptied is idle, as one emptied by writing is (a close waits for it). */
  private withdrawn(): true {
    if (this.idle) this.onIdle?.();
    return true;
  }

  /** Removes the item carrying `requestId` from `items` (at or after `head`); null when none does. */
  private removeFrom(items: Item[], head: number, requestId: number): Item | null {
    for (let i = head; i < items.length; i++) {
      if (items[i]!.requestId !== requestId) continue;
      return items.splice(i, 1)[0]!;
    }
    return null;
  }

  /** The transport can take more (its onDrain). */
  drained(): void {
    this.blocked = false;
    this.pump();
  }

  /**
   * Sends one frame, or queues it. Returns undefined when the frame was admitted at once, otherwise a
   * promise that resolves when it is admitted (or rejects when the queue fails first). With `notify`
   * false no promise is made: the caller already has one (an ack) that covers the wait.
   */
  send(frame: Buffer, order?: object, notify = true, requestId = -1): Promise<void> | undefined {
    if (
      this.sink !== null &&
      !this.blocked &&
      this.readyHead === this.ready.length &&
      this.waitingHead === this.waiting.length &&
      (this.chunkJobs.length === 0 || order === undefined || !this.lastJobByOrder.has(order))
    ) {
      // The fast path: nothing ahead of this frame, so it goes straight to the transport.
      const sink = this.sink;
      if (!sink.write(frame, requestId)) this.blocked = true;
      if (requestId < 0) sink.wroteUnanswered?.(frame, null);
      return undefined;
    }
    return this.enqueue(new Item(frame, null, order, frame.byteLength, requestId), notify);
  }

  /** Sends a chunked publish, one chunk per turn; same contract as send(). */
  sendChunked(
    chunks: readonly Buffer[],
    order?: object,
    notify = true,
    requestId = -1,
  ): Promise<void> | undefined {
    let bytes = 0;
    for (let i = 0; i < chunks.length; i++) bytes += chunks[i]!.byteLength;
    return this.enqueue(new Item(null, chunks, order, bytes, requestId), notify);
  }

  /** Drops everything: waiting senders get `error`. The owner fails the requests it registered. */
  fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.sink = null;
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.waiting[i]!.admission?.reject(error);
    this.waiting = [];
    this.waitingHead = 0;
    this.ready = [];
    this.readyHead = 0;
    this.chunkJobs.length = 0;
    this.lastJobByOrder.clear();
    this.queued = 0;
  }

  private enqueue(item: Item, notify: boolean): Promise<void> | undefined {
    if (this.failure !== null) return notify ? Promise.reject(this.failure) : undefined;
    if (this.waitingHead === this.waiting.length && this.queued < this.maxQueuedBytes) {
      this.admit(item);
      this.pump();
      return undefined;
    }
    this.waiting.push(item);
    if (!notify) return undefined;
    return new Promise<void>((resolve, reject) => {
      item.admission = { resolve, reject };
    });
  }

  private admit(item: Item): void {
    this.queued += item.bytes;
    if (item.chunks !== null) {
      this.chunkJobs.push(item);
      if (item.order !== undefined) this.lastJobByOrder.set(item.order, item);
      return;
    }
    const job = item.order === undefined ? undefined : this.lastJobByOrder.get(item.order);
    if (job !== undefined) (job.behind ??= []).push(item);
    else this.ready.push(item);
  }

  /** Writes ready frames until the transport pushes back, admits waiting frames as room frees up. */
  private pump(): void {
    for (;;) {
      const sink = this.sink;
      if (sink === null) return;
      while (!this.blocked && this.readyHead < this.ready.length) {
        const item = this.ready[this.readyHead++]!;
        this.queued -= item.bytes;
        if (!sink.write(item.frame!, item.requestId)) this.blocked = true;
        if (item.requestId < 0) sink.wroteUnanswered?.(item.frame, null);
      }
      if (this.readyHead === this.ready.length && this.readyHead > 0) {
        this.ready.length = 0;
        this.readyHead = 0;
      }
      if (!this.admitWaiting()) break;
    }
    this.scheduleChunkTurn();
    if (this.idle) this.onIdle?.();
  }

  private scheduleChunkTurn(): void {
    if (this.chunkJobs.length > 0 && !this.blocked && !this.turnScheduled && this.sink !== null) {
      this.turnScheduled = true;
      this.scheduleTurn(this.turnBound);
    }
  }

  /** Admits waiting frames while there is room; true if any became ready to write. */
  private admitWaiting(): boolean {
    let admitted = false;
    while (this.waitingHead < this.waiting.length && this.queued < this.maxQueuedBytes) {
      const item = this.waiting[this.waitingHead++]!;
      this.admit(item);
      item.admission?.resolve();
      item.admission = null;
      admitted = true;
    }
    if (this.waitingHead === this.waiting.length && this.waitingHead > 0) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    }
    return admitted && !this.blocked && this.readyHead < this.ready.length;
  }

  /**
   * chunkBytesPerTurn of chunks (at least one) of the oldest chunked publishes, after everything that
   * became ready since the last turn.
   */
  private turn(): void {
    // turnScheduled stays set until the end, so the pumps below do not schedule a second turn.
    this.pump();
    const sink = this.sink;
    // At least one chunk: a budget of 0 (or below one chunk) still sends one.
    let budget = Math.max(this.chunkBytesPerTurn, 1);
    while (budget > 0 && sink !== null && !this.blocked && this.chunkJobs.length > 0) {
      const job = this.chunkJobs[0]!;
      const chunk = job.chunks![job.next++]!;
      this.queued -= chunk.byteLength;
      budget -= chunk.byteLength;
      if (!sink.write(chunk)) this.blocked = true;
      if (job.next === job.chunks!.length) {
        this.chunkJobs.shift();
        if (job.requestId < 0) sink.wroteUnanswered?.(null, job.chunks);
        if (job.order !== undefined && this.lastJobByOrder.get(job.order) === job) {
          this.lastJobByOrder.delete(job.order);
        }
        if (job.behind !== null) for (const item of job.behind) this.ready.push(item);
      }
      this.pump();
    }
    this.turnScheduled = false;
    this.scheduleChunkTurn();
  }
}
