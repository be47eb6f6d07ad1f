import type { EventFrame } from './event-frame.js';

/**
 * The highest a stream's next offset may be: 2^53 − 1, the largest integer a JS number (and a JSON peer
 * reading u64 as a double) holds exactly. The next offset is named on the wire too (`in_future`'s
 * `available`) and in a durable stream's reservation.json, so the last offset a stream gives out is
 * 2^53 − 2; a publish that would pass it is refused (PublishHandler), never numbered by a rounded double.
 */
export const MAX_STREAM_END = Number.MAX_SAFE_INTEGER;

export type ReplayResult =
  | { readonly ok: true; readonly frames: readonly EventFrame[] }
  | {
      readonly ok: false;
      readonly error: 'too_old' | 'in_future';
      readonly oldest: number;
      readonly next: number;
    };

/**
 * The recent history of one stream, kept as the very frames sent to subscribers (so replay costs no
 * re-encoding and no second copy of the payloads). It holds the last `capacityEvents` events (what
 * docs/protocol.md promises `earliest` starts from) unless their frames pass `capacityBytes`: then the
 * oldest frames go until they fit, the newest frame always kept (large events must not let one stream hold
 * 1,024 × 16 MiB). Whole frames are evicted, so an oldest frame that still holds one of the events kept is
 * kept whole — at most one frame's events beyond the capacity.
 *
 * An evicted frame must become unreachable at once: frames are views into the batch builder's shared slabs
 * (up to 4 × a frame's size, 256 KiB by default), so each one left behind keeps its whole slab alive. Slots
 * below `head` are cleared on eviction; before they were kept until the next compaction, up to 1,024 dead
 * frames beside the live ones (2 GiB of 64 KiB events held 170 MiB of slabs for a 64 MiB ring).
 */
export class StreamLog {
  /** Retained frames from `head` on; the slots below `head` are cleared (undefined) until compaction. */
  private frames: (EventFrame | undefined)[] = [];
  private head = 0;
  private retained = 0;
  /** Bytes of the retained frames. */
  private retainedBytes = 0;
  /** Offset the next published event receives. */
  next = 0;

  constructor(
    readonly capacityEvents: number,
    readonly capacityBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Oldest offset still retained (equals `next` when nothing is). */
  get oldest(): number {
    return this.head < this.frames.length ? this.frames[this.head]!.firstOffset : this.next;
  }

  /** Reserves offsets for `count` events about to be framed. */
  reserve(count: number): number {
    const first = this.next;
    this.next += count;
    return first;
  }

  append(frame: EventFrame): void {
    if (this.capacityEvents === 0) return;
    this.frames.push(frame);
    this.retained += frame.count;
    this.retainedBytes += frame.bytes.length;
    // The oldest frame goes when the frames after it still hold capacityEvents events, or while the frames
    // pass capacityBytes (the newest one stays, whatever its size).
    for (;;) {
      const oldest = this.frames[this.head]!;
      const enoughAfter = this.retained - oldest.count >= this.capacityEvents;
      const tooLarge = this.retainedBytes > this.capacityBytes && this.head < this.frames.length - 1;
      if (!enoughAfter && !tooLarge) break;
      this.retained -= oldest.count;
      this.retainedBytes -= oldest.bytes.length;
      this.frames[this.head] = undefined;
      this.head++;
    }
    // Compact occasionally so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Frames holding `from` and everything after it. The first frame may start before `from`: the
   * subscriber skips events below its cursor, which keeps frames shared and unmodified.
   */
  replayFrom(from: number): ReplayResult {
    if (from > this.next) return { ok: false, error: 'in_future', oldest: this.oldest, next: this.next };
    if (from < this.oldest) return { ok: false, error: 'too_old', oldest: this.oldest, next: this.next };
    const frames: EventFrame[] = [];
    for (let i = this.head; i < this.frames.length; i++) {
      const f = this.frames[i]!;
      if (f.firstOffset + f.count > from) frames.push(f);
    }
    return { ok: true, frames };
  }
}
