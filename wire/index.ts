/**
 * The wire unit: FLX1 framing, Felix's JSON messages and binary batches, and the felix-ts extensions
 * (MessagePack, chunked publish), and the per-hop latency summary both sides report from the TIMINGS
 * stamps. Knows nothing of transport, broker or client. docs/protocol.md is
 * the specification; this is its implementation.
 */
export { WireError, isWireError, type WireErrorCode, type WireErrorContext } from './errors.js';
export {
  MAGIC,
  VERSION,
  HEADER_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_BATCH_PAYLOADS,
  MAX_ENCODABLE_PAYLOAD_BYTES,
  type FrameHeader,
  type WholeFrame,
  type FrameAllocator,
  writeFrameHeader,
  allocateFrame,
  encodeFrame,
  readFrameHeader,
  decodeWholeFrame,
} from './frame.js';
export {
  FLAG_BINARY_PUBLISH_BATCH,
  FLAG_BINARY_EVENT_BATCH,
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_BINARY_PUBLISH_ACKED,
  FLAG_BINARY_PUBLISH_ACK,
  FLAG_EVENT_BATCH_OFFSETS,
  FLAG_MSGPACK,
  FLAG_TIMINGS,
  FLAG_BINARY_PUBLISH_PRODUCER,
  FELIX_FLAGS,
  ORIGINAL_V1_FLAGS,
  KNOWN_FLAGS,
  FEATURE_TOPOLOGY,
  FEATURE_CACHE_DELETE,
  FEATURE_ERROR_CODES,
  FEATURE_PUBLISH_CHUNK,
  FEATURE_IDEMPOTENT_PUBLISH,
  FEATURE_DRAINING,
  FEATURE_DROP_NOTICE,
  KNOWN_FEATURES,
  hasUnknownFlags,
  supportsFlags,
  negotiateFlags,
  supportsFeature,
  payloadLayout,
  type PayloadLayout,
} from './flags.js';
export { FrameDecoder, type FrameSink, type FrameDecoderOptions } from './decoder.js';
export { FrameBufferPool } from './frame-buffer-pool.js';
export type * from './messages.js';
export { CLIENT_REQUEST_TYPES } from './messages.js';
export { defaultRetryClass } from './retry-classes.js';
export { MESSAGE_TYPES } from './schema.js';
export { encodeMessage, decodeMessage, decodeFramePayload, type EncodeOptions } from './codec.js';
export { encodeJsonMessage, encodeJsonText, decodeJsonMessage } from './json.js';
export { encodeMsgpackMessage, encodeMsgpackPayload, decodeMsgpackMessage } from './msgpack.js';
export {
  encodeBinaryPublishBatch,
  decodeBinaryPublishBatch,
  encodeBinaryPublishAck,
  decodeBinaryPublishAck,
  encodeEventBatch,
  encodeSharedEventBatch,
  decodeEventBatch,
  type BinaryPublishBatchInput,
} from './binary.js';
export { splitPublish, PublishChunkAssembler, type PublishChunkAssemblerOptions } from './chunks.js';
export { copyBytes, writeU64 } from './bytes.js';
export * from './codes.js';
export {
  PUBLISH_STAMP_BYTES,
  EVENT_STAMP_BYTES,
  monotonicNs,
  readStamp,
  writeStamp,
  readEventStamps,
  EVENT_STAMP_PREFIX_BYTES,
  writeEventStampPrefix,
  encodeEventStampPrefix,
  type EventStamps,
} from './timings.js';
export { hopHistogram, recordHopNs, summarizeHops, type HopSummary } from './hop-latency.js';
