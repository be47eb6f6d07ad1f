/**
 * The promise of a publishBatch that travels as several frames (above FELIX_PUBLISH_CHUNK_BYTES, or with a
 * payload that goes alone). The broker appends or refuses each frame on its own, so such a batch can end
 * up partly appended: a refusal that depends on the broker's state when the frame arrives (`overloaded`,
 * `storage_full`, `storage_error`, offsets used up) can hit one frame and not the one before it. Failing at
 * the first refusal would leave the caller unable to tell what was appended (later frames may still be),
 * so the promise settles only once every frame has been answered, and a rejection says which payloads the
 * broker acknowledged (`FelixError.batch`).
 */
import { FelixError, toFelixError } from './errors.js';
import type { Settleable } from './pending-requests.js';

/** One frame of the batch, as its stream's pending request: payloads `start` to `end` (exclusive). */
class BatchPart implements Settleable {
  outcome: 'pending' | 'acked' | FelixError = 'pending';

  constructor(
    private readonly batch: BatchReply,
    readonly start: number,
    readonly end: number,
  ) {}

  get what(): string {
    return this.batch.what;
  }

  partDone(): void {
    this.settle('acked');
  }

  fail(error: Error): void {
    this.settle(toFelixError(error, 'connection_closed', this.batch.what));
  }

  private settle(outcome: 'acked' | FelixError): void {
    if (this.outcome !== 'pending') return;
    this.outcome = outcome;
    this.batch.partSettled();
  }
}

export class BatchReply {
  readonly promise: Promise<void>;
  private readonly parts: BatchPart[] = [];
  private remaining = 0;
  private resolve!: () => void;
  private reject!: (error: FelixError) => void;

  constructor(
    /** How many payloads the batch has. */
    private readonly payloads: number,
    /** Names the batch in errors ("publish to t1/default/orders"). */
    readonly what: string,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** The pending request of the frame carrying payloads `start` to `end` (exclusive); added in order. */
  part(start: number, end: number): Settleable {
    const part = new BatchPart(this, start, end);
    this.parts.push(part);
    this.remaining++;
    return part;
  }

  /** @internal one frame was answered (or failed unanswered). */
  partSettled(): void {
    if (--this.remaining > 0) return;
    const failed = this.parts.filter((p) => p.outcome !== 'acked');
    if (failed.length === 0) this.resolve();
    else this.reject(this.failure(failed.map((p) => p.outcome as FelixError)));
  }

  /**
   * The first failure in batch order, carrying the batch's progress. Payloads were appended (or may have
   * been: a frame sent and not answered) while others were not: sending the batch again would append some
   * twice, so its class is then `outcome_unknown`, whatever the refusal's own.
   */
  private failure(failures: FelixError[]): FelixError {
    const first = failures[0]!;
    const acked: number[] = [];
    for (const part of this.parts) {
      if (part.outcome === 'acked') for (let i = part.start; i < part.end; i++) acked.push(i);
    }
    const unknown = failures.some((f) => f.retry === 'outcome_unknown');
    const total = this.payloads;
    let outcome: string;
    if (unknown) {
      outcome = `${acked.length} of its ${total} payloads were acknowledged (error.batch.acked); the others may or may not have been appended`;
    } else if (acked.length > 0) {
      outcome = `${acked.length} of its ${total} payloads were appended (error.batch.acked), the others refused`;
    } else {
      outcome = `none of its ${total} payloads was appended`;
    }
    return new FelixError(
      first.code,
      `${first.message} (a batch of ${this.parts.length} frames: ${outcome})`,
      {
        cause: first,
        brokerCode: first.brokerCode,
        retry: unknown || acked.length > 0 ? 'outcome_unknown' : first.retry,
        detail: first.detail,
        batch: { payloads: total, acked },
      },
    );
  }
}
