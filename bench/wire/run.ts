/**
 * Wire codec micro-benchmarks: an event batch as JSON, MessagePack and the binary shared layout, plus
 * the stream decoder's framing throughput. Not part of CI (numbers depend on the machine).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/wire/run.js
 */
import { Bench } from 'tinybench';
import {
  decodeEventBatch,
  decodeJsonMessage,
  decodeMsgpackMessage,
  encodeJsonMessage,
  encodeMsgpackMessage,
  encodeSharedEventBatch,
  type EventBatchMessage,
  FLAG_BINARY_EVENT_BATCH_SHARED,
  FLAG_EVENT_BATCH_OFFSETS,
  FrameDecoder,
  HEADER_BYTES,
} from '../../wire/index.js';

const EVENTS_PER_BATCH = 64;
const EVENT_BYTES = 256;

const payloads = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => Buffer.alloc(EVENT_BYTES, i));
const batch: EventBatchMessage = {
  type: 'event_batch',
  tenant_id: 't1',
  namespace: 'default',
  stream: 'bench',
  payloads,
  base_offset: 1_000_000,
};

const jsonFrame = encodeJsonMessage(batch);
const msgpackFrame = encodeMsgpackMessage(batch);
const binaryFrame = encodeSharedEventBatch(payloads, 1_000_000);
const binaryFlags = FLAG_BINARY_EVENT_BATCH_SHARED | FLAG_EVENT_BATCH_OFFSETS;

// 1000 binary batches in one stream, pushed in 64 KiB chunks as a QUIC stream would deliver them.
const stream = Buffer.concat(Array.from({ length: 1000 }, () => binaryFrame));
let framesSeen = 0;
const decoder = new FrameDecoder({
  onFrame: () => {
    framesSeen++;
  },
  onError: (error) => {
    throw error;
  },
});

let sink = 0;
const bench = new Bench({ time: 1000 });
bench
  .add(`encode JSON event_batch (${EVENTS_PER_BATCH} × ${EVENT_BYTES} B)`, () => {
    sink += encodeJsonMessage(batch).length;
  })
  .add('encode MessagePack event_batch', () => {
    sink += encodeMsgpackMessage(batch).length;
  })
  .add('encode binary shared event batch', () => {
    sink += encodeSharedEventBatch(payloads, 1_000_000).length;
  })
  .add('decode JSON event_batch', () => {
    sink += (decodeJsonMessage(jsonFrame.subarray(HEADER_BYTES)) as EventBatchMessage).payloads.length;
  })
  .add('decode MessagePack event_batch', () => {
    sink += (decodeMsgpackMessage(msgpackFrame.subarray(HEADER_BYTES)) as EventBatchMessage).payloads.length;
  })
  .add('decode binary shared event batch', () => {
    sink += decodeEventBatch(binaryFlags, binaryFrame.subarray(HEADER_BYTES)).payloads.length;
  })
  .add(`FrameDecoder: 1000 frames (${(stream.length / 1e6).toFixed(1)} MB) in 64 KiB chunks`, () => {
    for (let position = 0; position < stream.length; position += 65_536) {
      decoder.push(stream.subarray(position, position + 65_536));
    }
  });

await bench.run();
console.log(
  `frame sizes: JSON ${jsonFrame.length} B, MessagePack ${msgpackFrame.length} B, binary ${binaryFrame.length} B`,
);
console.table(bench.table());
if (sink === 0 || framesSeen === 0) throw new Error('benchmark did no work');
