/**
 * One encoded event-batch frame as it travels to subscribers: encoded once, shared by every subscriber
 * queue and by the stream's replay log. `firstOffset..firstOffset+count-1` are the events inside.
 */
export interface EventFrame {
  readonly bytes: Buffer;
  readonly firstOffset: number;
  readonly count: number;
}
