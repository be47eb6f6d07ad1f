/**
 * Felix's JSON encoding (frame flags 0): byte-compatible with serde_json as Felix uses it. Field order
 * and presence come from the schema; JSON.stringify escapes strings exactly as serde_json does (only
 * `"`, `\` and control characters, the short forms where they exist, lowercase \u00xx otherwise).
 */
import { decodeBase64, encodeBase64 } from './base64.js';
import { WireError } from './errors.js';
import { allocateFrame, HEADER_BYTES } from './frame.js';
import type { Message } from './messages.js';
import { MAX_MESSAGE_NESTING, jsonProblem } from './nesting.js';
import { fromWireObject, refusalFor, toWireObject, type ValueRepresentation } from './schema.js';

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

/**
 * Decodes a flags-0 payload. Byte fields of the result are fresh buffers (base64 always copies).
 * `maxListItems` (the broker's MAX_BATCH_PAYLOADS for what clients send): text of more than four times as
 * many elements is refused unread, since only a batch over that limit holds so many; up to there it is
 * parsed, and a publish_batch over the limit is refused naming its request (by its schema).
 */
export function decodeJsonMessage(payload: Uint8Array, maxListItems = Infinity): Message {
  const problem = jsonProblem(payload, MAX_MESSAGE_NESTING, 4 * maxListItems);
  if (problem === 'too_deep') {
    throw new WireError('malformed', `JSON nested deeper than ${MAX_MESSAGE_NESTING} levels`);
  }
  if (problem === 'too_many_elements') {
    throw new WireError(
      'too_many_payloads',
      `JSON of more than ${4 * maxListItems} elements, refused unread (a publish batch holds at most ` +
        `${maxListItems} payloads): send them as several batches`,
    );
  }
  let parsed: unknown;
  let text: string;
  try {
    text = strictUtf8.decode(payload);
    parsed = JSON.parse(text);
  } catch (error) {
    throw new WireError('malformed', `payload is not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (text.includes(ESCAPE) && !wellFormedStrings(parsed)) {
    throw refusalFor(
      parsed,
      new WireError('malformed', 'a string holds a lone surrogate escape (\\ud800-\\udfff outside a pair)'),
    );
  }
  return fromWireObject(parsed, JSON_VALUES);
}

/**
 * Only through a `\u` escape (of a UTF-16 surrogate) can JSON.parse yield a string that is not well-formed:
 * the text itself passed the strict UTF-8 decoder. A pair is fine, a lone half is what serde_json refuses,
 * and a peer in a language whose strings must be Unicode could not even read it back. Most messages have
 * no escape at all, so the parsed value is walked only when the text holds one (a substring search: on a
 * 256 B publish a regular expression's test cost several times as much).
 */
const ESCAPE = '\\u';

/**
 * Whether every string in a parsed JSON value, object keys included, is well-formed UTF-16. Iterative: a
 * hostile text may nest far deeper than the stack (JSON.parse itself does not recurse).
 */
function wellFormedStrings(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      if (!next.isWellFormed()) return false;
    } else if (Array.isArray(next)) {
      for (const item of next) pending.push(item);
    } else if (typeof next === 'object' && next !== null) {
      for (const key in next) {
        if (!key.isWellFormed()) return false;
        pending.push((next as Record<string, unknown>)[key]);
      }
    }
  }
  return true;
}
