/**
 * Cache requests and answers in MessagePack (flag 0x40), read and written by hand on the hot path.
 *
 * A cache round is a few hundred bytes per request, so the generic codec (msgpackr into an object, then
 * schema validation into another) was a third of the broker's and the client's work per request. The
 * readers here accept exactly the frames the generic codec accepts with the same meaning, and only
 * those they can read without doubt (ASCII text, known fields, each once); for anything else they
 * return false and the caller decodes with the generic codec, which also words the errors. The writers
 * produce the bytes the generic codec would (test/wire/cache-frames.test.ts compares them).
 */
import { FLAG_MSGPACK } from './flags.js';
import { HEADER_BYTES, writeFrameHeader } from './frame.js';
import type { MessageOf } from './messages.js';
import {
  MsgpackCursor,
  NIL,
  TextMemo,
  binHeaderBytes,
  encodedString,
  strBytes,
  uintBytes,
  writeBinHeader,
  writeStr,
  writeUint,
} from './msgpack-bytes.js';

export type CacheRequestMessage = MessageOf<'cache_put'> | MessageOf<'cache_get'> | MessageOf<'cache_delete'>;

/**
 * One reusable request, filled by readCacheRequest: valid until the next read. `value` is a view into
 * the frame (put only); `ttl_ms` is meaningful for a put only.
 */
export interface CacheRequestSlot {
  type: 'cache_put' | 'cache_get' | 'cache_delete';
  tenant_id: string;
  namespace: string;
  cache: string;
  key: string;
  value: Uint8Array;
  request_id: number | undefined;
  ttl_ms: number | null;
}

export function newCacheRequestSlot(): CacheRequestSlot {
  return {
    type: 'cache_get',
    tenant_id: '',
    namespace: '',
    cache: '',
    key: '',
    value: EMPTY,
    request_id: undefined,
    ttl_ms: null,
  };
}

/** The answer the client needs from cache_value / cache_ok: filled by readCacheAnswer. */
export interface CacheAnswerSlot {
  type: 'cache_value' | 'cache_ok';
  request_id: number;
  /** cache_value's value as a view into the frame, or null (no entry). */
  value: Uint8Array | null;
}

export function newCacheAnswerSlot(): CacheAnswerSlot {
  return { type: 'cache_ok', request_id: 0, value: null };
}

const EMPTY = Buffer.alloc(0);
const cursor = new MsgpackCursor();
// The address a client repeats in every request: decoded once while it stays the same.
const tenantMemo = new TextMemo();
const namespaceMemo = new TextMemo();
const cacheMemo = new TextMemo();

const name = (text: string): Buffer => Buffer.from(text, 'latin1');
const N_TYPE = name('type');
const N_TENANT = name('tenant_id');
const N_NAMESPACE = name('namespace');
const N_CACHE = name('cache');
const N_KEY = name('key');
const N_VALUE = name('value');
const N_REQUEST_ID = name('request_id');
const N_TTL = name('ttl_ms');
const T_PUT = name('cache_put');
const T_GET = name('cache_get');
const T_DELETE = name('cache_delete');
const T_VALUE = name('cache_value');
const T_OK = name('cache_ok');

// Fields seen, as bits: each may appear once.
const F_TENANT = 1;
const F_NAMESPACE = 2;
const F_CACHE = 4;
const F_KEY = 8;
const F_VALUE = 16;
const F_REQUEST_ID = 32;
const F_TTL = 64;
const F_ADDRESS = F_TENANT | F_NAMESPACE | F_CACHE | F_KEY;

/**
 * Reads a cache_put / cache_get / cache_delete payload into `out`; false when the payload is anything
 * else or not in a form read here (the generic codec then decides).
 */
export function readCacheRequest(payload: Uint8Array, out: CacheRequestSlot): boolean {
  if (!(payload instanceof Buffer)) return false;
  const c = cursor;
  c.reset(payload, 0, payload.length);
  const entries = c.mapLength();
  if (entries < 1 || !c.asciiStr() || !c.is(N_TYPE) || !c.asciiStr()) return false;
  let put = false;
  if (c.is(T_GET)) out.type = 'cache_get';
  else if (c.is(T_PUT)) {
    out.type = 'cache_put';
    put = true;
  } else if (c.is(T_DELETE)) out.type = 'cache_delete';
  else return false;
  out.request_id = undefined;
  out.ttl_ms = null;
  let seen = 0;
  for (let i = 1; i < entries; i++) {
    if (!c.asciiStr()) return false;
    let field: number;
    if (c.is(N_KEY)) field = F_KEY;
    else if (c.is(N_REQUEST_ID)) field = F_REQUEST_ID;
    else if (c.is(N_VALUE)) field = F_VALUE;
    else if (c.is(N_TENANT)) field = F_TENANT;
    else if (c.is(N_NAMESPACE)) field = F_NAMESPACE;
    else if (c.is(N_CACHE)) field = F_CACHE;
    else if (c.is(N_TTL)) field = F_TTL;
    else return false;
    if ((seen & field) !== 0) return false;
    seen |= field;
    switch (field) {
      case F_KEY:
        if (!c.asciiStr()) return false;
        out.key = c.text();
        break;
      case F_TENANT:
        if (!c.asciiStr()) return false;
        out.tenant_id = c.memoText(tenantMemo);
        break;
      case F_NAMESPACE:
        if (!c.asciiStr()) return false;
        out.namespace = c.memoText(namespaceMemo);
        break;
      case F_CACHE:
        if (!c.asciiStr()) return false;
        out.cache = c.memoText(cacheMemo);
        break;
      case F_REQUEST_ID:
        if (!c.nil()) {
          const id = c.uint();
          if (id < 0) return false;
          out.request_id = id;
        }
        break;
      case F_VALUE:
        if (!put || !c.bin()) return false;
        out.value = payload.subarray(c.start, c.stop);
        break;
      case F_TTL:
        if (!put) return false;
        if (!c.nil()) {
          const ttl = c.uint();
          if (ttl < 1) return false; // refused by the generic codec, with the range that holds
          out.ttl_ms = ttl;
        }
        break;
    }
  }
  if ((seen & F_ADDRESS) !== F_ADDRESS || (put && (seen & F_VALUE) === 0)) return false;
  // Trailing bytes after the map: the generic codec refuses the frame.
  return c.at === payload.length;
}

/**
 * Reads a cache_value or cache_ok answer carrying a request_id into `out`; false for anything else (an
 * error, an answer without request_id, a form not read here).
 */
export function readCacheAnswer(payload: Uint8Array, out: CacheAnswerSlot): boolean {
  if (!(payload instanceof Buffer)) return false;
  const c = cursor;
  c.reset(payload, 0, payload.length);
  const entries = c.mapLength();
  if (entries < 1 || !c.asciiStr() || !c.is(N_TYPE) || !c.asciiStr()) return false;
  const isValue = c.is(T_VALUE);
  if (!isValue && !c.is(T_OK)) return false;
  out.type = isValue ? 'cache_value' : 'cache_ok';
  out.value = null;
  let seen = 0;
  for (let i = 1; i < entries; i++) {
    if (!c.asciiStr()) return false;
    let field: number;
    if (c.is(N_REQUEST_ID)) field = F_REQUEST_ID;
    else if (!isValue) return false;
    else if (c.is(N_VALUE)) field = F_VALUE;
    else if (c.is(N_KEY)) field = F_KEY;
    else if (c.is(N_TENANT)) field = F_TENANT;
    else if (c.is(N_NAMESPACE)) field = F_NAMESPACE;
    else if (c.is(N_CACHE)) field = F_CACHE;
    else return false;
    if ((seen & field) !== 0) return false;
    seen |= field;
    if (field === F_REQUEST_ID) {
      const id = c.uint();
      if (id < 0) return false;
      out.request_id = id;
    } else if (field === F_VALUE) {
      if (!c.nil()) {
        if (!c.bin()) return false;
        out.value = payload.subarray(c.start, c.stop);
      }
    } else if (!c.asciiStr()) {
      // The address fields are not used here, but the generic codec would check they are strings.
      return false;
    }
  }
  if ((seen & F_REQUEST_ID) === 0 || (isValue && (seen & F_ADDRESS) !== F_ADDRESS)) return false;
  return c.at === payload.length;
}

// --- answers, written into a caller's buffer --------------------------------------------------------

const K_TYPE = encodedString('type');
const K_TENANT = encodedString('tenant_id');
const K_NAMESPACE = encodedString('namespace');
const K_CACHE = encodedString('cache');
const K_KEY = encodedString('key');
const K_VALUE = encodedString('value');
const K_REQUEST_ID = encodedString('request_id');
const V_CACHE_VALUE = encodedString('cache_value');
const OK_PREFIX = Buffer.concat([Buffer.of(0x82), K_TYPE, encodedString('cache_ok'), K_REQUEST_ID]);

/** Frame bytes (header included) of cache_ok for `requestId`. */
export function cacheOkFrameBytes(requestId: number): number {
  return HEADER_BYTES + OK_PREFIX.length + uintBytes(requestId);
}

/** Writes a cache_ok frame at `at`; returns where the next frame goes. */
export function writeCacheOkFrame(out: Buffer, at: number, requestId: number): number {
  const payloadBytes = OK_PREFIX.length + uintBytes(requestId);
  writeFrameHeader(out, at, FLAG_MSGPACK, payloadBytes);
  out.set(OK_PREFIX, at + HEADER_BYTES);
  return writeUint(out, at + HEADER_BYTES + OK_PREFIX.length, requestId);
}

/** UTF-8 lengths of a request's address strings, measured once for sizing and writing. */
export interface AddressLengths {
  tenant: number;
  namespace: number;
  cache: number;
  key: number;
}

export function measureAddress(request: CacheRequestMessage, into: AddressLengths): void {
  into.tenant = Buffer.byteLength(request.tenant_id, 'utf8');
  into.namespace = Buffer.byteLength(request.namespace, 'utf8');
  into.cache = Buffer.byteLength(request.cache, 'utf8');
  into.key = Buffer.byteLength(request.key, 'utf8');
}

function cacheValuePayloadBytes(
  lengths: AddressLengths,
  value: Uint8Array | null,
  requestId: number | undefined,
): number {
  return (
    1 +
    K_TYPE.length +
    V_CACHE_VALUE.length +
    K_TENANT.length +
    strBytes(lengths.tenant) +
    K_NAMESPACE.length +
    strBytes(lengths.namespace) +
    K_CACHE.length +
    strBytes(lengths.cache) +
    K_KEY.length +
    strBytes(lengths.key) +
    K_VALUE.length +
    (value === null ? 1 : binHeaderBytes(value.length) + value.length) +
    (requestId === undefined ? 0 : K_REQUEST_ID.length + uintBytes(requestId))
  );
}

/** Frame bytes (header included) of the cache_value answering `request`. */
export function cacheValueFrameBytes(
  lengths: AddressLengths,
  value: Uint8Array | null,
  requestId: number | undefined,
): number {
  return HEADER_BYTES + cacheValuePayloadBytes(lengths, value, requestId);
}

/**
 * Writes the cache_value answering `request` (same address, `value` or nil, its request_id) at `at`;
 * returns where the next frame goes. `lengths` from measureAddress(request).
 */
export function writeCacheValueFrame(
  out: Buffer,
  at: number,
  request: CacheRequestMessage,
  lengths: AddressLengths,
  value: Uint8Array | null,
): number {
  const requestId = request.request_id;
  writeFrameHeader(out, at, FLAG_MSGPACK, cacheValuePayloadBytes(lengths, value, requestId));
  at += HEADER_BYTES;
  out[at++] = 0x80 | (requestId === undefined ? 6 : 7);
  at = copy(out, at, K_TYPE);
  at = copy(out, at, V_CACHE_VALUE);
  at = copy(out, at, K_TENANT);
  at = writeStr(out, at, request.tenant_id, lengths.tenant);
  at = copy(out, at, K_NAMESPACE);
  at = writeStr(out, at, request.namespace, lengths.namespace);
  at = copy(out, at, K_CACHE);
  at = writeStr(out, at, request.cache, lengths.cache);
  at = copy(out, at, K_KEY);
  at = writeStr(out, at, request.key, lengths.key);
  at = copy(out, at, K_VALUE);
  if (value === null) out[at++] = NIL;
  else {
    at = writeBinHeader(out, at, value.length);
    out.set(value, at);
    at += value.length;
  }
  if (requestId === undefined) return at;
  at = copy(out, at, K_REQUEST_ID);
  return writeUint(out, at, requestId);
}

function copy(out: Buffer, at: number, bytes: Buffer): number {
  out.set(bytes, at);
  return at + bytes.length;
}
