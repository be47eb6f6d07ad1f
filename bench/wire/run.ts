/**
 * Wire codec micro-benchmarks: an event batch as JSON, MessagePack and the binary shared layout, an acked
 * JSON publish (256 B and 4 KiB) with the nesting scan that runs before its JSON.parse shown apart, plus
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
import { MAX_MESSAGE_NESTING, jsonNestsDeeper } from '../../wire/nesting.js';

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

/** The JSON text of an acked publish of `bytes` (the latencydemo b1 request, 16 bytes of stamp included). */
function publishText(bytes: number): Buffer {
  return encodeJsonMessage({
    type: 'publish',
    tenant_id: 't1',
    namespace: 'default',
    stream: 'bench',
    payload: Buffer.alloc(bytes, 7),
    request_id: 123_456,
    ack: 'per_message',
  }).subarray(HEADER_BYTES);
}
const publish256 = publishText(256 + 16);
const publish4k = publishText(4096 + 16);

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
  .add('decode JSON acked publish, 256 B', () => {
    sink += decodeJsonMessage(publish256).type.length;
  })
  .add('  of which: the nesting scan, 256 B', () => {
    sink += jsonNestsDeeper(publish256, MAX_MESSAGE_NESTING) ? 0 : 1;
  })
  .add('decode JSON acked publish, 4 KiB', () => {
    sink += decodeJsonMessage(publish4k).type.length;
  })
  .add('  of which: the nesting scan, 4 KiB', () => {
    sink += jsonNestsDeeper(publish4k, MAX_MESSAGE_NESTING) ? 0 : 1;
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
