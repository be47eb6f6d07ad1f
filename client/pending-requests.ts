/**
 * Requests awaiting their answer on one stream, matched by request_id in any order: one Map lookup per
 * answer, no closure per request. Timeouts are swept by a single timer per stream instead of a timer per
 * request: every request gets the same timeout, so deadlines grow in insertion order and a sweep stops at
 * the first request still in time.
 *
 * Each request keeps the frame(s) it was sent in until it is answered, so that after a reconnect what was
 * in flight can be sent again as it was (same request id, producer id and sequence): `retries` says how
 * many times it may be (0 for what must not be sent twice, Infinity for idempotent requests).
 */
import { FelixError, unsentError, withRetry } from './errors.js';

/** What a stream settles when an answer comes; PendingReply is the one implementation. */
export interface Settleable {
  /** Names the request in errors ("publish to t1/default/orders"). */
  readonly what: string;
  partDone(value: unknown): void;
  fail(error: Error): void;
}

/**
 * One caller's promise. A request split over several frames (a large batch) registers one request id
 * per frame against the same PendingReply, which settles when all of them are answered or any fails.
 */
export class PendingReply<T = void> implements Settleable {
  readonly promise: Promise<T>;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (error: Error) => void;
  /** Answers still expected. */
  remaining: number;
  settled = false;

  constructor(
    parts = 1,
    readonly what = 'request',
  ) {
    this.remaining = parts;
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
  }

  /** One part answered; resolves once every part has been. */
  partDone(value: T): void {
    if (this.settled || --this.remaining > 0) return;
    this.settled = true;
    this.resolveFn(value);
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(error);
  }
}

interface Entry {
  readonly reply: Settleable;
  readonly deadline: number;
  /** What was sent: one frame, or the chunks of a chunked publish. */
  readonly frame: Buffer | null;
  readonly chunks: readonly Buffer[] | null;
  /** Resends still allowed after a lost connection. */
  retries: number;
  /**
   * To be sent again on the next stream: `lost`, it was in flight when the last one was lost (it may have
   * been applied); `refused`, the broker refused it as draining (nothing was applied).
   */
  resend: false | 'lost' | 'refused';
}

/** A request to send again, as it was first sent. */
export interface Resend {
  readonly requestId: number;
  readonly frame: Buffer | null;
  readonly chunks: readonly Buffer[] | null;
}

export class PendingRequests {
  private readonly entries = new Map<number, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private readonly sweepBound = (): void => this.onTimer();
  /**
   * The requests whose frames are not written yet (asked only when some request failed): they fail as never
   * sent, with class `retry`, where one that was sent may have been applied (`outcome_unknown`).
   */
  unwritten: (() => ReadonlySet<number>) | null = null;
  /**
   * Takes a request's unwritten frame back from the send queue (OutboundQueue.withdraw): one that times out
   * unsent is withdrawn, so that what its caller is told — not sent, safe to send again — stays true.
   */
  withdraw: ((requestId: number) => boolean) | null = null;

  constructor(
    private readonly timeoutMs: number,
    /** Names the stream in timeout messages. */
    private readonly label: string,
    private readonly now: () => number = Date.now,
    /** Takes back the frame of a request that succeeded (FrameRecycler.recycle). */
    private readonly recycle: ((frame: Buffer) => void) | null = null,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  add(
    requestId: number,
    reply: Settleable,
    frame: Buffer | null = null,
    chunks: readonly Buffer[] | null = null,
    retries = 0,
  ): void {
    this.entries.set(requestId, {
      reply,
      deadline: this.now() + this.timeoutMs,
      frame,
      chunks,
      retries,
      resend: false,
    });
    // Armed lazily and re-armed only while requests remain: a ping-pong publisher does not create and
    // clear a timer per message.
    if (this.timer === null) this.arm();
  }

  /**
   * Removes and returns the request answered by `requestId`, or undefined for an unknown (late) id. With
   * `succeeded`, its frame goes back to be reused: the broker read all of it, so nothing refers to it now.
   */
  take(requestId: number, succeeded = false): Settleable | undefined {
    const entry = this.entries.get(requestId);
    if (entry === undefined) return undefined;
    this.entries.delete(requestId);
    if (succeeded && entry.frame !== null) this.recycle?.(entry.frame);
    return entry.reply;
  }

  /**
   * The stream was lost with these requests outstanding. Those whose frames are still unwritten
   * (`unwritten`) go out from the send queue as usual; of the others, each that may be retried is marked to
   * be sent again (spending one retry), and each that may not fails with `error`: it may or may not have
   * reached the broker.
   */
  lost(unwritten: ReadonlySet<number>, error: Error): void {
    for (const [requestId, entry] of this.entries) {
      if (entry.resend || unwritten.has(requestId)) continue;
      if (entry.retries > 0 && (entry.frame !== null || entry.chunks !== null)) {
        entry.retries--;
        entry.resend = 'lost';
      } else {
        this.entries.delete(requestId);
        entry.reply.fail(error);
      }
    }
    if (this.entries.size === 0) this.disarm();
  }

  /** The broker refused `requestId` for now (it drains): send it again on the next stream. */
  resendLater(requestId: number): boolean {
    const entry = this.entries.get(requestId);
    if (entry === undefined || (entry.frame === null && entry.chunks === null)) return false;
    entry.resend = 'refused';
    return true;
  }

  /** The requests to send again on a new stream, in the order they were first sent; clears their marks. */
  takeResends(): Resend[] {
    const out: Resend[] = [];
    for (const [requestId, entry] of this.entries) {
      if (entry.resend === false) continue;
      entry.resend = false;
      out.push({ requestId, frame: entry.frame, chunks: entry.chunks });
    }
    return out;
  }

  /**
   * Fails every request (the stream or connection ended) with `error`; one never sent — still unwritten, or
   * refused by a draining broker and waiting to go again — with `error` classed `retry`; one sent and not
   * answered with `error` classed `outcome_unknown`, whatever ended the stream (an auth refusal on the
   * next connection says nothing of what the broker did with it).
   */
  failAll(error: FelixError): void {
    const unwritten = this.entries.size === 0 ? null : this.unwrittenNow();
    const sent = withRetry(error, 'outcome_unknown');
    for (const [requestId, entry] of this.entries) {
      entry.reply.fail(this.neverSent(requestId, entry, unwritten) ? unsentError(error) : sent);
    }
    this.entries.clear();
    this.disarm();
  }

  /** Fails the requests whose deadline has passed; returns how many. */
  sweep(): number {
    const now = this.now();
    let expired = 0;
    let unwritten: ReadonlySet<number> | null | undefined;
    for (const [requestId, entry] of this.entries) {
      if (entry.deadline > now) break;
      unwritten ??= this.unwrittenNow();
      this.entries.delete(requestId);
      // Unsent only if it is withdrawn now: a queued frame left behind would go out after this failure.
      const sent =
        !this.neverSent(requestId, entry, unwritten) ||
        (entry.resend === false && this.withdraw !== null && !this.withdraw(requestId));
      entry.reply.fail(
        new FelixError(
          'timeout',
          sent
            ? `${this.label}: no answer to ${entry.reply.what} (request ${requestId}) within ${this.timeoutMs} ms; it may still be processed`
            : `${this.label}: ${entry.reply.what} (request ${requestId}) not sent within ${this.timeoutMs} ms`,
          { retry: sent ? 'outcome_unknown' : 'retry' },
        ),
      );
      expired++;
    }
    return expired;
  }

  private unwrittenNow(): ReadonlySet<number> | null {
    return this.unwritten?.() ?? null;
  }

  /** Whether the request never reached the broker in a form it could apply. */
  private neverSent(requestId: number, entry: Entry, unwritten: ReadonlySet<number> | null): boolean {
    return entry.resend === 'refused' || (entry.resend === false && unwritten?.has(requestId) === true);
  }

  dispose(): void {
    this.disarm();
  }

  private onTimer(): void {
    this.timer = null;
    this.sweep();
    if (this.entries.size > 0) this.arm();
  }

  private arm(): void {
    // At the oldest request's deadline (deadlines grow in insertion order): each request fails at its
    // timeout, not up to a sweep interval later; while answers keep coming the timer fires about once per
    // timeout, finds nothing due and moves to the oldest request then.
    const oldest = this.entries.values().next().value;
    if (oldest === undefined) return;
    this.timer = setTimeout(this.sweepBound, Math.max(1, Math.ceil(oldest.deadline - this.now())));
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
