import type { BrokerConfig } from '../config.js';
import { FRAME_ENVELOPE_RESERVE_BYTES } from '../../config/shared-settings.js';

/** The largest message (one event's payload) the broker takes, and what sets it. */
export interface MessageSizeLimit {
  readonly bytes: number;
  /** What to change to take larger ones, as the refusal names it. */
  readonly bound: string;
}

/**
 * A message must reach its subscribers: it travels in an event frame of its own, which holds it and an
 * envelope (names, offsets, stamps: at most FRAME_ENVELOPE_RESERVE_BYTES) within FELIX_MAX_FRAME_BYTES.
 * (A chunked publish must also fit one connection's in-flight budget, but the configuration checks keep
 * FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES at least FELIX_MAX_FRAME_BYTES, so the frame is the bound.)
 */
export function largestMessage(config: Pick<BrokerConfig, 'maxFrameBytes'>): MessageSizeLimit {
  return {
    bytes: config.maxFrameBytes - FRAME_ENVELOPE_RESERVE_BYTES,
    bound: `FELIX_MAX_FRAME_BYTES ${config.maxFrameBytes} less ${FRAME_ENVELOPE_RESERVE_BYTES} for the event's envelope`,
  };
}

/** The message of a `payload_too_large` refusal: the size, the limit, and what sets it. */
export function tooLargeMessage(bytes: number, limit: MessageSizeLimit): string {
  return `message of ${bytes} bytes is larger than the largest message this broker takes, ${limit.bytes} bytes (${limit.bound})`;
}
