/**
 * Felix's JSON encoding (frame flags 0): byte-compatible with serde_json as Felix uses it. Field order
 * and presence come from the schema; JSON.stringify escapes strings exactly as serde_json does (only
 * `"`, `\` and control characters, the short forms where they exist, lowercase \u00xx otherwise).
 */
import { decodeBase64, encodeBase64 } from './base64.js';
import { WireError } from './errors.js';
import { allocateFrame, HEADER_BYTES } from './frame.js';
import type { Message } from './messages.js';
import { fromWireObject, toWireObject, type ValueRepresentation } from './schema.js';

const JSON_VALUES: ValueRepresentation = {
  encodeBytes: encodeBase64,
  decodeBytes(value, field) {
    if (typeof value !== 'string') throw new WireError('malformed', `field ${field} must be a base64 string`);
    return decodeBase64(value, field);
  },
  encodeU64: (value) => value,
};

// serde_json rejects invalid UTF-8; a lenient decoder would turn it into U+FFFD and accept it.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON text of a message, as Felix writes it. */
export function encodeJsonText(message: Message): string {
  return JSON.stringify(toWireObject(message, JSON_VALUES));
}

/** A complete frame (header included) carrying the message as JSON. */
export function encodeJsonMessage(message: Message): Buffer {
  const text = encodeJsonText(message);
  const frame = allocateFrame(0, Buffer.byteLength(text, 'utf8'));
  frame.write(text, HEADER_BYTES, 'utf8');
  return frame;
}

/** Decodes a flags-0 payload. Byte fields of the result are fresh buffers (base64 always copies). */
export function decodeJsonMessage(payload: Uint8Array): Message {
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(payload));
  } catch (error) {
    throw new WireError('malformed', `payload is not UTF-8 JSON: ${(error as Error).message}`);
  }
  return fromWireObject(parsed, JSON_VALUES);
}
