/**
 * The publishes without ack a publish stream wrote last, kept so that those a draining broker refuses can
 * be sent again on the next connection.
 *
 * Why a tail, and which of it goes again. The broker answers a refused unacknowledged publish with a plain
 * `error` that names no request, but it reads a stream's frames in order and answers each as it reads it,
 * and it writes `draining` on the stream at the moment it starts draining, between two frames it read.
 * Every unacknowledged publish it reads after that moment is refused — with `draining`, or first for
 * another reason (a bad name, a stream refusing writes) — each with exactly one error, written after the
 * notice; every one read before it was handled before the notice was written. So the errors that come
 * after the notice answer, one for one and in order, the last of the unacknowledged publishes written on
 * the stream (the SDK writes nothing after the notice): with K of them, the last K written. Those whose
 * error says `draining` are sent again; the others were refused for good.
 *
 * The bound. Which publishes the broker had read when it started draining shows only once its errors have
 * come, a round trip after the writes at least: the tail keeps the most recent ones, up to `maxBytes`.
 * A refusal that reaches further back than the tail (more than `maxBytes` written after the broker's last
 * read before draining) cannot be sent again; refusals() counts it as lost.
 */

/** One unacknowledged publish as written: a frame, or the chunks of a chunked publish. */
export interface UnansweredPublish {
  readonly frame: Buffer | null;
  readonly chunks: readonly Buffer[] | null;
}

export interface DrainRefusals {
  /** To send again, in the order they were first written. */
  readonly resend: UnansweredPublish[];
  /** Refused as draining but no longer in the tail: lost. */
  readonly lost: number;
}

export class UnansweredTail {
  /**
   * What was written, oldest first from `head`: a frame, or the chunks of a chunked publish — stored as
   * they are, no object per publish (this runs for every publish without ack). Slots below `head` are
   * released (null) until the next compaction.
   */
  private items: (Buffer | readonly Buffer[] | null)[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  /** A publish without ack was written (after every one noted before). */
  note(frame: Buffer | null, chunks: readonly Buffer[] | null): void {
    let size = 0;
    if (frame !== null) size = frame.byteLength;
    else for (let i = 0; i < chunks!.length; i++) size += chunks![i]!.byteLength;
    this.items.push(frame ?? chunks);
    this.sizes.push(size);
    this.bytes += size;
    while (this.bytes > this.maxBytes && this.head < this.items.length) {
      this.bytes -= this.sizes[this.head]!;
      this.items[this.head++] = null;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * `codes`: the codes of the errors naming no request that came after `draining`, in order. Returns the
   * publishes to send again (those refused as `draining`), and forgets the tail (its stream is gone).
   */
  refusals(codes: readonly (string | undefined)[]): DrainRefusals {
    const resend: UnansweredPublish[] = [];
    let lost = 0;
    const first = this.items.length - codes.length;
    for (let i = 0; i < codes.length; i++) {
      if (codes[i] !== 'draining') continue;
      const index = first + i;
      const item = index >= this.head ? this.items[index] : null;
      if (item === null || item === undefined) lost++;
      else if (Buffer.isBuffer(item)) resend.push({ frame: item, chunks: null });
      else resend.push({ frame: null, chunks: item as readonly Buffer[] });
    }
    this.clear();
    return { resend, lost };
  }

  clear(): void {
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}
