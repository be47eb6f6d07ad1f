/**
 * One encoded event-batch frame as it travels to subscribers: encoded once, shared by every subscriber
 * queue and by the stream's replay log. `firstOffset..firstOffset+count-1` are the events inside.
 */
export interface EventFrame {
  readonly bytes: Buffer;
  readonly firstOffset: number;
  readonly count: number;
  /** Set while timings are on: the batch's stamps and its TIMINGS header, shared like the bytes. */
  readonly timing: FrameTiming | null;
}

export interface FrameTiming {
  /** Publisher send stamp of the batch's first event, 0 when the publisher sent none. */
  readonly sendNs: number;
  /** Broker decode done for the batch's first event. */
  readonly decodeNs: number;
  /** Broker fanout enqueue (the batch was cut and handed to subscriber queues). */
  readonly enqueueNs: number;
  /** `bytes`' header with FLAG_TIMINGS and the stamp block's length: `header + bytes[12..] + block`. */
  readonly header: Buffer;
}
