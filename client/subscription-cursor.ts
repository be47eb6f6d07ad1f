/**
 * Where a subscription stands in its stream, across reconnects: the offsets received (the OffsetTracker
 * it extends), the one after the last event handed to the application, where the broker said it started,
 * the stream epoch those offsets belong to, and history the broker lost that the next event must report.
 * From these it answers where a resume asks to start, and what a broker's answer to that ask changes;
 * the gaps it finds go to the application's onGap.
 */
import type { MessageOf, StartPosition } from '../wire/index.js';
import { OffsetTracker } from './offset-tracker.js';
import type { GapInfo } from './subscription-event.js';

/** What the next event learns about history the broker lost (set by a resume). */
export interface HistoryGap {
  readonly expected: number;
  readonly epochChanged: boolean;
}

/** Where to ask a subscription to start (again), in which epoch. */
export interface SubscribeStart {
  readonly start: StartPosition;
  readonly epoch: number | undefined;
}

// Extends rather than wraps the tracker: the per-event accept() stays one call.
export class SubscriptionCursor extends OffsetTracker {
  /** The stream's epoch as of the last `subscribed`; undefined from a broker that sends none. */
  epoch: number | undefined = undefined;
  historyGap: HistoryGap | null = null;
  /** The offset after the last event handed to the application (nextOffset). */
  private resumeAt: number;
  /** Where the broker said the subscription started (`subscribed.start_offset`); -1 unknown. */
  private startOffset = -1;

  constructor(
    /** The caller's start, asked for when nothing better is known. */
    private readonly start: StartPosition,
    private readonly onGap: ((gap: GapInfo) => void) | undefined,
    /** Warns about this subscription (an onGap that threw). */
    private readonly warn: (message: string) => void,
  ) {
    super(start);
    this.resumeAt = typeof start === 'object' ? start.offset : -1;
  }

  /**
   * The offset after the last event the application was given; before the first event, where the
   * subscription started; -1 only when the broker did not say.
   */
  get nextToHandOver(): number {
    // Before its first event: where the broker said it started (a `latest` subscription's tail then).
    return this.resumeAt >= 0 ? this.resumeAt : this.startOffset;
  }

  /** The application was given the event at `offset` (-1: the broker sends no offsets). */
  handedOver(offset: number): void {
    if (offset >= 0) this.resumeAt = offset + 1;
  }

  /** Where a resume on a new connection starts: where the events received left off. */
  resumeStart(): StartPosition {
    const next = this.nextOffset;
    // No event yet: from where the broker said the subscription started (a `latest` that resumed at the
    // new tail would miss what was published while the connection was down), else the caller's start.
    const from = next >= 0 ? next : this.startOffset;
    return from >= 0 ? { offset: from } : this.start;
  }

  /** The broker confirmed the subscription (first or again) at `startOffset`, in `epoch`. */
  subscribed(startOffset: number | undefined, epoch: number | undefined): void {
    // Where it starts in this epoch (a resume asked with an offset starts there too); forgotten with
    // the epoch when it changed below.
    this.startOffset = startOffset ?? -1;
    if (epoch !== undefined) {
      if (this.epoch !== undefined && epoch !== this.epoch && this.historyGap === null) {
        // Confirmed in another epoch than the one asked about (a broker that ignores `epoch`): the
        // offsets cannot be trusted to continue the old ones.
        this.historyGap = { expected: this.nextOffset, epochChanged: true };
        this.forgetCursor();
      }
      this.epoch = epoch;
    }
  }

  /** A cursor error answering a resume: where to ask again to continue where the broker can, with the gap reported. */
  afterResumeCursorError(message: MessageOf<'subscribe_cursor_error'>): SubscribeStart {
    if (message.reason === 'too_old') {
      // The events from nextOffset on are gone; the next event's offset shows how many. From the oldest
      // the broker still holds — asked for as `earliest`, not as `available`: on a busy stream the next
      // publish evicts that very offset, and a resume asking for it lost the race again and again.
      return { start: 'earliest', epoch: message.epoch ?? this.epoch };
    }
    if (
      message.reason === 'in_future' &&
      message.epoch !== undefined &&
      message.epoch === this.epoch &&
      message.available !== undefined
    ) {
      // The same history, but its tail is below what this subscription was given: the broker lost its
      // newest events and kept no offset reservation to continue above them (a broker older than those, or
      // one whose reservation.json was removed; docs/durability.md). Below the
      // tail is what it was given already: it resumes at the tail — nothing delivered twice — and reports
      // the rewind as a gap whose offset is below `expected`; the events from there reuse those offsets.
      this.historyGap = { expected: this.nextOffset, epochChanged: false };
      this.forgetCursor();
      return { start: { offset: message.available }, epoch: message.epoch };
    }
    // epoch_changed: the broker restarted and the stream's history is another one. in_future (from a
    // broker that sends no epoch): the offsets are beyond its tail, so the same has happened. Either way
    // the old offsets mean nothing here: start from the oldest event there is, gap of unknown size.
    this.historyGap = {
      expected: this.nextOffset,
      epochChanged: message.reason === 'epoch_changed',
    };
    this.forgetCursor();
    if (message.epoch !== undefined) this.epoch = message.epoch;
    return { start: 'earliest', epoch: message.epoch };
  }

  /** The first event after history was lost: a gap of unknown size, reported once. */
  reportHistoryGap(offset: number): number {
    const lost = this.historyGap!;
    this.historyGap = null;
    this.gaps++;
    const onGap = this.onGap;
    if (onGap !== undefined) {
      try {
        onGap({
          expected: lost.expected,
          offset,
          missed: undefined,
          epoch: this.epoch,
          epochChanged: lost.epochChanged,
        });
      } catch (error) {
        this.warn(`onGap threw: ${(error as Error).message}`);
      }
    }
    return Number.POSITIVE_INFINITY;
  }

  /**
   * The broker dropped events up to `through` that no later event showed (events_dropped, after every
   * event before them): the gap is reported now, and the next event, above it, carries none.
   */
  droppedThrough(through: number, events: number): void {
    let missed = this.skipThrough(through);
    if (missed === 0) return;
    if (missed < 0) {
      // No event came yet: from where the subscription started, when the broker said, else its count.
      missed = this.startOffset >= 0 && this.startOffset <= through ? through + 1 - this.startOffset : events;
      this.countGap(missed);
    }
    this.reportGap(through + 1, missed, true);
  }

  reportGap(offset: number, missed: number, notice = false): void {
    const onGap = this.onGap;
    if (onGap === undefined) return;
    const epoch = this.epoch;
    try {
      onGap(
        notice
          ? { expected: offset - missed, offset, missed, epoch, epochChanged: false, notice }
          : { expected: offset - missed, offset, missed, epoch, epochChanged: false },
      );
    } catch (error) {
      this.warn(`onGap threw: ${(error as Error).message}`);
    }
  }

  /** The offsets this subscription held count other events now: the next event fixes the cursor. */
  private forgetCursor(): void {
    this.restart();
    this.startOffset = -1;
  }
}
