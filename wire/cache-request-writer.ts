/**
 * Cache request frames as a client writes them, encoded once, straight into the buffer that is sent. With MessagePack (flag 0x40)
 * the frame is written by hand: the part every request to one cache shares (type, tenant, namespace,
 * cache, the "key" field name) is encoded once per cache and copied in, then the key, the value as raw
 * bytes, the request id and the TTL follow. The bytes are exactly what encodeMessage would produce (the
 * tests compare them), without the intermediate object, the msgpackr pass and the copy into a frame.
 * Towards a JSON-only broker the generic codec is used: that path is for compatibility, not speed.
 */
import { encodeMessage } from './codec.js';
import { FLAG_MSGPACK } from './flags.js';
import { HEADER_BYTES, allocateFrame, type FrameAllocator } from './frame.js';
import {
  NIL,
  binHeaderBytes,
  encodedString,
  strBytes,
  uintBytes,
  writeBinHeader,
  writeStr,
  writeUint,
} from './msgpack-bytes.js';

export type CacheOp = 'cache_put' | 'cache_get' | 'cache_delete';

/** One cache a client talks to: its names, and its MessagePack prefixes, built on first use. */
export class CacheTarget {
  private putPrefix: Buffer | null = null;
  private getPrefix: Buffer | null = null;
  private deletePrefix: Buffer | null = null;

  constructor(
    readonly tenant: string,
    readonly namespace: string,
    readonly cache: string,
  ) {}

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

/** A cache_put frame, in a buffer from `allocate`. `ttlMs` null means no expiry. */
export function encodeCachePut(
  target: CacheTarget,
  key: string,
  value: Uint8Array,
  requestId: number,
  ttlMs: number | null,
  msgpack: boolean,
  allocate: FrameAllocator = allocateFrame,
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
    strBytes(keyBytes) +
    VALUE_NAME.length +
    binHeaderBytes(valueBytes) +
    valueBytes +
    REQUEST_ID_NAME.length +
    uintBytes(requestId) +
    TTL_NAME.length +
    (ttlMs === null ? 1 : uintBytes(ttlMs));
  const frame = allocate(FLAG_MSGPACK, length);
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
  const length = prefix.length + strBytes(keyBytes) + REQUEST_ID_NAME.length + uintBytes(requestId);
  const frame = allocateFrame(FLAG_MSGPACK, length);
  const at = writeKey(frame, prefix, key, keyBytes);
  frame.set(REQUEST_ID_NAME, at);
  writeUint(frame, at + REQUEST_ID_NAME.length, requestId);
  return frame;
}

// --- MessagePack --------------------------------------------------------------------------------

const VALUE_NAME = encodedString('value');
const REQUEST_ID_NAME = encodedString('request_id');
const TTL_NAME = encodedString('ttl_ms');

function encodePrefix(op: CacheOp, fields: number, target: CacheTarget): Buffer {
  const parts = [
    Buffer.of(0x80 | fields),
    encodedString('type'),
    encodedString(op),
    encodedString('tenant_id'),
    encodedString(target.tenant),
    encodedString('namespace'),
    encodedString(target.namespace),
    encodedString('cache'),
    encodedString(target.cache),
    encodedString('key'),
  ];
  return Buffer.concat(parts);
}

/** Copies the prefix after the frame header and writes the key string; returns where the next field goes. */
function writeKey(frame: Buffer, prefix: Buffer, key: string, keyBytes: number): number {
  frame.set(prefix, HEADER_BYTES);
  return writeStr(frame, HEADER_BYTES + prefix.length, key, keyBytes);
}
