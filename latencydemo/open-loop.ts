/**
 * latencydemo's open loop (--rate): the warmup and the measured events go out as one evenly spaced
 * schedule, one unacknowledged publish per event, each stamped with its *scheduled* send time rather than
 * the time it actually left. The subscribers measure latency from that stamp, so time the publisher spent
 * behind schedule, and any queue that built up in the SDK, the broker or the transport, is counted
 * (no coordinated omission). Nothing waits for deliveries: the rate is the load.
 */
import type { FelixClient, PublishOptions } from '../client/index.js';
import { pace, type PacerClock, type PaceResult } from './pacer.js';
import { allocatePayload, writeStamp } from './stamp.js';

const NO_ACK: PublishOptions = Object.freeze({ ack: 'none' });

/** What an open-loop run reports beside the latencies (JSON: the case's `open_loop`). */
export interface OpenLoopReport {
  /** The rate asked for (--rate), messages per second. */
  readonly rate_msgs: number;
  /** Measured messages per second the publisher actually sent (first to last measured send). */
  readonly achieved_rate_msgs: number;
  /** How far behind its scheduled time a measured message was published, in whole microseconds. */
  readonly publisher_lag_p50_us: number;
  readonly publisher_lag_p99_us: number;
  readonly publisher_lag_max_us: number;
}

export function openLoopReport(rate: number, result: PaceResult): OpenLoopReport {
  return {
    rate_msgs: rate,
    achieved_rate_msgs: Number(result.achievedRate.toFixed(2)),
    publisher_lag_p50_us: Math.trunc(result.lagP50Us),
    publisher_lag_p99_us: Math.trunc(result.lagP99Us),
    publisher_lag_max_us: Math.trunc(result.lagMaxUs),
  };
}

/**
 * The stream of event `seq`: as the closed loop's batches of one, each phase rotates over the streams
 * from stream 0 (publish-plan.ts's eventsPerStream with batch 1).
 */
export function streamIndex(seq: number, warmup: number, streams: number): number {
  return (seq < warmup ? seq : seq - warmup) % streams;
}

export interface OpenLoopPlan {
  readonly rate: number;
  readonly warmup: number;
  readonly total: number;
  readonly payload: number;
  readonly streams: readonly string[];
}

export class OpenLoopPublisher {
  /** Events handed to the SDK so far (both phases). */
  published = 0;
  readonly warnings: string[] = [];
  private failures = 0;

  constructor(
    private readonly client: Pick<FelixClient, 'publish'>,
    private readonly plan: OpenLoopPlan,
    private readonly clock?: PacerClock,
  ) {}

  /** Publishes the whole schedule (warmup then measured); resolves when the last event is handed over. */
  async run(): Promise<PaceResult> {
    const { warmup, total, streams } = this.plan;
    // One buffer: the SDK copies the payload into its frame before publish returns.
    const payload = allocatePayload(this.plan.payload);
    const onError = (error: unknown): void => {
      if (this.failures++ === 0) this.warnings.push(`publish failed: ${(error as Error).message}`);
    };
    const result = await pace(
      warmup + total,
      this.plan.rate,
      (seq, scheduledAt) => {
        writeStamp(payload, scheduledAt, seq);
        // Admission resolves at once unless the worker's queue is full; the schedule never waits for it.
        this.client
          .publish(streams[streamIndex(seq, warmup, streams.length)]!, payload, NO_ACK)
          .catch(onError);
        this.published++;
      },
      { measuredFrom: warmup, ...(this.clock === undefined ? {} : { clock: this.clock }) },
    );
    if (this.failures > 1) this.warnings.push(`${this.failures} publishes failed in all`);
    return result;
  }
}
