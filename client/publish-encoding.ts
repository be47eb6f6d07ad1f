/**
 * Publish frames as the broker confirmed it can take them: binary publish batches when negotiated (acked
 * ones, 0x09, only when 0x08 was confirmed; otherwise `publish_batch` messages), and `publish_chunk` runs
 * for payloads above FELIX_PUBLISH_CHUNK_BYTES when the broker reassembles them. Every function encodes
 * straight into the frame that is sent: a payload is copied once, into its frame.
 */
import {
  HEADER_BYTES,
  MAX_BATCH_PAYLOADS,
  allocateFrame,
  encodeBinaryPublishBatch,
  encodeMessage,
  monotonicNs,
  splitPublish,
  type AckMode,
  type BinaryPublishBatchInput,
  type FrameAllocator,
  type PublishMessage,
} from '../wire/index.js';
import { FelixError } from './errors.js';
import type { Negotiated } from './negotiation.js';

/** A stream publishes go to. One object per stream, reused: it is also the ordering key of its worker. */
export interface PublishTarget {
  readonly tenant: string;
  readonly namespace: string;
  readonly stream: string;
  /** streamHash of the three names, computed once. */
  readonly hash: number;
  /** "publish to tenant/namespace/stream", for errors. */
  readonly what: string;
}

/** One frame's worth of a batch, or one payload that travels as a chunked publish. */
export type BatchPart =
  | { readonly kind: 'frame'; readonly start: number; readonly end: number }
  | { readonly kind: 'chunked'; readonly index: number };

/**
 * Splits a batch into frames carrying at most `chunkBytes` payload bytes and MAX_BATCH_PAYLOADS payloads
 * each (at least one payload per frame), in order. A payload above `chunkBytes` travels alone: in a frame of its own (it must fit the
 * frame limit), or as its own chunked publish when it is above `chunkedAbove` (Infinity: never).
 */
export function planBatch(
  payloads: readonly Uint8Array[],
  chunkBytes: number,
  chunkedAbove: number,
): BatchPart[] {
  const parts: BatchPart[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < payloads.length; i++) {
    const size = payloads[i]!.byteLength;
    if (size > chunkBytes) {
      if (i > start) parts.push({ kind: 'frame', start, end: i });
      parts.push(
        size > chunkedAbove ? { kind: 'chunked', index: i } : { kind: 'frame', start: i, end: i + 1 },
      );
      start = i + 1;
      bytes = 0;
      continue;
    }
    // A frame holds at most MAX_BATCH_PAYLOADS payloads however small (the broker refuses more).
    if ((bytes + size > chunkBytes || i - start === MAX_BATCH_PAYLOADS) && i > start) {
      parts.push({ kind: 'frame', start, end: i });
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (start < payloads.length) parts.push({ kind: 'frame', start, end: payloads.length });
  return parts;
}

/**
 * Refuses a batch holding a payload above the broker's largest message (its announced FELIX_MAX_FRAME_BYTES
 * less the event envelope, docs/protocol.md "Largest message") before any of it is sent, as the broker
 * would refuse that payload's frame: `publish_rejected`, `brokerCode` `payload_too_large`, class `fatal`.
 */
export function checkBatchSizes(
  target: PublishTarget,
  payloads: readonly Uint8Array[],
  maxFrameBytes: number,
  envelopeBytes: number,
): void {
  const largest = maxFrameBytes - envelopeBytes;
  const index = payloads.findIndex((p) => p.byteLength > largest);
  if (index < 0) return;
  throw new FelixError(
    'publish_rejected',
    `${target.what} refused: message of ${payloads[index]!.byteLength} bytes is larger than the largest ` +
      `message this broker takes, ${largest} bytes (FELIX_MAX_FRAME_BYTES ${maxFrameBytes} less ` +
      `${envelopeBytes} for the event's envelope): payload ${index} of the batch; nothing of the batch was sent`,
    { brokerCode: 'payload_too_large', retry: 'fatal' },
  );
}

// Reused for every frame: encoding is synchronous, so one input object serves all calls.
// Every field is present from the start, so the object keeps one shape whatever a call sets.
const scratch: BinaryPublishBatchInput = {
  tenant_id: '',
  namespace: '',
  stream: '',
  payloads: [],
  request_id: undefined,
  ack: undefined,
  producer_id: undefined,
  sequence: undefined,
  send_ns: undefined,
};

/**
 * One publish frame for `payloads` (a binary one in a buffer from `allocate`). `requestId` must be given
 * exactly when `ack` is not 'none'; so may
 * `producerId` and `sequence` (non-zero: IDEMPOTENT_PUBLISH), which an acked binary batch carries only
 * where the broker confirmed flag 0x0100 (otherwise the frame is a message). Throws FelixError
 * `payload_too_large` when the frame would exceed the broker's frame limit.
 */
export function encodePublishFrame(
  target: PublishTarget,
  payloads: Uint8Array[],
  ack: AckMode,
  requestId: number | undefined,
  negotiated: Negotiated,
  maxFrameBytes: number,
  producerId = 0,
  sequence = 0,
  allocate: FrameAllocator = allocateFrame,
): Buffer {
  const acked = ack !== 'none';
  const producer = acked && producerId !== 0;
  let frame: Buffer;
  if (
    acked
      ? negotiated.binaryAckedPublish && (!producer || negotiated.binaryProducer)
      : negotiated.binaryPublish
  ) {
    scratch.tenant_id = target.tenant;
    scratch.namespace = target.namespace;
    scratch.stream = target.stream;
    scratch.payloads = payloads;
    scratch.request_id = acked ? requestId : undefined;
    scratch.ack = acked ? ack : undefined;
    scratch.producer_id = producer ? producerId : undefined;
    scratch.sequence = producer ? sequence : undefined;
    // The publisher's hop starts here: the stamp is read when the frame is built for sending.
    scratch.send_ns = negotiated.timings ? monotonicNs() : undefined;
    try {
      frame = encodeBinaryPublishBatch(scratch, allocate);
    } finally {
      scratch.payloads = [];
    }
  } else {
    frame = encodeMessage(
      {
        type: 'publish_batch',
        tenant_id: target.tenant,
        namespace: target.namespace,
        stream: target.stream,
        payloads,
        ...(acked ? { request_id: requestId, ack } : {}),
        ...(producer ? { producer_id: producerId, sequence } : {}),
      },
      { msgpack: negotiated.msgpack },
    );
  }
  if (frame.byteLength - HEADER_BYTES > maxFrameBytes) {
    throw new FelixError(
      'payload_too_large',
      `a publish frame of ${frame.byteLength - HEADER_BYTES} bytes exceeds FELIX_MAX_FRAME_BYTES ` +
        `(${maxFrameBytes}); the broker does not take chunked publishes, so the payload cannot be sent`,
    );
  }
  return frame;
}

/** The frames of a chunked publish: `publish_chunk` messages of at most `chunkBytes` payload bytes each. */
export function encodeChunkedPublish(
  target: PublishTarget,
  payload: Uint8Array,
  ack: AckMode,
  requestId: number | undefined,
  publishId: number,
  chunkBytes: number,
  negotiated: Negotiated,
  producerId = 0,
  sequence = 0,
): Buffer[] {
  const whole: PublishMessage = {
    type: 'publish',
    tenant_id: target.tenant,
    namespace: target.namespace,
    stream: target.stream,
    payload,
  };
  if (ack !== 'none') {
    whole.request_id = requestId;
    whole.ack = ack;
    if (producerId !== 0) {
      whole.producer_id = producerId;
      whole.sequence = sequence;
    }
  }
  const encoding = { msgpack: negotiated.msgpack };
  return splitPublish(whole, chunkBytes, publishId).map((chunk) => encodeMessage(chunk, encoding));
}
