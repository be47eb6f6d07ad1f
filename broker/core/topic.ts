import { performance } from 'node:perf_hooks';
import { EVENT_STAMP_BYTES, monotonicNs } from '../../wire/index.js';
import { EventBatchBuilder } from './event-batch-builder.js';
import type { EventFrame } from './event-frame.js';
import { HOP, type HopTimings } from './hop-timings.js';
import type { BudgetAccount, PublishBudget } from './publish-budget.js';
import type { BrokerStats } from './stats.js';
import { newStreamEpoch } from './stream-epoch.js';
import { MAX_STREAM_END, StreamLog, type ReplayResult } from './stream-log.js';
import type { StreamStorage } from './stream-storage.js';
import type { Subscription } from './subscription.js';

export interface BatchingOptions {
  /** Events per frame at most (FELIX_EVENT_BATCH_MAX_EVENTS, capped by FELIX_FANOUT_BATCH). */
  readonly maxEvents: number;
  /** Payload bytes per frame at most (FELIX_EVENT_BATCH_MAX_BYTES). */
  readonly maxBytes: number;
  /**
   * Longest wait of a batch's first event (FELIX_EVENT_BATCH_MAX_DELAY_US), in ms; 0: a batch never outlives
   * the I/O turn its events arrived in. See Topic.endOfTurn for when a batch waits at all.
   */
  readonly maxDelayMs: number;
}

/** Something that holds back publishers while a `block` subscriber is full. */
export interface Pausable {
  pause(): void;
  resume(): void;
}

/**
 * One stream (tenant/namespace/name): its offsets, replay log, subscribers and the frame being batched.
 * Every frame is encoded once and the same bytes go to the log and every subscriber queue.
 */
export class Topic {
  readonly log: StreamLog;
  /**
   * This incarnation of the stream: its offsets mean something only together with it (`subscribed.epoch`).
   * A durable stream keeps its epoch across restarts (it is stored with its log).
   */
  readonly epoch: number;
  readonly subscribers: Subscription[] = [];
  private readonly builder: EventBatchBuilder;
  /** When the first event of the batch being built arrived (performance.now() ms; read only with a delay). */
  private batchOpenedAt = 0;
  /** A frame was cut since the last end of turn (a full batch): what follows it is the tail of a burst. */
  private cutInTurn = false;
  /** @internal queued with the broker for a flush at the end of this I/O turn */
  scheduled = false;
  /** @internal the batch is held past its turn (every subscriber backlogged); the broker's deadline timer knows it */
  held = false;
  /** Frames went to the subscribers since they were last pushed (pushSubscribers). */
  private deliveredInTurn = false;
  /** Events accepted on this stream. A plain counter: the dashboard reads it once a second. */
  publishedEvents = 0;
  /** Events handed to subscribers (one per subscriber per event), before their queue policies apply. */
  fannedOutEvents = 0;
  /** A publish was refused for want of offsets (offsetsLeftFor): logged the first time only. */
  offsetsUsedUp = false;
  /** Subscribers under `block` whose queue is full. */
  private blockedBy = 0;
  private readonly paused = new Set<Pausable>();
  // In-flight charges of the events in the batch being built, released when it is cut. Consecutive
  // events from one connection share an entry, so a batch costs one entry per publisher.
  private readonly chargedAccounts: BudgetAccount[] = [];
  private readonly chargedBytes: number[] = [];
  // Stamps of the first event of the batch being built (timings on only).
  private batchSendNs = 0;
  private batchDecodeNs = 0;
  private lastSampleAt = 0;

  constructor(
    readonly tenant: string,
    readonly namespace: string,
    readonly name: string,
    /** History kept in memory: events (FELIX_STREAM_REPLAY_CAPACITY), and bytes (FELIX_STREAM_REPLAY_MAX_BYTES). */
    replay: number | { readonly events: number; readonly bytes: number },
    private readonly batching: BatchingOptions,
    private readonly stats: BrokerStats,
    private readonly schedule: (topic: Topic) => void,
    private readonly budget: PublishBudget,
    /** The broker's hop histograms, or null when FELIX_DISABLE_TIMINGS is on (then no stamp work at all). */
    private readonly timings: HopTimings | null,
    /** The stream's durable log (broker/storage/), null for an in-memory stream. */
    readonly storage: StreamStorage | null = null,
  ) {
    this.log =
      typeof replay === 'number' ? new StreamLog(replay) : new StreamLog(replay.events, replay.bytes);
    this.epoch = storage?.epoch ?? newStreamEpoch();
    if (storage !== null) {
      // Offsets continue where the log on disk ends.
      this.log.next = storage.nextOffset;
      storage.bind({ visible: (frame) => this.deliver(frame), drained: () => this.resumeHeld() });
    }
    // While timings are on, every frame has room in front for a subscriber's stamp block (Subscription.send).
    this.builder = new EventBatchBuilder(undefined, timings === null ? 0 : EVENT_STAMP_BYTES);
    this.builder.expectFrames(batching.maxEvents, batching.maxBytes);
  }

  get pendingEvents(): number {
    return this.builder.count;
  }

  get pendingBytes(): number {
    return this.builder.payloadBytes;
  }

  /**
   * Whether `count` more events can still be numbered (MAX_STREAM_END): the offsets are assigned when the
   * batch is cut, so the check is made when a publish is accepted — once per publish, not per event.
   */
  offsetsLeftFor(count: number): boolean {
    return this.log.next + this.builder.count + count <= MAX_STREAM_END;
  }

  /** Whether publishers should hold back (a `block` subscriber is full). */
  get blocked(): boolean {
    return this.blockedBy > 0 || (this.storage?.backlogged ?? false);
  }

  /**
   * The oldest offset a subscriber can start from: in the replay ring, or for a durable stream the oldest
   * on disk — what retention removed is gone even while the ring still holds its frames (the ring holds
   * only what the disk also has or is about to have, so nothing older is anywhere else).
   */
  get oldestOffset(): number {
    return this.storage === null ? this.log.oldest : this.storage.oldestOffset;
  }

  /** The ring's frames from `from` on, refused as too old below a durable stream's oldest kept offset. */
  replayFrom(from: number): ReplayResult {
    const storage = this.storage;
    if (storage !== null && from < storage.oldestOffset) {
      return { ok: false, error: 'too_old', oldest: storage.oldestOffset, next: this.log.next };
    }
    return this.log.replayFrom(from);
  }

  /** Whether the batch being built has its stamps (those of its first event) already. */
  get hasBatchStamp(): boolean {
    return this.batchDecodeNs !== 0;
  }

  /** Notes the stamps of a publish about to be added (timings on): the batch keeps its first event's. */
  stamp(sendNs: number, decodeNs: number): void {
    if (this.batchDecodeNs !== 0) return;
    this.batchSendNs = sendNs;
    this.batchDecodeNs = decodeNs;
  }

  /**
   * Accepts one event: copies its payload into the frame being built (the only copy it ever gets) and
   * charges its bytes to `account` until the frame is cut.
   */
  publish(payload: Uint8Array, account: BudgetAccount): void {
    const b = this.builder;
    if (b.count === 0 && this.batching.maxDelayMs > 0) this.batchOpenedAt = performance.now();
    b.add(payload);
    const n = this.chargedAccounts.length;
    if (n !== 0 && this.chargedAccounts[n - 1] === account) this.chargedBytes[n - 1]! += payload.length;
    else {
      this.chargedAccounts.push(account);
      this.chargedBytes.push(payload.length);
    }
    this.budget.charge(account, payload.length);
    this.stats.publishedMessages++;
    this.stats.publishedBytes += payload.length;
    this.publishedEvents++;
    if (b.count >= this.batching.maxEvents || b.payloadBytes >= this.batching.maxBytes) {
      this.cut();
      // Without a delay (FELIX_FANOUT_BATCH 1: a frame per event) nothing is ever held and the frames are
      // left to the transport's flush: pushing them at the end of the turn measured no better there (f1 b1
      // p50 equal, p99 ~10% worse over 9 trials). With a delay, the end of the turn clears cutInTurn (and
      // cuts the tail of the burst, if one follows) and pushes the frames cut in it.
      if (this.batching.maxDelayMs === 0) return;
      this.cutInTurn = true;
    }
    this.schedule(this);
  }

  /**
   * The broker's end of an I/O turn (after everything read in it was handled), or its deadline timer: cuts
   * the batch being built, unless waiting can only help. Returns the deadline (performance.now() ms) of a
   * batch it holds, or -1 when nothing is held.
   *
   * As NATS's flusher, the batch is what arrived in one turn: a lone event at an idle subscriber goes out
   * in the turn it arrived in. A batch is held past its turn only while there is a backlog — every
   * subscriber still has bytes its transport has not taken, so a frame cut now would only queue behind them
   * — and never past its first event's arrival + FELIX_EVENT_BATCH_MAX_DELAY_US, whatever keeps arriving:
   * the deadline counts from the first event and no later event moves it. The tail of a burst that already
   * cut a full frame in this turn is not held (the transport has not taken that frame yet, which is not a
   * backlog).
   */
  endOfTurn(now: number, force: boolean): number {
    const cutInTurn = this.cutInTurn;
    this.cutInTurn = false;
    this.held = false;
    if (this.builder.count === 0) return -1;
    const deadline = this.batchOpenedAt + this.batching.maxDelayMs;
    if (
      force ||
      this.batching.maxDelayMs === 0 ||
      cutInTurn ||
      now >= deadline ||
      !this.everySubscriberBacklogged()
    ) {
      this.cut();
      return -1;
    }
    this.held = true;
    return deadline;
  }

  /**
   * Puts the frames delivered since the last call on the wire now (the broker calls it once every stream's
   * turn has ended, so a subscriber connection carrying several streams sends them together). Otherwise they
   * would leave at the transport's next flush, a loop turn later, behind whatever that turn reads first
   * (at fanout 10, the subscribers' ACKs) — and a frame still in the transport's gather buffer then also
   * looks like a backlog to endOfTurn, which held the next event behind it.
   */
  pushSubscribers(): void {
    if (!this.deliveredInTurn) return;
    this.deliveredInTurn = false;
    const subs = this.subscribers;
    let failures: Failure[] | null = null;
    for (let i = subs.length - 1; i >= 0; i--) {
      const sub = subs[i]!;
      try {
        sub.push();
      } catch (err) {
        (failures ??= []).push([sub, err]);
      }
    }
    if (failures !== null) failAll(failures);
  }

  /** Whether no subscriber could put a frame on the wire now (and there is at least one). */
  private everySubscriberBacklogged(): boolean {
    const subs = this.subscribers;
    if (subs.length === 0) return false;
    for (let i = 0; i < subs.length; i++) if (subs[i]!.idle) return false;
    return true;
  }

  get hasSubscribers(): boolean {
    return this.subscribers.length !== 0;
  }

  addSubscriber(sub: Subscription): void {
    this.subscribers.push(sub);
  }

  removeSubscriber(sub: Subscription): void {
    const i = this.subscribers.indexOf(sub);
    if (i < 0) return;
    this.subscribers[i] = this.subscribers[this.subscribers.length - 1]!;
    this.subscribers.pop();
    if (sub.blocking) this.unblock(sub);
  }

  /** Holds `publisher` back until the blocked subscribers catch up. */
  holdBack(publisher: Pausable): void {
    if (this.paused.has(publisher)) return;
    this.paused.add(publisher);
    publisher.pause();
  }

  /** @internal a `block` subscriber became full */
  block(sub: Subscription): void {
    if (sub.blocking) return;
    sub.blocking = true;
    this.blockedBy++;
  }

  /** @internal a `block` subscriber has room again (or left) */
  unblock(sub: Subscription): void {
    if (!sub.blocking) return;
    sub.blocking = false;
    if (--this.blockedBy > 0) return;
    this.resumeHeld();
  }

  /** Lets held publishers go on, unless a full `block` subscriber or the storage backlog still holds them. */
  private resumeHeld(): void {
    if (this.blocked) return;
    const held = [...this.paused];
    this.paused.clear();
    for (const p of held) p.resume();
  }

  private timeFrame(bytes: Buffer, firstOffset: number, count: number): EventFrame['timing'] {
    const timings = this.timings!;
    const enqueueNs = monotonicNs();
    const decodeNs = this.batchDecodeNs === 0 ? enqueueNs : this.batchDecodeNs;
    const sendNs = this.batchSendNs;
    this.batchDecodeNs = 0;
    this.batchSendNs = 0;
    timings.record(HOP.decode_to_enqueue, enqueueNs - decodeNs);
    // The dashboard's recent list: at most one batch per stream every 10 ms keeps this off the hot path.
    if (enqueueNs - this.lastSampleAt > 10_000_000) {
      this.lastSampleAt = enqueueNs;
      timings.sample({
        at: Date.now(),
        stream: `${this.tenant}/${this.namespace}/${this.name}`,
        offset: firstOffset,
        events: count,
        hops:
          sendNs === 0
            ? { decode_to_enqueue: Math.round((enqueueNs - decodeNs) / 1000) }
            : {
                publish_to_broker: Math.round((decodeNs - sendNs) / 1000),
                decode_to_enqueue: Math.round((enqueueNs - decodeNs) / 1000),
              },
      });
    }
    const room = EVENT_STAMP_BYTES;
    const stamped = new Uint8Array(bytes.buffer, bytes.byteOffset - room, bytes.length + room);
    return { sendNs, decodeNs, enqueueNs, stamped };
  }

  private cut(): void {
    const b = this.builder;
    const count = b.count;
    const firstOffset = this.log.reserve(count);
    const bytes = b.finish(firstOffset);
    const frame: EventFrame = {
      firstOffset,
      count,
      bytes,
      timing: this.timings === null ? null : this.timeFrame(bytes, firstOffset, count),
      messages: null,
    };
    const accounts = this.chargedAccounts;
    for (let i = 0; i < accounts.length; i++) this.budget.release(accounts[i]!, this.chargedBytes[i]!);
    accounts.length = 0;
    this.chargedBytes.length = 0;
    const storage = this.storage;
    if (storage !== null) {
      storage.append(frame);
      // With ack-on-commit, subscribers see the frame once it is committed (storage calls deliver then):
      // never an event a crash could take back and whose offset a later event would then reuse.
      if (storage.acksOnCommit) return;
    }
    this.deliver(frame);
  }

  /** Puts a frame in the replay ring and hands it to every subscriber. */
  private deliver(frame: EventFrame): void {
    this.log.append(frame);
    const subs = this.subscribers;
    this.fannedOutEvents += frame.count * subs.length;
    this.deliveredInTurn = true;
    const now = performance.now();
    // Backwards: an offer may evict that subscriber, which swaps the last one into its slot — one this
    // loop has already served.
    // One guard per subscriber: this runs in a publisher's turn, a timer or a disk callback, and a defect in
    // serving one subscriber must cost its connection alone (Subscription.failed) — after the loop, since
    // closing a connection removes all of its subscriptions at once.
    let failures: Failure[] | null = null;
    for (let i = subs.length - 1; i >= 0; i--) {
      const sub = subs[i]!;
      try {
        sub.offer(frame, now);
      } catch (err) {
        (failures ??= []).push([sub, err]);
      }
    }
    if (failures !== null) failAll(failures);
  }

  /** Serving this stream threw outside any connection's handlers: every subscriber's connection pays. */
  failSubscribers(err: unknown): void {
    for (const sub of [...this.subscribers]) sub.failed(err);
  }
}

/** A subscriber whose serving threw during a fan-out, and what it threw. */
type Failure = [Subscription, unknown];

function failAll(failures: readonly Failure[]): void {
  for (const [sub, err] of failures) sub.failed(err);
}
