/**
 * felix-ts extension (frame flag 0x40): the same message objects as the JSON encoding, in MessagePack
 * via msgpackr. Byte fields travel as MessagePack bin (raw bytes, no base64), maps keep the JSON field
 * names and order, and no msgpackr-specific extension (records, structures) is used, so any MessagePack
 * implementation can read it. Integers above u32 are written as 64-bit integers, never as floats.
 */
import { Packr, Unpackr } from 'msgpackr';
import { WireError } from './errors.js';
import { encodeFrame } from './frame.js';
import { FLAG_MSGPACK } from './flags.js';
import { msgpackProblem, type MsgpackProblem } from './msgpack-check.js';
import type { Message } from './messages.js';
import { MAX_MESSAGE_NESTING } from './nesting.js';
import { fromWireObject, refusalFor, toWireObject, type ValueRepresentation } from './schema.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

const MSGPACK_VALUES: ValueRepresentation = {
  encodeBytes: (bytes) => bytes,
  decodeBytes(value, field) {
    if (!(value instanceof Uint8Array))
      throw new WireError('malformed', `field ${field} must be MessagePack bin`);
    return value;
  },
  // msgpackr writes a non-u32 number as float64; a bigint becomes a real 64-bit integer.
  encodeU64: (value) => (value > 0xffff_ffff ? BigInt(value) : value),
};

/** The MessagePack bytes of a message (the frame payload). */
export function encodeMsgpackPayload(message: Message): Buffer {
  return packr.pack(toWireObject(message, MSGPACK_VALUES));
}

/** A complete frame (header included, flags 0x40) carrying the message as MessagePack. */
export function encodeMsgpackMessage(message: Message): Buffer {
  return encodeFrame(FLAG_MSGPACK, encodeMsgpackPayload(message));
}

/**
 * Decodes a flags-0x40 payload. Byte fields of the result are views into `payload`, not copies: decode
 * from an owned copy to keep them past the frame callback.
 */
export function decodeMsgpackMessage(payload: Uint8Array, maxListItems = Infinity): Message {
  const problem = msgpackProblem(payload, MAX_MESSAGE_NESTING, maxListItems);
  if (problem !== undefined) throw refusal(problem, payload, maxListItems);
  return fromWireObject(decodeFirstValue(payload), MSGPACK_VALUES);
}

const PROBLEMS: { readonly [P in MsgpackProblem]: string } = {
  too_deep: `MessagePack nested deeper than ${MAX_MESSAGE_NESTING} levels`,
  ext: 'a MessagePack ext value (no message has one)',
  never_used: 'the byte 0xc1, which MessagePack never uses',
  ill_formed_str: 'a MessagePack str that is not well-formed UTF-8 (strings must be)',
  too_many_items: 'a MessagePack array of more items than a message may hold',
};

/**
 * The error for a payload refused before decoding. Only a str that is not UTF-8 leaves the value safe to
 * decode (leniently, as msgpackr does), so that refusal names the request when its id can be read; the
 * others are refused unread.
 */
function refusal(problem: MsgpackProblem, payload: Uint8Array, maxListItems: number): WireError {
  if (problem === 'too_many_items') {
    // Only a publish batch's payloads make a long list: refused unread, as a batch over the limit.
    return new WireError(
      'too_many_payloads',
      `${PROBLEMS[problem]} (a publish batch holds at most ${maxListItems} payloads): send them as several batches`,
    );
  }
  const error = new WireError('malformed', PROBLEMS[problem]);
  if (problem !== 'ill_formed_str') return error;
  try {
    return refusalFor(decodeFirstValue(payload), error);
  } catch {
    return error;
  }
}

/** The first MessagePack value of `payload`, which must be all of it. */
function decodeFirstValue(payload: Uint8Array): unknown {
  firstValue = undefined;
  firstValueEnd = 0;
  try {
    // unpackMultiple stops after the first value and reports where it ended; plain unpack() would
    // describe trailing bytes by JSON-stringifying the whole (attacker-sized) value first.
    unpackr.unpackMultiple(payload, takeFirstValue);
  } catch (error) {
    throw new WireError(
      'malformed',
      `payload is not MessagePack: ${String((error as Error).message).slice(0, 200)}`,
    );
  }
  const parsed = firstValue;
  firstValue = undefined;
  if (firstValueEnd !== payload.byteLength) {
    // The message itself decoded: its refusal names the request it carries, as any other refusal does.
    throw refusalFor(
      parsed,
      new WireError(
        'malformed',
        `${payload.byteLength - firstValueEnd} bytes follow the MessagePack message`,
      ),
    );
  }
  return parsed;
}

// Module-level rather than a closure per call: decoding is synchronous, so one slot is enough.
let firstValue: unknown;
let firstValueEnd = 0;
function takeFirstValue(value: unknown, _start?: number, end?: number): boolean {
  firstValue = value;
  firstValueEnd = end ?? 0;
  return false;
}
