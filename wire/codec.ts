/**
 * One entry point per direction: encode a message in the encoding negotiated for the peer, and decode
 * whatever a frame holds according to its flags.
 */
import { decodeBinaryPublishAck, decodeBinaryPublishBatch, decodeEventBatch } from './binary.js';
import { WireError } from './errors.js';
import { FLAG_MSGPACK, payloadLayout } from './flags.js';
import { decodeJsonMessage, encodeJsonMessage } from './json.js';
import type { DecodedFrame, Message } from './messages.js';
import { decodeMsgpackMessage, encodeMsgpackMessage } from './msgpack.js';

export interface EncodeOptions {
  /** Use MessagePack (flag 0x40); only towards a peer that confirmed FLAG_MSGPACK. Default JSON. */
  msgpack?: boolean;
}

/** A complete frame (header included) carrying `message`. */
export function encodeMessage(message: Message, options: EncodeOptions = {}): Buffer {
  return options.msgpack === true ? encodeMsgpackMessage(message) : encodeJsonMessage(message);
}

/**
 * Decodes a message frame (flags 0 for JSON, 0x40 for MessagePack). `maxListItems` (the broker's
 * MAX_BATCH_PAYLOADS for what clients send): a MessagePack array longer than that, or JSON of four times as
 * many elements, is refused before it is decoded (JSON's publish_batch is held to it by its schema).
 *
 * Byte fields of the result may be views into `payload` (MessagePack) or fresh copies (JSON): treat
 * them as views. A FrameDecoder payload is valid only during its callback, so to keep a decoded
 * message past it, decode from copyBytes(payload): one copy per frame, and the message's byte fields
 * then share that copy.
 */
export function decodeMessage(flags: number, payload: Uint8Array, maxListItems = Infinity): Message {
  if (flags === 0) return decodeJsonMessage(payload, maxListItems);
  if (flags === FLAG_MSGPACK) return decodeMsgpackMessage(payload, maxListItems);
  throw new WireError('invalid_flags', `flags 0x${flags.toString(16)} do not carry a message`, { flags });
}

/**
 * Decodes any frame according to its flags: JSON and MessagePack messages, binary publish batches (as
 * `publish_batch`), binary publish acks (as `publish_ok`/`publish_error`) and binary event batches.
 * The same aliasing rule as decodeMessage applies to every byte field and payload list. `withStamps`:
 * see decodeEventBatch.
 */
export function decodeFramePayload(flags: number, payload: Uint8Array, withStamps = true): DecodedFrame {
  switch (payloadLayout(flags)) {
    case 'json':
      return decodeJsonMessage(payload);
    case 'msgpack':
      return decodeMsgpackMessage(payload);
    case 'binary_publish_batch':
    case 'binary_acked_publish_batch':
      return decodeBinaryPublishBatch(flags, payload);
    case 'binary_publish_ack':
      return decodeBinaryPublishAck(payload);
    case 'binary_event_batch':
    case 'binary_shared_event_batch':
      return decodeEventBatch(flags, payload, withStamps);
  }
}
