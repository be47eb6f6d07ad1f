/**
 * Cache request frames, encoded once, straight into the buffer that is sent. With MessagePack (flag 0x40)
 * the frame is written by hand: the part every request to one cache shares (type, tenant, namespace,
 * cache, the "key" field name) is encoded once per cache and copied in, then the key, the value as raw
 * bytes, the request id and the TTL follow. The bytes are exactly what encodeMessage would produce (the
 * tests compare them), without the intermediate object, the msgpackr pass and the copy into a frame.
 * Towards a JSON-only broker the generic codec is used: that path is for compatibility, not speed.
 */
import { FLAG_MSGPACK, HEADER_BYTES, allocateFrame, encodeMessage } from '../wire/index.js';

export type CacheOp = 'cache_put' | 'cache_get' | 'cache_delete';

/** One cache a client talks to: its names, and its MessagePack prefixes, built on first use. */
export class CacheTarget {
  /** "tenant/namespace/cache", for errors. */
  readonly path: string;
  private putPrefix: Buffer | null = null;
  private getPrefix: Buffer | null = null;
  private deletePrefix: Buffer | null = null;

  constructor(
    readonly tenant: string,
    readonly namespace: string,
    readonly cache: string,
  ) {
    this.path = `${tenant}/${namespace}/${cache}`;
  }

  /** Everything of a MessagePack request of type `op` up to the key's value. */
  prefix(op: CacheOp): Buffer {
    switch (op) {
      case 'cache_put':
        return (this.putPrefix ??= encodePrefix(op, PUT_FIELDS, this));
      case 'cache_get':
        return (this.getPrefix ??= encodePrefix(op, GET_FIELDS, this));
      case 'cache_delete':
        return (this.deletePrefix ??= encodePrefix(op, GET_FIELDS, this));
    }
  }
}

// Map sizes: type, tenant_id, namespace, cache, key, then value, request_id, ttl_ms for a put.
const PUT_FIELDS = 8;
const GET_FIELDS = 6;

/** A cache_put frame. `ttlMs` null means no expiry. */
export function encodeCachePut(
  target: CacheTarget,
  key: string,
  value: Uint8Array,
  requestId: number,
  ttlMs: number | null,
  msgpack: boolean,
): Buffer {
  if (!msgpack) {
    return encodeMessage({
      type: 'cache_put',
      tenant_id: target.tenant,
      namespace: target.namespace,
      cache: target.cache,
      key,
      value,
      request_id: requestId,
      ttl_ms: ttlMs,
    });
  }
  const prefix = target.prefix('cache_put');
  const keyBytes = Buffer.byteLength(key, 'utf8');
  const valueBytes = value.byteLength;
  const length =
    prefix.length +
    strHeaderBytes(keyBytes) +
    keyBytes +
    VALUE_NAME.length +
    binHeaderBytes(valueBytes) +
    valueBytes +
    REQUEST_ID_NAME.length +
    uintBytes(requestId) +
    TTL_NAME.length +
    (ttlMs === null ? 1 : uintBytes(ttlMs));
  const frame = allocateFrame(FLAG_MSGPACK, length);
  let at = writeKey(frame, prefix, key, keyBytes);
  frame.set(VALUE_NAME, at);
  at = writeBinHeader(frame, at + VALUE_NAME.length, valueBytes);
  frame.set(value, at);
  at += valueBytes;
  frame.set(REQUEST_ID_NAME, at);
  at = writeUint(frame, at + REQUEST_ID_NAME.length, requestId);
  frame.set(TTL_NAME, at);
  at += TTL_NAME.length;
  if (ttlMs === null) frame[at] = NIL;
  else writeUint(frame, at, ttlMs);
  return frame;
}

/** A cache_get or cache_delete frame. */
export function encodeCacheLookup(
  op: 'cache_get' | 'cache_delete',
  target: CacheTarget,
  key: string,
  requestId: number,
  msgpack: boolean,
): Buffer {
  if (!msgpack) {
    return encodeMessage({
      type: op,
      tenant_id: target.tenant,
      namespace: target.namespace,
      cache: target.cache,
      key,
      request_id: requestId,
    });
  }
  const prefix = target.prefix(op);
  const keyBytes = Buffer.byteLength(key, 'utf8');
  const length =
    prefix.length + strHeaderBytes(keyBytes) + keyBytes + REQUEST_ID_NAME.length + uintBytes(requestId);
  const frame = allocateFrame(FLAG_MSGPACK, length);
  const at = writeKey(frame, prefix, key, keyBytes);
  frame.set(REQUEST_ID_NAME, at);
  writeUint(frame, at + REQUEST_ID_NAME.length, requestId);
  return frame;
}

// --- MessagePack, the few forms these frames use -------------------------------------------------

// str and bin share one layout: a short form, then 8-, 16- and 32-bit lengths after a type byte.
const STR = { fixed: 0xa0, fixedBelow: 32, u8: 0xd9, u16: 0xda, u32: 0xdb } as const;
const BIN = { fixed: 0, fixedBelow: 0, u8: 0xc4, u16: 0xc5, u32: 0xc6 } as const;
type SizedForm = typeof STR | typeof BIN;

const NIL = 0xc0;
const TWO_POW_32 = 0x1_0000_0000;

function fieldName(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  const out = Buffer.allocUnsafe(strHeaderBytes(bytes.length) + bytes.length);
  bytes.copy(out, writeStrHeader(out, 0, bytes.length));
  return out;
}

const VALUE_NAME = fieldName('value');
const REQUEST_ID_NAME = fieldName('request_id');
const TTL_NAME = fieldName('ttl_ms');

function encodePrefix(op: CacheOp, fields: number, target: CacheTarget): Buffer {
  const parts = [
    Buffer.of(0x80 | fields),
    fieldName('type'),
    fieldName(op),
    fieldName('tenant_id'),
    fieldName(target.tenant),
    fieldName('namespace'),
    fieldName(target.namespace),
    fieldName('cache'),
    fieldName(target.cache),
    fieldName('key'),
  ];
  return Buffer.concat(parts);
}

/** Copies the prefix after the frame header and writes the key string; returns where the next field goes. */
function writeKey(frame: Buffer, prefix: Buffer, key: string, keyBytes: number): number {
  frame.set(prefix, HEADER_BYTES);
  const at = writeStrHeader(frame, HEADER_BYTES + prefix.length, keyBytes);
  return at + frame.write(key, at, keyBytes, 'utf8');
}

function sizedHeaderBytes(form: SizedForm, length: number): number {
  return length < form.fixedBelow ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function writeSizedHeader(form: SizedForm, out: Buffer, at: number, length: number): number {
  if (length < form.fixedBelow) {
    out[at] = form.fixed | length;
    return at + 1;
  }
  if (length < 0x100) {
    out[at] = form.u8;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = form.u16;
    out.writeUInt16BE(length, at + 1);
    return at + 3;
  }
  out[at] = form.u32;
  out.writeUInt32BE(length, at + 1);
  return at + 5;
}

function strHeaderBytes(length: number): number {
  return sizedHeaderBytes(STR, length);
}

function writeStrHeader(out: Buffer, at: number, length: number): number {
  return writeSizedHeader(STR, out, at, length);
}

function binHeaderBytes(length: number): number {
  return sizedHeaderBytes(BIN, length);
}

function writeBinHeader(out: Buffer, at: number, length: number): number {
  return writeSizedHeader(BIN, out, at, length);
}

function uintBytes(value: number): number {
  return value < 0x80 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < TWO_POW_32 ? 5 : 9;
}

/** A non-negative safe integer in its shortest MessagePack form; returns where the next field goes. */
function writeUint(out: Buffer, at: number, value: number): number {
  if (value < 0x80) {
    out[at] = value;
    return at + 1;
  }
  if (value < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = value;
    return at + 2;
  }
  if (value < 0x10000) {
    out[at] = 0xcd;
    out.writeUInt16BE(value, at + 1);
    return at + 3;
  }
  if (value < TWO_POW_32) {
    out[at] = 0xce;
    out.writeUInt32BE(value, at + 1);
    return at + 5;
  }
  // int64, as msgpackr writes the bigint the wire codec makes of a u64 above u32 (same value to any reader).
  out[at] = 0xd3;
  out.writeUInt32BE(Math.floor(value / TWO_POW_32), at + 1);
  out.writeUInt32BE(value >>> 0, at + 5);
  return at + 9;
}
