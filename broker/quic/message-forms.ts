/**
 * A frame's events as message frames (`event` / `event_batch`, JSON or MessagePack) for subscribers that
 * negotiated no binary batches: made by the first such subscriber of a frame and kept on it, shared by the
 * others and by replays from the ring. Usually one frame. When that form would be longer than
 * FELIX_MAX_FRAME_BYTES (JSON carries payloads in base64, a third larger), one `event` frame per event
 * instead, and null for an event that does not fit even alone — that subscriber sees the gap in its
 * offsets, as after a queue drop (docs/protocol.md, "Largest message").
 */
import {
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_EVENT_BATCH_OFFSETS,
  HEADER_BYTES,
  decodeEventBatch,
  encodeMessage,
  type Message,
} from '../../wire/index.js';
import type { EventFrame } from '../core/event-frame.js';
import type { Topic } from '../core/topic.js';

/** Shared frames (flags 0x24): header, u64 base offset, u32 count, then a u32 length before each payload. */
const SHARED_PAYLOADS = HEADER_BYTES + 12;

export function messageForms(
  frame: EventFrame,
  topic: Topic,
  msgpack: boolean,
  maxFrameBytes: number,
): readonly (Buffer | null)[] {
  const made = (frame.messages ??= {});
  const existing = msgpack ? made.msgpack : made.json;
  if (existing !== undefined) return existing;
  const forms = encodeForms(frame, topic, msgpack, maxFrameBytes);
  if (msgpack) made.msgpack = forms;
  else made.json = forms;
  return forms;
}

function encodeForms(
  frame: EventFrame,
  topic: Topic,
  msgpack: boolean,
  maxFrameBytes: number,
): (Buffer | null)[] {
  const { payloads } = decodeEventBatch(
    FLAG_BINARY_EVENT_BATCH_SHARED | FLAG_EVENT_BATCH_OFFSETS,
    frame.bytes.subarray(HEADER_BYTES),
  );
  const fits = (encoded: Buffer): boolean => encoded.length - HEADER_BYTES <= maxFrameBytes;
  const event = (i: number): Buffer =>
    encodeMessage(
      {
        type: 'event',
        tenant_id: topic.tenant,
        namespace: topic.namespace,
        stream: topic.name,
        payload: payloads[i]!,
        offset: frame.firstOffset + i,
      },
      { msgpack },
    );
  if (payloads.length === 1) {
    const one = event(0);
    return [fits(one) ? one : null];
  }
  // JSON's base64 of the payloads alone (a third more than their bytes) already past the limit: the whole
  // batch need not be encoded to know it goes apart.
  const payloadBytes = frame.bytes.length - SHARED_PAYLOADS - 4 * frame.count;
  if (msgpack || (payloadBytes / 3) * 4 <= maxFrameBytes) {
    const batch: Message = {
      type: 'event_batch',
      tenant_id: topic.tenant,
      namespace: topic.namespace,
      stream: topic.name,
      payloads,
      base_offset: frame.firstOffset,
    };
    const whole = encodeMessage(batch, { msgpack });
    if (fits(whole)) return [whole];
  }
  const apart: (Buffer | null)[] = [];
  for (let i = 0; i < payloads.length; i++) {
    const one = event(i);
    apart.push(fits(one) ? one : null);
  }
  return apart;
}
