/**
 * One encoded event-batch frame as it travels to subscribers: encoded once, shared by every subscriber
 * queue and by the stream's replay log. `firstOffset..firstOffset+count-1` are the events inside.
 */
export interface EventFrame {
  readonly bytes: Buffer;
  readonly firstOffset: number;
  readonly count: number;
  /** Set while timings are on: the batch's stamps, shared like the bytes. */
  readonly timing: FrameTiming | null;
  /**
   * The same events as message frames (`event`/`event_batch`), for subscribers that negotiated no binary
   * batches: made by the first such subscriber, then shared like `bytes`. Null until then.
   */
  messages: MessageEncodings | null;
}

export interface MessageEncodings {
  /**
   * The frame as message frames (broker/quic/message-forms.ts): one `event`/`event_batch`, or one `event`
   * per event when that would exceed FELIX_MAX_FRAME_BYTES, null for an event too large even alone.
   */
  json?: readonly (Buffer | null)[];
  msgpack?: readonly (Buffer | null)[];
}

export interface FrameTiming {
  /** Publisher send stamp of the batch's first event, 0 when the publisher sent none. */
  readonly sendNs: number;
  /** Broker decode done for the batch's first event. */
  readonly decodeNs: number;
  /** Broker fanout enqueue (the batch was cut and handed to subscriber queues). */
  readonly enqueueNs: number;
  /**
   * `bytes` with the EVENT_STAMP_BYTES in front of them that the batch builder left free: where a
   * subscriber's TIMINGS header and stamps are written (over the plain header, restored right after) so that
   * the stamped frame goes to the transport as one buffer. See EventStreamWriter.writeStamped (broker/quic).
   */
  readonly stamped: Uint8Array;
}
