/**
 * Builders for frames a well-behaved client never sends: raw headers with any magic, version, flags and
 * length; JSON text that is not valid JSON; binary publish batches whose counts and lengths lie;
 * MessagePack whose headers promise more than follows. Shared by the hostile-input tests and the
 * frame-attacker program, so both speak exactly the same broken dialect. Uses wire/ only.
 */
import {
  FEATURE_ERROR_CODES,
  FELIX_FLAGS,
  FLAG_BINARY_PUBLISH_ACKED,
  FLAG_BINARY_PUBLISH_BATCH,
  HEADER_BYTES,
  MAGIC,
  VERSION,
  encodeMessage,
  type Message,
} from '../../wire/index.js';

/** The auth every hostile client sends unless told otherwise: JSON replies, error codes on errors. */
export const DEFAULT_AUTH = {
  type: 'auth',
  tenant_id: 't1',
  token: 'hostile',
  client_flags: FELIX_FLAGS,
  client_features: FEATURE_ERROR_CODES,
} as const;

export interface HeaderFields {
  magic?: number;
  version?: number;
  flags?: number;
  /** The payload length the header declares, whatever actually follows. */
  length: number;
}

/** A 12-byte frame header with any field, valid or not. */
export function rawHeader({ magic = MAGIC, version = VERSION, flags = 0, length }: HeaderFields): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(magic >>> 0, 0);
  header.writeUInt16BE(version & 0xffff, 4);
  header.writeUInt16BE(flags & 0xffff, 6);
  header.writeUInt32BE(length >>> 0, 8);
  return header;
}

/** A correctly framed payload under any flags. */
export function frameOf(flags: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([rawHeader({ flags, length: body.byteLength }), body]);
}

/** A JSON frame (flags 0) holding exactly `text`, valid JSON or not. */
export function jsonText(text: string): Buffer {
  return frameOf(0, text);
}

/** A JSON frame (flags 0) holding any value: not necessarily an object, not necessarily a message. */
export function jsonValue(value: unknown): Buffer {
  return frameOf(0, JSON.stringify(value));
}

/** A well-formed message, JSON unless `msgpack`. */
export function message(m: Record<string, unknown>, msgpack = false): Buffer {
  return encodeMessage(m as unknown as Message, { msgpack });
}

/** A MessagePack frame (flags 0x40) holding exactly `bytes`. */
export function msgpackBytes(bytes: Uint8Array | readonly number[]): Buffer {
  return frameOf(0x40, Uint8Array.from(bytes));
}

/** A stream address in the hostile tests' namespace. */
export function address(stream = 'hostile-inputs', tenant = 't1'): Record<string, string> {
  return { tenant_id: tenant, namespace: 'hostile', stream };
}

/** A valid acked JSON publish. */
export function ackedPublish(requestId: number, payload = 'ok', stream = 'hostile-inputs'): Buffer {
  return message({
    type: 'publish',
    ...address(stream),
    payload: Buffer.from(payload),
    request_id: requestId,
    ack: 'per_message',
  });
}

export interface BinaryBatchSpec {
  /** Present: an acked batch (flags 0x09) with this u64 request id (a bigint may exceed 2^53). */
  requestId?: number | bigint;
  /** The ack byte of an acked batch: 1 per_message, 2 per_batch, anything else is invalid. */
  ackByte?: number;
  tenant?: string;
  namespace?: string;
  stream?: string;
  payloads?: readonly Uint8Array[];
  /** Overrides the payload count written (a count bomb), whatever payloads follow. */
  count?: number;
  /** Overrides the u16 length written before the stream name, whatever name bytes follow. */
  streamNameLength?: number;
  /** Overrides the u32 length written before the first payload, whatever payload bytes follow. */
  firstPayloadLength?: number;
  /** Bytes appended after the batch's last field. */
  trailing?: Uint8Array;
  /** Cuts the payload to this many bytes (the header declares the cut length). */
  truncateTo?: number;
  /** Extra flag bits (e.g. 0x80 TIMINGS) on top of 0x01 / 0x09. */
  extraFlags?: number;
}

/** A binary publish batch (flags 0x01, or 0x09 with a request id) in which any count or length may lie. */
export function binaryBatch(spec: BinaryBatchSpec = {}): Buffer {
  const parts: Buffer[] = [];
  const acked = spec.requestId !== undefined;
  if (acked) {
    const prefix = Buffer.alloc(9);
    prefix.writeBigUInt64BE(BigInt(spec.requestId!), 0);
    prefix[8] = spec.ackByte ?? 1;
    parts.push(prefix);
  }
  parts.push(shortString(spec.tenant ?? 't1'));
  parts.push(shortString(spec.namespace ?? 'hostile'));
  parts.push(shortString(spec.stream ?? 'hostile-inputs', spec.streamNameLength));
  const payloads = spec.payloads ?? [Buffer.from('x')];
  parts.push(u32(spec.count ?? payloads.length));
  payloads.forEach((p, i) => {
    parts.push(
      u32(i === 0 && spec.firstPayloadLength !== undefined ? spec.firstPayloadLength : p.byteLength),
    );
    parts.push(Buffer.from(p));
  });
  if (spec.trailing !== undefined) parts.push(Buffer.from(spec.trailing));
  let body = Buffer.concat(parts);
  if (spec.truncateTo !== undefined) body = body.subarray(0, spec.truncateTo);
  const flags =
    (acked ? FLAG_BINARY_PUBLISH_BATCH | FLAG_BINARY_PUBLISH_ACKED : FLAG_BINARY_PUBLISH_BATCH) |
    (spec.extraFlags ?? 0);
  return frameOf(flags, body);
}

/** A u16-length-prefixed UTF-8 string; `declaredLength` makes the prefix lie. */
function shortString(text: string, declaredLength?: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(declaredLength ?? bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

// --- MessagePack pieces, written by hand so a header can promise anything -------------------------

/** A MessagePack str (shortest form). */
export function mpStr(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < 32) return Buffer.concat([Buffer.of(0xa0 | bytes.length), bytes]);
  if (bytes.length < 0x100) return Buffer.concat([Buffer.of(0xd9, bytes.length), bytes]);
  const header = Buffer.alloc(5);
  header[0] = 0xdb;
  header.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([header, bytes]);
}

/** A str32 header declaring `length` bytes, none of which follow. */
export function mpStr32Header(length: number): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0xdb;
  header.writeUInt32BE(length >>> 0, 1);
  return header;
}

/** A map header (fixmap below 16 entries, map32 otherwise, so any count can be declared). */
export function mpMapHeader(entries: number): Buffer {
  if (entries < 16) return Buffer.of(0x80 | entries);
  const header = Buffer.alloc(5);
  header[0] = 0xdf;
  header.writeUInt32BE(entries >>> 0, 1);
  return header;
}

/** An array32 header declaring `items` entries. */
export function mpArray32Header(items: number): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0xdd;
  header.writeUInt32BE(items >>> 0, 1);
  return header;
}

/** A uint64 (0xcf) holding any 64-bit value. */
export function mpUint64(value: bigint): Buffer {
  const out = Buffer.alloc(9);
  out[0] = 0xcf;
  out.writeBigUInt64BE(value, 1);
  return out;
}

/** `depth` nested one-element arrays around a nil: a stack bomb for recursive decoders. */
export function mpDeepArray(depth: number): Buffer {
  const out = Buffer.alloc(depth + 1, 0x91);
  out[depth] = 0xc0;
  return out;
}

/** `depth` nested JSON arrays: `[[[…]]]`. */
export function jsonDeepArray(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}
