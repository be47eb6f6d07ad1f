/**
 * Felix's binary layouts (felix-wire binary.rs), all big-endian:
 *
 *   publish batch (0x01):        [u64 request_id, u8 ack (1 per_message, 2 per_batch)]  ← only with 0x08
 *                                [u64 producer_id, u64 sequence]  ← only with 0x0100 (on 0x09)
 *                                u16 len + tenant_id, u16 len + namespace, u16 len + stream,
 *                                u32 count, count × (u32 len + payload)
 *   publish ack (0x10):          u8 status (0 ok, 1 error), u64 request_id, u16 len + error message
 *   event batch (0x02):          u64 subscription_id, [u64 base_offset ← only with 0x20],
 *                                u32 count, count × (u32 len + payload)
 *   shared event batch (0x04):   [u64 base_offset ← only with 0x20], u32 count, count × (u32 len + payload)
 *
 * Encoders size the frame first and fill one Buffer (header included) in place: an event batch is
 * encoded once and the same Buffer is written to every subscriber. Decoders return payloads as views
 * into the payload they were given (no copies) and bound every count by the bytes left before
 * allocating anything for it.
 */
import { ByteReader, writeU64 } from './bytes.js';
import { WireError, withRequestId } from './errors.js';
import { allocateFrame, HEADER_BYTES, MAX_BATCH_PAYLOADS, type FrameAllocator } from './frame.js';
import { tooManyPayloads } from './schema.js';
import {
  FLAG_BINARY_EVENT_BATCH,
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_BINARY_PUBLISH_ACK,
  FLAG_BINARY_PUBLISH_ACKED,
  FLAG_BINARY_PUBLISH_BATCH,
  FLAG_BINARY_PUBLISH_PRODUCER,
  FLAG_EVENT_BATCH_OFFSETS,
  FLAG_TIMINGS,
} from './flags.js';
import {
  EVENT_STAMP_BYTES,
  PUBLISH_STAMP_BYTES,
  readEventStamps,
  readStamp,
  checkStampBlock,
  writeStamp,
} from './timings.js';
import type {
  AckMode,
  BinaryEventBatch,
  PublishBatchMessage,
  PublishErrorMessage,
  PublishOkMessage,
} from './messages.js';

const ACK_MODE_PER_MESSAGE = 1;
const ACK_MODE_PER_BATCH = 2;
const ACK_STATUS_OK = 0;
const ACK_STATUS_ERROR = 1;
const MAX_U16 = 0xffff;

/** The fields a binary publish batch carries; a `publish_batch` message fits. */
export type BinaryPublishBatchInput = Omit<PublishBatchMessage, 'type'>;

/**
 * Encodes a publish batch as a binary frame. With `ack` per_message or per_batch it is an acked batch
 * (flags 0x09) and needs `request_id`; without `ack`, or with 'none', it is a plain batch (flags 0x01),
 * which has no room for a request id, so none may be given. `producer_id` and `sequence` (acked only)
 * add flag 0x0100 and their 16 bytes after the ack byte.
 */
export function encodeBinaryPublishBatch(
  batch: BinaryPublishBatchInput,
  allocate: FrameAllocator = allocateFrame,
): Buffer {
  const ackByte = ackModeToWire(batch.ack);
  if (ackByte === undefined && batch.request_id !== undefined) {
    throw new WireError('malformed', 'an unacked binary publish batch cannot carry a request_id');
  }
  if (ackByte !== undefined && batch.request_id === undefined) {
    throw new WireError('malformed', `ack ${batch.ack} needs a request_id`);
  }
  const producer = batch.producer_id !== undefined;
  if (producer !== (batch.sequence !== undefined) || batch.producer_id === 0 || batch.sequence === 0) {
    throw new WireError('malformed', 'producer_id and sequence (both non-zero) must be given together');
  }
  if (producer && ackByte === undefined) {
    throw new WireError('malformed', 'only an acked binary publish batch carries a producer_id');
  }
  const tenantLength = shortStringLength(batch.tenant_id, 'tenant_id');
  const namespaceLength = shortStringLength(batch.namespace, 'namespace');
  const streamLength = shortStringLength(batch.stream, 'stream');
  const prefixLength = ackByte === undefined ? 0 : producer ? 25 : 9;
  const stamped = batch.send_ns !== undefined;
  const length =
    prefixLength +
    6 +
    tenantLength +
    namespaceLength +
    streamLength +
    payloadListLength(batch.payloads) +
    (stamped ? PUBLISH_STAMP_BYTES : 0);
  const flags =
    (ackByte === undefined
      ? FLAG_BINARY_PUBLISH_BATCH
      : FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_PUBLISH_ACKED) |
    (stamped ? FLAG_TIMINGS : 0) |
    (producer ? FLAG_BINARY_PUBLISH_PRODUCER : 0);
  const frame = allocate(flags, length);
  if (stamped) writeStamp(frame, frame.length - PUBLISH_STAMP_BYTES, batch.send_ns!);
  let position = HEADER_BYTES;
  if (ackByte !== undefined) {
    writeU64(frame, position, batch.request_id as number);
    frame[position + 8] = ackByte;
    position += 9;
    if (producer) {
      writeU64(frame, position, batch.producer_id!);
      writeU64(frame, position + 8, batch.sequence!);
      position += 16;
    }
  }
  position = writeShortString(frame, position, batch.tenant_id, tenantLength);
  position = writeShortString(frame, position, batch.namespace, namespaceLength);
  position = writeShortString(frame, position, batch.stream, streamLength);
  writePayloadList(frame, position, batch.payloads);
  return frame;
}

/**
 * Decodes a binary publish batch (flags 0x01, 0x09 or 0x0109) into the `publish_batch` message it stands for.
 * Payloads are views into `payload`. When an acked batch's body is bad, the error carries its
 * request_id so the broker can answer the client's pending request.
 */
export function decodeBinaryPublishBatch(flags: number, payload: Uint8Array): PublishBatchMessage {
  const stamped = (flags & FLAG_TIMINGS) !== 0;
  if (stamped) checkStampBlock(payload, PUBLISH_STAMP_BYTES, 'publish batch');
  const reader = new ByteReader(payload, 0, payload.byteLength - (stamped ? PUBLISH_STAMP_BYTES : 0));
  const acked = (flags & FLAG_BINARY_PUBLISH_ACKED) !== 0;
  let requestId: number | undefined;
  let ack: AckMode | undefined;
  if (acked) {
    requestId = reader.u64('request_id');
    ack = ackModeFromWire(reader.u8(), requestId);
  }
  try {
    // The layout check (payloadLayout) admits 0x0100 only together with 0x09.
    let producerId: number | undefined;
    let sequence: number | undefined;
    if (acked && (flags & FLAG_BINARY_PUBLISH_PRODUCER) !== 0) {
      producerId = reader.u64('producer_id');
      sequence = reader.u64('sequence');
      if (producerId === 0) throw new WireError('malformed', 'producer_id must not be 0');
      // Sequences count from 1: a 0 would count as accepted already (ProducerState) and never be appended.
      if (sequence === 0) throw new WireError('malformed', 'sequence counts from 1: it must not be 0');
    }
    const message: PublishBatchMessage = {
      type: 'publish_batch',
      tenant_id: reader.shortString('tenant_id'),
      namespace: reader.shortString('namespace'),
      stream: reader.shortString('stream'),
      payloads: readPayloadList(reader, 'publish batch', MAX_BATCH_PAYLOADS),
    };
    if (acked) {
      message.request_id = requestId;
      message.ack = ack;
    }
    if (producerId !== undefined) {
      message.producer_id = producerId;
      message.sequence = sequence;
    }
    if (stamped) message.send_ns = readStamp(payload, payload.byteLength - PUBLISH_STAMP_BYTES);
    return message;
  } catch (error) {
    throw error instanceof WireError ? withRequestId(error, requestId) : error;
  }
}

/**
 * Encodes the binary answer to an acked publish (flags 0x10). The layout has room for the request id
 * and a message only: a publish_error's code, retry and detail are not carried.
 */
export function encodeBinaryPublishAck(reply: PublishOkMessage | PublishErrorMessage): Buffer {
  const message = reply.type === 'publish_error' ? reply.message : '';
  const messageLength = shortStringLength(message, 'message');
  const frame = allocateFrame(FLAG_BINARY_PUBLISH_ACK, 11 + messageLength);
  frame[HEADER_BYTES] = reply.type === 'publish_error' ? ACK_STATUS_ERROR : ACK_STATUS_OK;
  writeU64(frame, HEADER_BYTES + 1, reply.request_id);
  writeShortString(frame, HEADER_BYTES + 9, message, messageLength);
  return frame;
}

/**
 * Decodes a binary publish ack (flags 0x10). Bytes after the message are ignored, as Felix ignores
 * them, so a peer that appends fields to this layout still decodes.
 */
export function decodeBinaryPublishAck(payload: Uint8Array): PublishOkMessage | PublishErrorMessage {
  const reader = new ByteReader(payload);
  const status = reader.u8();
  const requestId = reader.u64('request_id');
  const message = reader.shortString('message');
  if (status === ACK_STATUS_OK) return { type: 'publish_ok', request_id: requestId };
  if (status === ACK_STATUS_ERROR) return { type: 'publish_error', request_id: requestId, message };
  throw new WireError('malformed', `unknown publish ack status ${status}`, { requestId });
}

/** Encodes an event batch for one subscription (flags 0x02, plus 0x20 when `baseOffset` is given). */
export function encodeEventBatch(
  subscriptionId: number,
  payloads: readonly Uint8Array[],
  baseOffset?: number,
): Buffer {
  return encodeAnyEventBatch(subscriptionId, payloads, baseOffset);
}

/**
 * Encodes an event batch that names no subscription (flags 0x04, plus 0x20 when `baseOffset` is given):
 * offsets belong to the stream, not the subscriber, so one Buffer serves every subscriber.
 */
export function encodeSharedEventBatch(payloads: readonly Uint8Array[], baseOffset?: number): Buffer {
  return encodeAnyEventBatch(undefined, payloads, baseOffset);
}

function encodeAnyEventBatch(
  subscriptionId: number | undefined,
  payloads: readonly Uint8Array[],
  baseOffset: number | undefined,
): Buffer {
  const flags =
    (subscriptionId === undefined ? FLAG_BINARY_EVENT_BATCH_SHARED : FLAG_BINARY_EVENT_BATCH) |
    (baseOffset === undefined ? 0 : FLAG_EVENT_BATCH_OFFSETS);
  const prefixLength = (subscriptionId === undefined ? 0 : 8) + (baseOffset === undefined ? 0 : 8);
  const frame = allocateFrame(flags, prefixLength + payloadListLength(payloads));
  let position = HEADER_BYTES;
  if (subscriptionId !== undefined) {
    writeU64(frame, position, subscriptionId);
    position += 8;
  }
  if (baseOffset !== undefined) {
    writeU64(frame, position, baseOffset);
    position += 8;
  }
  writePayloadList(frame, position, payloads);
  return frame;
}

/**
 * Decodes an event batch, per-subscription (0x02) or shared (0x04), with or without offsets (0x20). With
 * TIMINGS the stamp block is skipped, and read into `stamps` unless `withStamps` is false (a caller that
 * reads the stamps from the payload itself, allocating nothing for them).
 */
export function decodeEventBatch(flags: number, payload: Uint8Array, withStamps = true): BinaryEventBatch {
  const stamped = (flags & FLAG_TIMINGS) !== 0;
  if (stamped) checkStampBlock(payload, EVENT_STAMP_BYTES, 'event batch');
  const reader = new ByteReader(payload, stamped ? EVENT_STAMP_BYTES : 0);
  const batch: BinaryEventBatch = { type: 'binary_event_batch', payloads: [] };
  if (stamped && withStamps) batch.stamps = readEventStamps(payload);
  if ((flags & FLAG_BINARY_EVENT_BATCH) !== 0) batch.subscription_id = reader.u64('subscription_id');
  if ((flags & FLAG_EVENT_BATCH_OFFSETS) !== 0) batch.base_offset = reader.u64('base_offset');
  batch.payloads = readPayloadList(reader, 'event batch');
  return batch;
}

function readPayloadList(reader: ByteReader, what: string, maxCount = Infinity): Uint8Array[] {
  const count = reader.itemCount(what);
  if (count > maxCount) throw tooManyPayloads(count);
  const payloads = new Array<Uint8Array>(count);
  for (let i = 0; i < count; i++) payloads[i] = reader.bytesView(reader.u32(), `${what} payload ${i}`);
  reader.expectEnd(what);
  return payloads;
}

/** Bytes of a u32 count followed by each payload with its u32 length. */
function payloadListLength(payloads: readonly Uint8Array[]): number {
  let length = 4;
  for (let i = 0; i < payloads.length; i++) length += 4 + payloads[i].byteLength;
  return length;
}

function writePayloadList(frame: Buffer, start: number, payloads: readonly Uint8Array[]): number {
  let position = start;
  frame.writeUInt32BE(payloads.length, position);
  position += 4;
  for (let i = 0; i < payloads.length; i++) {
    const payload = payloads[i];
    frame.writeUInt32BE(payload.byteLength, position);
    frame.set(payload, position + 4);
    position += 4 + payload.byteLength;
  }
  return position;
}

function shortStringLength(value: string, field: string): number {
  const length = Buffer.byteLength(value, 'utf8');
  if (length > MAX_U16)
    throw new WireError('field_too_long', `${field} is ${length} bytes; the limit is ${MAX_U16}`);
  return length;
}

function writeShortString(frame: Buffer, position: number, value: string, length: number): number {
  frame.writeUInt16BE(length, position);
  frame.write(value, position + 2, length, 'utf8');
  return position + 2 + length;
}

function ackModeToWire(ack: AckMode | undefined): number | undefined {
  if (ack === 'per_message') return ACK_MODE_PER_MESSAGE;
  if (ack === 'per_batch') return ACK_MODE_PER_BATCH;
  return undefined;
}

function ackModeFromWire(byte: number, requestId: number): AckMode {
  if (byte === ACK_MODE_PER_MESSAGE) return 'per_message';
  if (byte === ACK_MODE_PER_BATCH) return 'per_batch';
  throw new WireError('malformed', `unknown ack mode ${byte}`, { requestId });
}
